/**
 * A live view of every key under a prefix that never misses a change: it follows change
 * events, and lists the keys again whenever the stream is known to be live after a
 * (re)connect and on an interval, turning whatever changed unseen into synthetic events.
 *
 * @module
 */

import "../dispose.ts";
import { NotFoundError, StashError } from "../errors.ts";
import type { KeyInfo } from "../key_info.ts";
import type { CallOptions } from "../options.ts";
import type {
  ChangeAction,
  SubscribeOptions,
  Subscription,
  SubscriptionState,
} from "./subscription.ts";

/** A change seen by a {@link Watch}. */
export interface WatchEvent {
  /** The key that changed. */
  key: string;
  /** What happened to it. */
  action: ChangeAction;
  /** The new value (decrypted with a `zkKey`); undefined after a delete. */
  value: string | undefined;
  /** True when the change was found by listing again rather than announced by an event. */
  synthetic: boolean;
}

/** Options of `Client.watch`. */
export interface WatchOptions extends Omit<SubscribeOptions, "onStateChange"> {
  /**
   * Milliseconds between two full listings that catch anything the stream missed.
   * @default {60000}
   */
  resyncInterval?: number;
  /**
   * Values fetched at the same time at most (Stash limits each client to 100 requests per
   * second and path).
   * @default {4}
   */
  concurrency?: number;
  /**
   * Events kept for a consumer that iterates slower than changes arrive; beyond it the
   * oldest are dropped (and counted). The snapshot itself is always complete.
   * @default {10000}
   */
  maxBufferedEvents?: number;
  /**
   * Called on every change of the underlying subscription's connection state.
   * @default {undefined}
   */
  onStateChange?: (state: SubscriptionState) => void;
  /**
   * Called when a resync or a value fetch fails; the view keeps going and tries again at
   * the next event, reconnect or interval.
   * @default {undefined}
   */
  onError?: (error: unknown) => void;
}

/** What a watch needs from the client. */
export interface WatchSource {
  subscribe(options: SubscribeOptions): Subscription;
  list(prefix: string, options?: CallOptions): Promise<KeyInfo[]>;
  get(key: string, options?: CallOptions): Promise<string>;
}

interface Wanted {
  /** False once any request for the key came from an announced event. */
  synthetic: boolean;
  /** The listing's version of the key, recorded once its value is loaded. */
  version?: string;
}

/**
 * A live, synchronously readable view of the keys under a prefix, and an async iterable of
 * their changes. Create it with `Client.watch`; close it with `close()`, `using` or `break`.
 */
export class Watch implements AsyncIterable<WatchEvent>, Disposable, AsyncDisposable {
  #source: WatchSource;
  #prefix: string;
  #options: WatchOptions;
  #controller = new AbortController();
  #subscription: Subscription;
  #snapshot = new Map<string, string>();
  /** The version (`updated_at` and size) each key had when last listed and loaded. */
  #versions = new Map<string, string>();
  /** Bumped by every delete, so a value fetched before a delete is not brought back. */
  #deletions = new Map<string, number>();
  #ready: Promise<void>;
  #resolveReady!: () => void;
  #rejectReady!: (error: unknown) => void;
  #timer: ReturnType<typeof setInterval> | undefined;
  // Value fetches: one per key at a time; a key that changes again meanwhile is fetched again.
  #wanted = new Map<string, Wanted>();
  #inflight = new Set<string>();
  #queue: string[] = [];
  #idleWaiters: (() => void)[] = [];
  #resyncing: Promise<void> | undefined;
  #resyncAgain = false;
  // Events for the consumer.
  #events: WatchEvent[] = [];
  #wake: (() => void) | undefined;
  #dropped = 0;
  #failure: StashError | undefined;
  #iterating = false;

