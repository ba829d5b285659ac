/**
 * The client's side of zero-knowledge mode: checks the passphrase at construction, and loads
 * the encryption code (and its Argon2id WebAssembly) only on first use, so a client without a
 * `zkKey` never pays for it.
 *
 * @module
 */

import { DecryptionError } from "./errors.ts";
import type { ZkWasmModules } from "./options.ts";
import { utf8 } from "./utf8.ts";
import type { ZkCodec } from "./zk/codec.ts";

/** Bytes a passphrase needs at least, counted in UTF-8 as the Go client does. */
export const MIN_PASSPHRASE_BYTES = 16;

const ENVELOPE_PREFIX = [0x24, 0x5a, 0x4b, 0x24]; // "$ZK$"

/** True when a stored value is a zero-knowledge envelope: `$ZK$` and more. */
export function looksEncrypted(stored: Uint8Array): boolean {
  return stored.length > ENVELOPE_PREFIX.length &&
    ENVELOPE_PREFIX.every((byte, index) => stored[index] === byte);
}

/** Encrypts and decrypts values for one client. */
export class ValueCipher {
  #passphrase: Uint8Array;
  #wasm: ZkWasmModules | undefined;
  #codec: Promise<ZkCodec> | undefined;
  #closed = false;

  /** Checks and copies the passphrase; the caller's string or buffer is not kept. */
  constructor(passphrase: string | Uint8Array, wasm?: ZkWasmModules) {
    const bytes = typeof passphrase === "string" ? utf8(passphrase) : passphrase.slice();
    if (bytes.length < MIN_PASSPHRASE_BYTES) {
      const length = bytes.length;
      bytes.fill(0);
      throw new RangeError(
        `zkKey must be at least ${MIN_PASSPHRASE_BYTES} UTF-8 bytes, received ${length}`,
      );
    }
    this.#passphrase = bytes;
    this.#wasm = wasm;
  }

  /** Encrypts a value into the ASCII bytes of its `$ZK$` envelope. */
  async encrypt(
    plaintext: Uint8Array,
    context: { method: string; key: string },
  ): Promise<Uint8Array> {
    const codec = await this.#load(context);
    return await codec.encrypt(plaintext, context);
  }

  /** Decrypts an envelope; any other stored value is returned unchanged. */
  async decrypt(stored: Uint8Array, context: { method: string; key: string }): Promise<Uint8Array> {
    if (!looksEncrypted(stored)) return stored;
    const codec = await this.#load(context);
    return await codec.decrypt(stored, context);
  }

  /** Wipes the passphrase and every derived key. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#passphrase.fill(0);
    this.#codec?.then((codec) => codec.close(), () => {});
  }

  #load(context: { method: string; key: string }): Promise<ZkCodec> {
    if (this.#closed) {
      return Promise.reject(
        new DecryptionError(
          "closed",
          "the client is closed: its encryption key was wiped",
          context,
        ),
      );
    }
    this.#codec ??= import("./zk/codec.ts").then(({ ZkCodec }) =>
      new ZkCodec(this.#passphrase, { wasm: this.#wasm })
    );
    return this.#codec;
  }
}
