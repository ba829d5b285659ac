/**
 * The passphrase rule shared by the client (checked at construction) and the codec.
 *
 * @module
 */

/** Bytes a passphrase needs at least, counted in UTF-8 as the Go client does. */
export const MIN_PASSPHRASE_BYTES = 16;

/**
 * A fresh copy of the passphrase as UTF-8 bytes, which its holder can wipe. Throws `TypeError`
 * for another type and `RangeError` for fewer than {@link MIN_PASSPHRASE_BYTES} bytes, naming
 * the length, never the content.
 */
export function passphraseBytes(passphrase: string | Uint8Array): Uint8Array<ArrayBuffer> {
  let bytes: Uint8Array<ArrayBuffer>;
  if (typeof passphrase === "string") bytes = new TextEncoder().encode(passphrase);
  else if (passphrase instanceof Uint8Array) bytes = new Uint8Array(passphrase);
  else {
    const what = passphrase === null ? "null" : typeof passphrase;
    throw new TypeError(`zkKey must be a string or a Uint8Array, received ${what}`);
  }
  if (bytes.length < MIN_PASSPHRASE_BYTES) {
    const length = bytes.length;
    bytes.fill(0);
    throw new RangeError(
      `zkKey must be at least ${MIN_PASSPHRASE_BYTES} UTF-8 bytes, received ${length}`,
    );
  }
  return bytes;
}