  /** Starts watching; use `Client.watch` to create one. */
  constructor(source: WatchSource, prefix: string, options: WatchOptions = {}) {
    this.#source = source;
    this.#prefix = `${prefix}/`;
    this.#options = options;
    this.#ready = new Promise((resolve, reject) => {
      this.#resolveReady = resolve;
      this.#rejectReady = reject;
    });
    this.#ready.catch(() => {});
    options.signal?.addEventListener("abort", () => this.close(), { once: true });
    this.#subscription = source.subscribe({
      ...options,
      signal: this.#controller.signal,
      onStateChange: (state) => this.#onState(state),
    });
    this.#follow();
    this.#resync();
    const interval = options.resyncInterval ?? 60_000;
    this.#timer = setInterval(() => this.#resync(), interval);
  }

  /** Resolves once the first listing is loaded into the snapshot. */
  get ready(): Promise<void> {
    return this.#ready;
  }

  /** The current value of `key`, or undefined when it does not exist (or is not loaded yet). */
  get(key: string): string | undefined {
    return this.#snapshot.get(key);
  }

  /** True when `key` is in the snapshot. */
  has(key: string): boolean {
    return this.#snapshot.has(key);
  }

  /** The keys and values of the snapshot. */
  *entries(): IterableIterator<[string, string]> {
    yield* this.#snapshot;
  }

  /** How many keys the snapshot holds. */
  get size(): number {
    return this.#snapshot.size;
  }

  /** Events dropped because the consumer fell more than `maxBufferedEvents` behind. */
  get droppedEvents(): number {
    return this.#dropped;
  }

  /** True once the view has stopped. */
  get closed(): boolean {
    return this.#controller.signal.aborted;
  }

  /** Stops watching and ends the stream. Idempotent. */
  close(): void {
    if (this.closed) return;
    this.#controller.abort();
    this.#rejectReady(new StashError("the watch was closed before its first listing"));
    clearInterval(this.#timer);
    this.#subscription.close();
    this.#wake?.();
  }

  /** Stops watching at the end of a `using` block. */
  [Symbol.dispose](): void {
    this.close();
  }

  /** Stops watching at the end of an `await using` block. */
  [Symbol.asyncDispose](): Promise<void> {
    this.close();
    return Promise.resolve();
  }

  /** The changes, starting with a synthetic `create` for each key of the first listing. */
  async *[Symbol.asyncIterator](): AsyncGenerator<WatchEvent> {
    if (this.#iterating) throw new TypeError("a watch can be iterated only once");
    this.#iterating = true;
    try {
      for (;;) {
        const next = this.#events.shift();
        if (next) {
          yield next;
          continue;
        }
        if (this.#failure) throw this.#failure;
        if (this.closed) return;
        await new Promise<void>((resolve) => this.#wake = resolve);
        this.#wake = undefined;
      }
    } finally {
      this.close();
    }
  }

  async #follow(): Promise<void> {
    try {
      for await (const change of this.#subscription) {
        if (!change.key.startsWith(this.#prefix)) continue;
        if (change.action === "delete") {
          this.#forget(change.key, false);
        } else {
          this.#fetch(change.key, false);
        }
      }
    } catch (error) {
      // A status that ends the subscription (401, 403...) ends the view too.
      this.#failure = error as StashError;
      this.#rejectReady(error);
      this.close();
    }
  }

  #onState(state: SubscriptionState): void {
    // The stream is known to be live only with its first event: list again then, to catch
    // whatever happened while it was connecting.
    if (state.state === "connected") this.#resync();
    try {
      this.#options.onStateChange?.(state);
    } catch {
      // A listener's failure must not break the view.
    }
  }

  /** Lists the prefix and fetches whatever is new or changed; deletes what is gone. */
  #resync(): void {
    if (this.closed) return;
    if (this.#resyncing) {
      this.#resyncAgain = true;
      return;
    }
    this.#resyncing = (async () => {
      try {
        do {
          this.#resyncAgain = false;
          const items = await this.#source.list(this.#prefix, { signal: this.#controller.signal });
          const seen = new Set<string>();
          for (const item of items) {
            if (!item.key.startsWith(this.#prefix)) continue;
            seen.add(item.key);
            const version = `${item.updatedAt.getTime()}/${item.size}`;
            if (!this.#snapshot.has(item.key) || this.#versions.get(item.key) !== version) {
              this.#fetch(item.key, true, version);
            }
          }
          for (const key of [...this.#snapshot.keys()]) {
            if (!seen.has(key)) this.#forget(key, true);
          }
          await this.#idle();
          this.#resolveReady();
        } while (this.#resyncAgain && !this.closed);
      } catch (error) {
        if (!this.closed) this.#report(error);
      } finally {
        this.#resyncing = undefined;
      }
    })();
  }

  /** Asks for a key's value; requests for a key already waiting or in flight coalesce. */
  #fetch(key: string, synthetic: boolean, version?: string): void {
    const wanted = this.#wanted.get(key);
    if (wanted) {
      wanted.synthetic &&= synthetic;
      wanted.version = version ?? wanted.version;
    } else {
      this.#wanted.set(key, { synthetic, version });
      if (!this.#inflight.has(key)) this.#queue.push(key);
    }
    this.#pump();
  }

  /** Starts queued fetches up to the concurrency limit. */
  #pump(): void {
    const limit = this.#options.concurrency ?? 4;
    while (this.#inflight.size < limit && this.#queue.length > 0 && !this.closed) {
      const key = this.#queue.shift()!;
      const wanted = this.#wanted.get(key)!;
      this.#wanted.delete(key);
      this.#inflight.add(key);
      this.#load(key, wanted).finally(() => {
        this.#inflight.delete(key);
        if (this.#wanted.has(key)) this.#queue.push(key);
        this.#pump();
      });
    }
    if ((this.#inflight.size === 0 && this.#queue.length === 0) || this.closed) {
      for (const wake of this.#idleWaiters.splice(0)) wake();
    }
  }

  /** Resolves when no fetch is waiting or running. */
  #idle(): Promise<void> {
    if (this.#inflight.size === 0 && this.#queue.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }

  async #load(key: string, wanted: Wanted): Promise<void> {
    const deletions = this.#deletions.get(key);
    try {
      const value = await this.#source.get(key, { signal: this.#controller.signal });
      // Deleted while the value was on its way: the value is stale.
      if (this.#deletions.get(key) !== deletions) return;
      if (wanted.version === undefined) this.#versions.delete(key);
      else this.#versions.set(key, wanted.version);
      const known = this.#snapshot.get(key);
      if (known === value) return;
      this.#snapshot.set(key, value);
      const action = known === undefined ? "create" : "update";
      this.#emit({ key, action, value, synthetic: wanted.synthetic });
    } catch (error) {
      if (this.closed) return;
      if (error instanceof NotFoundError) this.#forget(key, true);
      else this.#report(error);
    }
  }

  /** Removes a deleted key from the snapshot, announcing it when it was there. */
  #forget(key: string, synthetic: boolean): void {
    this.#deletions.set(key, (this.#deletions.get(key) ?? 0) + 1);
    this.#versions.delete(key);
    if (this.#snapshot.delete(key)) {
      this.#emit({ key, action: "delete", value: undefined, synthetic });
    }
  }

  #emit(event: WatchEvent): void {
    if (this.closed) return;
    const max = this.#options.maxBufferedEvents ?? 10_000;
    if (this.#events.length >= max) {
      this.#events.shift();
      this.#dropped++;
    }
    this.#events.push(event);
    this.#wake?.();
  }

  #report(error: unknown): void {
    try {
      this.#options.onError?.(error);
    } catch {
      // A listener's failure must not break the view.
    }
  }
}
