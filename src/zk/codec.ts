/**
 * Zero-knowledge encryption of Stash values, byte-compatible with the Go, Python, Java, Rust and
 * TypeScript clients: `$ZK$` + base64(salt || nonce || AES-256-GCM ciphertext || tag), with the
 * key derived from the passphrase by Argon2id.
 *
 * Unlike those clients, a codec derives a key once per salt, not once per value: it writes every
 * value under one random salt of its own (a fresh nonce each time), and keeps the keys of the
 * salts it has read in a small LRU cache of non-extractable `CryptoKey`s.
 *
 * This module imports `hash-wasm` (through `kdf.ts`); the client loads it lazily, only when a
 * `zkKey` is set.
 *
 * @module
 */

import { DecryptionError, type StashErrorOptions } from "../errors.ts";
import { importKeyAndWipe, open, seal } from "./cipher.ts";
import {
  type EnvelopeDefect,
  formatEnvelope,
  isEnvelope,
  MIN_PAYLOAD_LENGTH,
  NONCE_LENGTH,
  parseEnvelope,
  SALT_LENGTH,
} from "./envelope.ts";
import { KeyCache } from "./key_cache.ts";
import { type Argon2Wasm, configureArgon2, deriveKeyBytes } from "./kdf.ts";
import { passphraseBytes } from "./passphrase.ts";

export { isEnvelope } from "./envelope.ts";
export { MIN_PASSPHRASE_BYTES } from "./passphrase.ts";
export { type Argon2Wasm, configureArgon2, deriveKeyBytes, type DeriveOptions } from "./kdf.ts";

/** Keys kept per codec unless `cacheSize` says otherwise. */
export const DEFAULT_CACHE_SIZE = 64;

/**
 * Values one write salt encrypts before the codec draws a new one: random 96-bit nonces stay
 * far below the 2^32 messages per key that NIST SP 800-38D allows.
 */
const MAX_WRITES_PER_SALT = 2 ** 31;

/** Options of {@link ZkCodec}. */
export interface ZkCodecOptions {
  /**
   * How many derived keys (one per salt) to keep; each costs one Argon2id derivation to
   * rebuild once dropped. The codec's own write key is kept apart and never dropped.
   * @default {64}
   */
  cacheSize?: number;
  /**
   * hash-wasm's Argon2 and BLAKE2b WebAssembly (modules or bytes), passed on to
   * {@link configureArgon2}, which applies process-wide.
   * @default {undefined} the modules of the installed hash-wasm, captured on first use
   */
  wasm?: Argon2Wasm;
}

/** What a decryption error should say about the call: copied onto the error. */
export interface ZkContext {
  /** The key of the value. */
  key?: string;
  /** The HTTP method of the call. */
  method?: string;
}

let secretsWipedImpl: (codec: ZkCodec) => boolean;

/**
 * Encrypts and decrypts values with one passphrase.
 *
 * @example
 * ```ts ignore
 * const codec = new ZkCodec("correct horse battery staple");
 * const stored = await codec.encrypt(new TextEncoder().encode("secret"));
 * const plain = await codec.decrypt(stored); // the same bytes back
 * codec.close();
 * ```
 */
export class ZkCodec {
  readonly #passphrase: Uint8Array<ArrayBuffer>;
  readonly #cache: KeyCache;
  readonly #lifetime = new AbortController();
  #writeSalt: Uint8Array<ArrayBuffer> = randomBytes(SALT_LENGTH);
  #writeKey: Promise<CryptoKey> | undefined;
  #writes = 0;

  static {
    secretsWipedImpl = (codec) => codec.#passphrase.every((byte) => byte === 0);
  }

