/**
 * A live view of every key under a prefix that never misses a change: it follows change
 * events, and lists the keys again whenever a reconnection is attempted, when the stream is
 * known to be live after a (re)connect, and on an interval, turning whatever changed unseen
 * into synthetic events.
 *
 * @module
 */

import "../dispose.ts";
import { NotFoundError, StashError } from "../errors.ts";
import { exactUpdatedAtOf, type KeyInfo } from "../key_info.ts";
import { normalizeKey } from "../keys.ts";
import { type CallOptions, checkCount, checkDelay } from "../options.ts";
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
   * `Infinity` turns the interval off (the view still lists again around reconnections).
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
   * Called when a listing or a value fetch fails; the view keeps going and tries again at
   * the next event, reconnection or interval.
   * @default {undefined}
   */
  onError?: (error: unknown) => void;
}

/** What a watch needs from the client. */
export interface WatchSource {
  /** Opens the subscription to the watched prefix. */
  subscribe(options: SubscribeOptions): Subscription;
  /** Lists the keys starting with `prefix` (a plain string match). */
  list(prefix: string, options?: CallOptions): Promise<KeyInfo[]>;
  /** Reads (and decrypts) one value. */
  get(key: string, options?: CallOptions): Promise<string>;
}

interface Wanted {
  /** False once any request for the key came from an announced event. */
  synthetic: boolean;
  /** The listing's version of the key, recorded once its value is loaded. */
  version?: string;
  /** Resolved when the load that serves this request has finished. */
  done: (() => void)[];
}

/** A first-in, first-out queue with O(1) removal at the head. */
class Queue<T> {
  #items: T[] = [];
  #head = 0;

  get length(): number {
    return this.#items.length - this.#head;
  }

  push(item: T): void {
    this.#items.push(item);
  }

  shift(): T | undefined {
    if (this.#head === this.#items.length) return undefined;
    const item = this.#items[this.#head];
    this.#items[this.#head++] = undefined as T;
    // Compact once the consumed part dominates, so memory follows what is still queued.
    if (this.#head >= 1024 && this.#head * 2 >= this.#items.length) {
      this.#items = this.#items.slice(this.#head);
      this.#head = 0;
    }
    return item;
  }
}

/** The version of a listed key: any write changes its timestamp, a re-creation its birth. */
function versionOf(item: KeyInfo): string {
  const updated = exactUpdatedAtOf(item) ?? item.updatedAt.getTime();
  return `${updated}/${item.createdAt.getTime()}/${item.size}`;
}

/**
 * A live, synchronously readable view of the keys under a prefix, and an async iterable of
 * their changes. Create it with `Client.watch`; close it with `close()`, `using`, `break` or
 * the `signal` option.
 *
 * Stash keeps no history and its streams say nothing until their first event, so the view
 * lists the prefix again when it tries to reconnect, at the first event of every connection
 * (the first moment the stream is known to be live) and every `resyncInterval`. Whatever
 * changed unseen becomes a synthetic event: a consumer sees every change at least once
 * (several changes to one key while disconnected may be seen as one), and the snapshot
 * converges to exactly the server's state.
 */
export class Watch implements AsyncIterable<WatchEvent>, Disposable, AsyncDisposable {
  #source: WatchSource;
  #prefix: string;
  #options: WatchOptions;
  #concurrency: number;
  #maxBuffered: number;
  #controller = new AbortController();
  #unlinkSignal: () => void = () => {};
  #subscription: Subscription;
  #following: Promise<void>;
  #snapshot = new Map<string, string>();
  /** The listed version of each key, once its value is loaded from a listing. */
  #versions = new Map<string, string>();
  /** A logical clock, ticked by every event, to order events against listings. */
  #tick = 0;
  /** The tick of the latest event for each key since the last listing began. */
  #touched = new Map<string, number>();
  /** Deletes seen while a key's value was being fetched, so a stale value is not brought back. */
  #deletions = new Map<string, number>();
  #ready: Promise<void>;
  #resolveReady!: () => void;
  #rejectReady!: (error: unknown) => void;
  #timer: ReturnType<typeof setInterval> | undefined;
  #lastState: SubscriptionState["state"] | undefined;
  // Value fetches: one per key at a time; a key that changes again meanwhile is fetched again.
  #wanted = new Map<string, Wanted>();
  #inflight = new Map<string, Promise<void>>();
  #queue = new Queue<string>();
  #resyncing: Promise<void> | undefined;
  #resyncAgain = false;
  // Events for the consumer.
  #events = new Queue<WatchEvent>();
  #wake: (() => void) | undefined;
  #dropped = 0;
  #failure: StashError | undefined;
  #iterating = false;

