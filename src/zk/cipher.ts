/**
 * AES-256-GCM through WebCrypto: 96-bit nonce, 128-bit tag, no additional data.
 *
 * @module
 */

const AES_GCM = "AES-GCM";
const TAG_BITS = 128;

/** Bytes of an AES-256 key. */
export const KEY_LENGTH = 32;

/**
 * Imports 32 raw key bytes as a non-extractable AES-GCM `CryptoKey`, then zeroes `raw`
 * (WebCrypto keeps its own copy), whether the import succeeded or not.
 */
export async function importKeyAndWipe(raw: Uint8Array<ArrayBuffer>): Promise<CryptoKey> {
  try {
    if (raw.length !== KEY_LENGTH) throw new RangeError(`an AES-256 key has ${KEY_LENGTH} bytes`);
    return await crypto.subtle.importKey("raw", raw, AES_GCM, false, ["encrypt", "decrypt"]);
  } finally {
    raw.fill(0);
  }
}

/** Encrypts `plaintext`; returns ciphertext followed by the 16-byte tag. */
export async function seal(
  key: CryptoKey,
  nonce: Uint8Array<ArrayBuffer>,
  plaintext: Uint8Array<ArrayBuffer>,
): Promise<Uint8Array<ArrayBuffer>> {
  const out = await crypto.subtle.encrypt(
    { name: AES_GCM, iv: nonce, tagLength: TAG_BITS },
    key,
    plaintext,
  );
  return new Uint8Array(out);
}

/**
 * Decrypts ciphertext-and-tag.
 *
 * @returns the plaintext, or `undefined` when authentication fails (wrong key or altered data).
 */
export async function open(
  key: CryptoKey,
  nonce: Uint8Array<ArrayBuffer>,
  sealed: Uint8Array<ArrayBuffer>,
): Promise<Uint8Array<ArrayBuffer> | undefined> {
  try {
    const out = await crypto.subtle.decrypt(
      { name: AES_GCM, iv: nonce, tagLength: TAG_BITS },
      key,
      sealed,
    );
    return new Uint8Array(out);
  } catch {
    return undefined;
  }
}
