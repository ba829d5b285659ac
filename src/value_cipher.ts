/**
 * The client's side of zero-knowledge mode: checks the passphrase at construction, and loads
 * the encryption code (and its Argon2id WebAssembly) only on first use, so a client without a
 * `zkKey` never pays for it.
 *
 * @module
 */

import { DecryptionError } from "./errors.ts";
import type { ZkWasmModules } from "./options.ts";
import { isEnvelope } from "./zk/marker.ts";
import { passphraseBytes } from "./zk/passphrase.ts";
import type { ZkCodec } from "./zk/codec.ts";

/** True when a stored value is a zero-knowledge envelope: `$ZK$` and more. */
export { isEnvelope as looksEncrypted } from "./zk/marker.ts";

/** Encrypts and decrypts values for one client. */
export class ValueCipher {
  #passphrase: Uint8Array;
  #wasm: ZkWasmModules | undefined;
  #codec: Promise<ZkCodec> | undefined;
  #closed = false;

  /** Checks and copies the passphrase; the caller's string or buffer is not kept. */
  constructor(passphrase: string | Uint8Array, wasm?: ZkWasmModules) {
    this.#passphrase = passphraseBytes(passphrase);
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
    if (!isEnvelope(stored)) return stored;
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