  /**
   * Copies the passphrase (UTF-8 for a string); the caller's string or buffer is not kept.
   * Throws `RangeError` when it has fewer than 16 UTF-8 bytes, or `cacheSize` is not a
   * positive integer; `TypeError` for a passphrase of another type or an unusable `wasm`.
   */
  constructor(passphrase: string | Uint8Array, options: ZkCodecOptions = {}) {
    const cacheSize = options.cacheSize ?? DEFAULT_CACHE_SIZE;
    if (!Number.isInteger(cacheSize) || cacheSize < 1) {
      throw new RangeError(`cacheSize must be a positive integer, received ${cacheSize}`);
    }
    this.#passphrase = passphraseBytes(passphrase);
    try {
      if (options.wasm !== undefined) configureArgon2(options.wasm);
    } catch (error) {
      this.#passphrase.fill(0);
      throw error;
    }
    this.#cache = new KeyCache(cacheSize, (salt) => this.#derive(salt));
  }

  /** True once {@link ZkCodec.close} was called. */
  get closed(): boolean {
    return this.#lifetime.signal.aborted;
  }

  /**
   * Encrypts a value under the codec's write salt and a fresh random nonce.
   *
   * @returns the ASCII bytes of the envelope `$ZK$...`
   * @throws {DecryptionError} with reason `"closed"` after {@link ZkCodec.close}
   */
  async encrypt(plaintext: Uint8Array, context: ZkContext = {}): Promise<Uint8Array> {
    this.#assertOpen(context);
    if (this.#writes >= MAX_WRITES_PER_SALT) this.#rotateWriteSalt();
    this.#writes++;
    const salt = this.#writeSalt;
    const key = await this.#whileOpen(this.#writeKeyPromise(), context);
    const nonce = randomBytes(NONCE_LENGTH);
    const sealed = await seal(key, nonce, ownBuffer(plaintext));
    this.#assertOpen(context);
    return formatEnvelope(salt, nonce, sealed);
  }

  /**
   * Decrypts a value that {@link isEnvelope} recognises; returns any other value unchanged
   * (the same object).
   *
   * @throws {DecryptionError} `"base64"` for malformed base64, `"too-short"` for a payload under
   * 44 bytes, `"authentication"` for a wrong passphrase or altered data, `"closed"` after
   * {@link ZkCodec.close}. Messages never contain the value, the plaintext or the passphrase.
   */
  async decrypt(stored: Uint8Array, context: ZkContext = {}): Promise<Uint8Array> {
    this.#assertOpen(context);
    if (!isEnvelope(stored)) return stored;
    const parsed = parseEnvelope(stored);
    if (!parsed.ok) throw defectError(parsed.defect, parsed.decodedLength, context);
    const { salt, nonce, sealed } = parsed.parts;
    const key = await this.#whileOpen(this.#keyFor(salt), context);
    const plaintext = await open(key, nonce, sealed);
    if (this.closed) {
      plaintext?.fill(0);
      throw closedError(context);
    }
    if (!plaintext) {
      throw new DecryptionError(
        "authentication",
        `cannot decrypt${describe(context)}: wrong passphrase, or the value was altered`,
        errorOptions(context),
      );
    }
    return plaintext;
  }

  /**
   * Zeroes the passphrase, drops every derived key, and makes later (and pending) calls fail
   * with reason `"closed"`. Idempotent.
   */
  close(): void {
    if (this.closed) return;
    this.#passphrase.fill(0);
    this.#lifetime.abort(closedError({}));
    this.#cache.clear();
    this.#writeKey = undefined;
  }

  /** Same as {@link ZkCodec.close}. */
  [Symbol.dispose](): void {
    this.close();
  }

  #writeKeyPromise(): Promise<CryptoKey> {
    if (this.#writeKey) return this.#writeKey;
    const pending = this.#cache.get(this.#writeSalt);
    this.#writeKey = pending;
    pending.catch(() => {
      if (this.#writeKey === pending) this.#writeKey = undefined;
    });
    return pending;
  }

  #keyFor(salt: Uint8Array): Promise<CryptoKey> {
    if (this.#writeKey && sameBytes(salt, this.#writeSalt)) return this.#writeKey;
    return this.#cache.get(salt);
  }

  #rotateWriteSalt(): void {
    this.#writeSalt = randomBytes(SALT_LENGTH);
    this.#writeKey = undefined;
    this.#writes = 0;
  }

  async #derive(salt: Uint8Array<ArrayBuffer>): Promise<CryptoKey> {
    const signal = this.#lifetime.signal;
    const raw = await deriveKeyBytes(this.#passphrase, salt, { signal });
    if (signal.aborted) {
      raw.fill(0);
      throw signal.reason;
    }
    return await importKeyAndWipe(raw);
  }

  /** Awaits `pending`; a failure caused by closing becomes a closed error for this call. */
  async #whileOpen<T>(pending: Promise<T>, context: ZkContext): Promise<T> {
    try {
      const value = await pending;
      this.#assertOpen(context);
      return value;
    } catch (error) {
      if (this.closed) throw closedError(context);
      throw error;
    }
  }