  /**
   * Starts watching; use `Client.watch` to create one. Throws `TypeError` or `RangeError`
   * for invalid options.
   */
  constructor(source: WatchSource, prefix: string, options: WatchOptions = {}) {
    const interval = options.resyncInterval ?? 60_000;
    if (interval !== Infinity) checkDelay("resyncInterval", interval);
    this.#concurrency = checkCount("concurrency", options.concurrency ?? 4);
    this.#maxBuffered = checkCount("maxBufferedEvents", options.maxBufferedEvents ?? 10_000);
    for (const name of ["onStateChange", "onError"] as const) {
      if (options[name] !== undefined && typeof options[name] !== "function") {
        throw new TypeError(`${name} must be a function, received ${typeof options[name]}`);
      }
    }
    this.#source = source;
    this.#prefix = `${prefix}/`;
    this.#options = options;
    this.#ready = new Promise((resolve, reject) => {
      this.#resolveReady = resolve;
      this.#rejectReady = reject;
    });
    this.#ready.catch(() => {});
    const { resyncInterval: _, concurrency: _c, maxBufferedEvents: _m, onError: _e, ...rest } =
      options;
    const signal = options.signal;
    this.#subscription = source.subscribe({
      ...rest,
      // An aborted signal closes the subscription before it sends anything.
      signal: signal?.aborted ? signal : this.#controller.signal,
      onStateChange: (state) => this.#onState(state),
    });
    if (signal?.aborted) {
      this.#following = Promise.resolve();
      this.close();
      return;
    }
    if (signal) {
      const stop = () => this.close();
      signal.addEventListener("abort", stop, { once: true });
      this.#unlinkSignal = () => signal.removeEventListener("abort", stop);
    }
    this.#following = this.#follow();
    this.#resync();
    if (interval !== Infinity) this.#timer = setInterval(() => this.#resync(), interval);
  }

  /**
   * Resolves once the first listing is loaded into the snapshot; rejects when the watch
   * ends before (closed, or refused with 401/403).
   */
  get ready(): Promise<void> {
    return this.#ready;
  }

  /**
   * The current value of `key` (normalised as the server stores it, so `"app/my key"` reads
   * `app/my_key`), or undefined when it does not exist or is not loaded yet. No request is made.
   */
  get(key: string): string | undefined {
    return this.#snapshot.get(key) ?? this.#snapshot.get(normalizeKey(key));
  }

  /** True when `key` (normalised) is in the snapshot. */
  has(key: string): boolean {
    return this.#snapshot.has(key) || this.#snapshot.has(normalizeKey(key));
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
    this.#unlinkSignal();
    this.#rejectReady(
      this.#failure ?? new StashError("the watch was closed before its first listing"),
    );
    clearInterval(this.#timer);
    this.#subscription.close();
    // Nothing more will be loaded: release whoever waits for a load.
    for (const wanted of this.#wanted.values()) wanted.done.forEach((done) => done());
    this.#wanted.clear();
    this.#wake?.();
  }

  /** Stops watching at the end of a `using` block. */
  [Symbol.dispose](): void {
    this.close();
  }

  /**
   * Stops watching at the end of an `await using` block, and waits until the requests in
   * flight have given up.
   */
  async [Symbol.asyncDispose](): Promise<void> {
    this.close();
    await Promise.allSettled([
      this.#following,
      this.#resyncing,
      this.#subscription[Symbol.asyncDispose](),
      ...this.#inflight.values(),
    ]);
  }

  /**
   * The changes, starting with a synthetic `create` for each key of the first listing. Ends
   * when the watch is closed; throws the error that ended it (401, 403...).
   */
  [Symbol.asyncIterator](): AsyncIterator<WatchEvent> {
    if (this.#iterating) throw new TypeError("a watch can be iterated only once");
    this.#iterating = true;
    return this.#run();
  }

  async *#run(): AsyncGenerator<WatchEvent> {
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
        this.#touched.set(change.key, ++this.#tick);
        if (change.action === "delete") {
          this.#forget(change.key, false);
        } else {
          this.#fetch(change.key, false);
        }
      }
    } catch (error) {
      // A status that ends the subscription (401, 403...) ends the view too.
      this.#failure = error instanceof StashError
        ? error
        : new StashError("the subscription failed", { cause: error });
    }
    // The subscription also ends when the client is closed: the view cannot go on without it.
    this.close();
  }

  #onState(state: SubscriptionState): void {
    const previous = this.#lastState;
    this.#lastState = state.state;
    // List again when a reconnection is attempted (to catch what happened while the stream
    // was down without waiting for a new event), and at the first event of each connection,
    // the first moment the stream is known to be live.
    if (
      state.state === "connected" ||
      (state.state === "connecting" && previous === "reconnecting")
    ) {
      this.#resync();
    }
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
    this.#resyncing = this.#runResync().finally(() => this.#resyncing = undefined);
  }

  async #runResync(): Promise<void> {
    do {
      this.#resyncAgain = false;
      const started = this.#tick;
      let items: KeyInfo[];
      try {
        items = await this.#source.list(this.#prefix, { signal: this.#controller.signal });
      } catch (error) {
        if (this.closed) return;
        this.#report(error);
        // Asked again meanwhile (a reconnection, the stream going live): try once more.
        continue;
      }
      if (this.closed) return;
      const seen = new Set<string>();
      const loads: Promise<void>[] = [];
      for (const item of items) {
        if (!item.key.startsWith(this.#prefix)) continue;
        seen.add(item.key);
        const version = versionOf(item);
        if (!this.#snapshot.has(item.key) || this.#versions.get(item.key) !== version) {
          loads.push(this.#fetch(item.key, true, version));
        }
      }
      for (const key of [...this.#snapshot.keys()]) {
        if (seen.has(key)) continue;
        // An event after the listing began (a re-creation the listing was too early for)
        // is newer than the listing: that event's own fetch decides.
        if ((this.#touched.get(key) ?? 0) > started) continue;
        this.#forget(key, true);
      }
      for (const [key, tick] of this.#touched) {
        if (tick <= started) this.#touched.delete(key);
      }
      await Promise.all(loads);
      if (this.closed) return;
      this.#resolveReady();
    } while (this.#resyncAgain && !this.closed);
  }

  /**
   * Asks for a key's value; requests for a key already waiting or in flight coalesce. The
   * promise resolves (never rejects) once a fetch that started after this call has finished.
   */
  #fetch(key: string, synthetic: boolean, version?: string): Promise<void> {
    if (this.closed) return Promise.resolve();
    let resolve!: () => void;
    const promise = new Promise<void>((done) => resolve = done);
    const wanted = this.#wanted.get(key);
    if (wanted) {
      wanted.synthetic &&= synthetic;
      wanted.version = version ?? wanted.version;
      wanted.done.push(resolve);
    } else {
      this.#wanted.set(key, { synthetic, version, done: [resolve] });
      if (!this.#inflight.has(key)) this.#queue.push(key);
    }
    this.#pump();
    return promise;
  }

  /** Starts queued fetches up to the concurrency limit. */
  #pump(): void {
    while (this.#inflight.size < this.#concurrency && this.#queue.length > 0 && !this.closed) {
      const key = this.#queue.shift()!;
      const wanted = this.#wanted.get(key)!;
      this.#wanted.delete(key);
      const load = this.#load(key, wanted).finally(() => {
        this.#inflight.delete(key);
        this.#deletions.delete(key);
        wanted.done.forEach((done) => done());
        if (this.#wanted.has(key)) this.#queue.push(key);
        this.#pump();
      });
      this.#inflight.set(key, load);
    }
  }

  async #load(key: string, wanted: Wanted): Promise<void> {
    const deletions = this.#deletions.get(key) ?? 0;
    try {
      const value = await this.#source.get(key, { signal: this.#controller.signal });
      // Closed, or deleted while the value was on its way (the value is stale).
      if (this.closed || (this.#deletions.get(key) ?? 0) !== deletions) return;
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
    if (this.#inflight.has(key)) {
      this.#deletions.set(key, (this.#deletions.get(key) ?? 0) + 1);
    }
    this.#versions.delete(key);
    if (this.#snapshot.delete(key)) {
      this.#emit({ key, action: "delete", value: undefined, synthetic });
    }
  }

  #emit(event: WatchEvent): void {
    if (this.closed) return;
    if (this.#events.length >= this.#maxBuffered) {
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
