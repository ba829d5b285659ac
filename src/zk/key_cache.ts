/**
 * A bounded least-recently-used map from salt to derived `CryptoKey`, with single flight:
 * callers asking for a salt whose key is still being derived share that one derivation.
 *
 * @module
 */

/** Derives the key of one salt. */
export type DeriveKey = (salt: Uint8Array<ArrayBuffer>) => Promise<CryptoKey>;

/** Salt → key promise, most recently used last. */
export class KeyCache {
  readonly #capacity: number;
  readonly #derive: DeriveKey;
  readonly #entries = new Map<string, Promise<CryptoKey>>();

  /** A cache holding at most `capacity` keys (pending derivations included). */
  constructor(capacity: number, derive: DeriveKey) {
    this.#capacity = capacity;
    this.#derive = derive;
  }

  /** How many keys (or pending derivations) are held. */
  get size(): number {
    return this.#entries.size;
  }

  /** True when the key of `salt` is held or being derived. */
  has(salt: Uint8Array): boolean {
    return this.#entries.has(saltId(salt));
  }

  /**
   * The key of `salt`: from the cache, from a derivation already under way, or from a new one.
   * A failed derivation is forgotten, so the next call tries again; the least recently used
   * key is dropped when the cache is full.
   */
  get(salt: Uint8Array): Promise<CryptoKey> {
    const id = saltId(salt);
    const held = this.#entries.get(id);
    if (held) {
      this.#entries.delete(id); // re-insert: now the most recently used
      this.#entries.set(id, held);
      return held;
    }
    const derived = this.#derive(salt.slice());
    this.#entries.set(id, derived);
    derived.catch(() => {
      if (this.#entries.get(id) === derived) this.#entries.delete(id);
    });
    while (this.#entries.size > this.#capacity) {
      const oldest = this.#entries.keys().next().value as string;
      this.#entries.delete(oldest);
    }
    return derived;
  }

  /** Drops every key. */
  clear(): void {
    this.#entries.clear();
  }
}

/** Salts are public (they travel in every envelope): their bytes as char codes make the key. */
function saltId(salt: Uint8Array): string {
  return String.fromCharCode(...salt);
}