  #assertOpen(context: ZkContext): void {
    if (this.closed) throw closedError(context);
  }
}

/**
 * For tests: true when every secret byte the codec holds (its passphrase copy) is zero.
 * Derived keys live only inside non-extractable `CryptoKey`s, and their raw bytes are zeroed
 * as soon as they are imported.
 */
export function secretsWiped(codec: ZkCodec): boolean {
  return secretsWipedImpl(codec);
}

/**
 * Encrypts with a given key, salt and nonce: deterministic, for known-answer tests and
 * benchmarks. Never reuse a nonce with the same key in real use.
 *
 * @param key a `CryptoKey` for AES-GCM, or the 32 raw key bytes (copied, not wiped)
 * @returns the ASCII bytes of the envelope
 */
export async function encryptWith(
  key: CryptoKey | Uint8Array,
  salt: Uint8Array,
  nonce: Uint8Array,
  plaintext: Uint8Array,
): Promise<Uint8Array> {
  if (salt.length !== SALT_LENGTH) throw new RangeError(`salt must be ${SALT_LENGTH} bytes`);
  if (nonce.length !== NONCE_LENGTH) throw new RangeError(`nonce must be ${NONCE_LENGTH} bytes`);
  const cryptoKey = key instanceof Uint8Array ? await importKeyAndWipe(key.slice()) : key;
  const sealed = await seal(cryptoKey, ownBuffer(nonce), ownBuffer(plaintext));
  return formatEnvelope(salt, nonce, sealed);
}

function defectError(
  defect: EnvelopeDefect,
  decodedLength: number | undefined,
  context: ZkContext,
): DecryptionError {
  const message = defect === "base64"
    ? `cannot decrypt${describe(context)}: the text after $ZK$ is not standard padded base64`
    : `cannot decrypt${describe(context)}: the payload has ${decodedLength} bytes, ` +
      `fewer than the ${MIN_PAYLOAD_LENGTH} of salt, nonce and tag`;
  return new DecryptionError(defect, message, errorOptions(context));
}

function closedError(context: ZkContext): DecryptionError {
  return new DecryptionError(
    "closed",
    "the zero-knowledge codec is closed: its passphrase and keys were wiped",
    errorOptions(context),
  );
}

function describe(context: ZkContext): string {
  return context.key === undefined ? " a zero-knowledge value" : ` the value of "${context.key}"`;
}

function errorOptions(context: ZkContext): StashErrorOptions {
  const options: StashErrorOptions = {};
  if (context.key !== undefined) options.key = context.key;
  if (context.method !== undefined) options.method = context.method;
  return options;
}

function randomBytes(length: number): Uint8Array<ArrayBuffer> {
  return crypto.getRandomValues(new Uint8Array(length));
}

/** The bytes as a view on a plain `ArrayBuffer`, as WebCrypto takes them (copied if not). */
function ownBuffer(bytes: Uint8Array): Uint8Array<ArrayBuffer> {
  return bytes.buffer instanceof ArrayBuffer
    ? bytes as Uint8Array<ArrayBuffer>
    : new Uint8Array(bytes) as Uint8Array<ArrayBuffer>;
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
