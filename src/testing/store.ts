/**
 * The embedded server's in-memory key-value store.
 *
 * @module
 */

import { type Format, isFormat } from "../format.ts";
import { isSecretKey, normalizeKey } from "../keys.ts";
import { isZkValue } from "./zk_check.ts";
import { createNanoClock, formatRfc3339Nano, type NanoClock, nanosToMillis } from "./time.ts";

/** What a write did to a key, as reported in subscription events. */
export type ChangeAction = "create" | "update" | "delete";

/** A change to the store, delivered to {@link MemoryStore.onChange} listeners. */
export interface StoreChange {
  /** The normalised key that changed. */
  readonly key: string;
  /** What happened to it. */
  readonly action: ChangeAction;
  /** When, in milliseconds since the Unix epoch (from the store's clock). */
  readonly time: number;
}

/** One list item, with the server's JSON field names and order. */
export interface ListItem {
  /** The normalised key. */
  key: string;
  /** Bytes of the stored value (for a ZK value, the length of its `$ZK$...` text). */
  size: number;
  /** The value's format. */
  format: Format;
  /** True when a segment of the key is exactly `secrets`. */
  secret: boolean;
  /** True when the value is longer than 4 bytes and starts with `$ZK$`. */
  zk_encrypted: boolean;
  /** Creation time, Go `RFC3339Nano` in UTC. */
  created_at: string;
  /** Last write time, Go `RFC3339Nano` in UTC; strictly increasing across writes. */
  updated_at: string;
}

/** A stored value with its metadata. */
export interface StoredEntry {
  /** The normalised key. */
  readonly key: string;
  /** A copy of the stored bytes. */
  readonly value: Uint8Array<ArrayBuffer>;
  /** The value's format. */
  readonly format: Format;
  /** Creation time, Go `RFC3339Nano` in UTC. */
  readonly createdAt: string;
  /** Last write time, Go `RFC3339Nano` in UTC. */
  readonly updatedAt: string;
}

/** Options of a {@link MemoryStore}. */
export interface MemoryStoreOptions {
  /**
   * The clock, in milliseconds since the Unix epoch. Timestamps get nanosecond precision from a
   * counter, so each write is strictly later than the one before.
   * @default Date.now
   */
  now?: () => number;
}

interface Entry {
  value: Uint8Array<ArrayBuffer>;
  format: Format;
  created: bigint;
  updated: bigint;
}

const utf8 = new TextEncoder();

/**
 * Keys and values in memory, as the real server keeps them in its database. Keys are
 * normalised like the server does (`normalizeKey`); values are kept byte for byte.
 * Every `set` and `delete` is reported to the {@link MemoryStore.onChange} listeners, which is
 * how the server's subscriptions see changes made over HTTP or directly through this object.
 */
export class MemoryStore {
  #entries = new Map<string, Entry>();
  #listeners = new Set<(change: StoreChange) => void>();
  #clock: NanoClock;

  /** Creates an empty store. */
  constructor(options: MemoryStoreOptions = {}) {
    const now = options.now ?? Date.now;
    if (typeof now !== "function") {
      throw new TypeError(`now must be a function, received ${typeof now}`);
    }
    this.#clock = createNanoClock(now);
  }

  /** How many keys are stored. */
  get size(): number {
    return this.#entries.size;
  }

  /** True when the (normalised) key is stored. */
  has(key: string): boolean {
    return this.#entries.has(checkedKey(key));
  }

  /** The entry for the (normalised) key, or `undefined`. */
  get(key: string): StoredEntry | undefined {
    const k = checkedKey(key);
    const entry = this.#entries.get(k);
    if (!entry) return undefined;
    return {
      key: k,
      value: entry.value.slice(),
      format: entry.format,
      createdAt: formatRfc3339Nano(entry.created),
      updatedAt: formatRfc3339Nano(entry.updated),
    };
  }

  /**
   * Creates or replaces a value and tells the listeners. A string is stored as UTF-8.
   * Returns `"create"` for a new key and `"update"` for an existing one.
   * Throws `TypeError` for an empty key or an unknown format.
   */
  set(key: string, value: string | Uint8Array, format: Format = "text"): "create" | "update" {
    const k = checkedKey(key);
    if (!isFormat(format)) throw new TypeError(`format must be a known format, received ${format}`);
    const bytes = typeof value === "string" ? utf8.encode(value) : value.slice();
    const now = this.#clock();
    const existing = this.#entries.get(k);
    // Delete first so the Map's order stays insertion order of the latest write.
    this.#entries.delete(k);
    this.#entries.set(k, {
      value: bytes,
      format,
      created: existing?.created ?? now,
      updated: now,
    });
    const action = existing ? "update" : "create";
    this.#emit({ key: k, action, time: nanosToMillis(now) });
    return action;
  }

  /** Deletes a key and tells the listeners. Returns false when it was not stored. */
  delete(key: string): boolean {
    const k = checkedKey(key);
    if (!this.#entries.delete(k)) return false;
    this.#emit({ key: k, action: "delete", time: nanosToMillis(this.#clock()) });
    return true;
  }

  /** Removes every key without telling the listeners (a reset between tests). */
  clear(): void {
    this.#entries.clear();
  }

  /** The stored keys, most recently written first. */
  keys(): string[] {
    return [...this.#entries.keys()].reverse();
  }

  /**
   * Metadata of the keys that start with the string `prefix` (no glob, no implied `/`),
   * sorted by `updated_at`, newest first.
   */
  list(prefix = ""): ListItem[] {
    const items: ListItem[] = [];
    for (const [key, entry] of this.#entries) {
      if (!key.startsWith(prefix)) continue;
      items.push({
        key,
        size: entry.value.length,
        format: entry.format,
        secret: isSecretKey(key),
        zk_encrypted: isZkValue(entry.value),
        created_at: formatRfc3339Nano(entry.created),
        updated_at: formatRfc3339Nano(entry.updated),
      });
    }
    // The map holds keys in order of their last write, which is the order of updated_at.
    return items.reverse();
  }

  /** Calls `listener` after every `set` and `delete`. Returns a function that unsubscribes. */
  onChange(listener: (change: StoreChange) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  #emit(change: StoreChange): void {
    for (const listener of [...this.#listeners]) listener(change);
  }
}

function checkedKey(key: string): string {
  if (typeof key !== "string") throw new TypeError(`key must be a string, received ${typeof key}`);
  const k = normalizeKey(key);
  if (k === "") throw new TypeError(`key must not be empty after normalisation, received "${key}"`);
  return k;
}
