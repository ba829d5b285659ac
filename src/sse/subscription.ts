/**
 * A subscription to Stash change events: one long-lived HTTP stream, parsed as it arrives,
 * reconnected with backoff when it ends, and ended for good on a status a retry cannot cure.
 *
 * @module
 */

import "../dispose.ts";
import { ResponseError, type StashError } from "../errors.ts";
import { parseTimestamp } from "../key_info.ts";
import { checkDelay } from "../options.ts";
import { sleep } from "../retry.ts";

/**
 * The parser loads with the first subscription: a client that never subscribes never pays for
 * it (about 4 KB of a 28 KB bundle).
 */
let parserModule: Promise<typeof import("./parser.ts")> | undefined;
function loadParser(): Promise<typeof import("./parser.ts")> {
  return parserModule ??= import("./parser.ts");
}

/** What happened to a key. */
export type ChangeAction = "create" | "update" | "delete";

/** One change notification. */
export interface SubscriptionEvent {
  /** The key that changed, as stored (normalised). */
  key: string;
  /** What happened to it. */
  action: ChangeAction;
  /** When it happened, to the second (the server's precision). */
  timestamp: Date;
}

/** A subscription's connection state, reported to {@link SubscribeOptions.onStateChange}. */
export type SubscriptionState =
  | { state: "connecting" }
  | { state: "connected" }
  | { state: "reconnecting"; delay: number; attempt: number; error?: unknown }
  | { state: "closed"; error?: StashError };

/** Options of `subscribe`, `subscribePrefix` and `subscribeAll`. */
export interface SubscribeOptions {
  /** Ends the subscription when aborted. */
  signal?: AbortSignal;
  /**
   * Called on every change of connection state. A Stash stream sends nothing until its first
   * event, so "connected" is reported with the first event after each (re)connect.
   * @default {undefined}
   */
  onStateChange?: (state: SubscriptionState) => void;
  /**
   * First reconnection delay in milliseconds; it doubles per failed attempt (with ±20%
   * jitter) and returns to this value after a connection that delivered events. A server's
   * `retry:` field replaces it.
   * @default {1000}
   */
  reconnectDelay?: number;
  /**
   * Longest reconnection delay in milliseconds.
   * @default {30000}
   */
  maxReconnectDelay?: number;
}

/** How a subscription reaches the server; provided by the client. */
export interface StreamSource {
  /** Opens the stream; the promise settles when the server sends headers (its first event). */
  open(signal: AbortSignal): Promise<Response>;
  /** Aborted when the client closes. */
  lifetime: AbortSignal;
  /** The key or topic, for errors. */
  topic: string;
  /** The typed error for an unsuccessful answer (credentials blanked from the body). */
  errorFor(status: number, body: string, context: { method: string; key?: string }): StashError;
}

const ACTIONS = new Set(["create", "update", "delete"]);

/**
 * Change notifications for a key, a prefix or every key: an async iterable that reconnects by
 * itself. Close it with `break`, {@link Subscription.close}, `using`, or the `signal` option;
 * each ends the HTTP stream. Events that happen while it is disconnected are lost (Stash keeps
 * no history): use `Client.watch` for a view that never misses a change.
 */
export class Subscription implements AsyncIterable<SubscriptionEvent>, Disposable, AsyncDisposable {
  #source: StreamSource;
  #options: SubscribeOptions;
  #controller = new AbortController();
  #unlink: () => void;
  #state: SubscriptionState = { state: "connecting" };
  #iterating = false;
  #malformed = 0;
  #firstConnection: Promise<Response> | undefined;
  /** The latest connection attempt, awaited by async disposal. */
  #connection: Promise<unknown> = Promise.resolve();
  #baseDelay: number;
  #maxDelay: number;

  /**
   * Starts connecting at once; use the client's `subscribe*` methods to create one.
   * Throws `TypeError` or `RangeError` for invalid options.
   */
  constructor(source: StreamSource, options: SubscribeOptions = {}) {
    this.#baseDelay = checkDelay("reconnectDelay", options.reconnectDelay ?? 1000);
    this.#maxDelay = checkDelay("maxReconnectDelay", options.maxReconnectDelay ?? 30_000);
    if (options.onStateChange !== undefined && typeof options.onStateChange !== "function") {
      throw new TypeError(
        `onStateChange must be a function, received ${typeof options.onStateChange}`,
      );
    }
    this.#source = source;
    this.#options = options;
    const stop = () => this.close();
    const signals = [options.signal, source.lifetime].filter((s): s is AbortSignal => !!s);
    for (const signal of signals) signal.addEventListener("abort", stop, { once: true });
    this.#unlink = () => signals.forEach((signal) => signal.removeEventListener("abort", stop));
    // Already aborted: closed from the start, without a request.
    if (signals.some((signal) => signal.aborted)) this.close();
    else {
      this.#firstConnection = this.#open();
      loadParser().catch(() => {}); // In parallel with the connection; awaited at the first response.
    }
  }

  /** The current connection state. */
  get state(): SubscriptionState {
    return this.#state;
  }

  /** How many `change` events were malformed and skipped. */
  get malformedEvents(): number {
    return this.#malformed;
  }

  /** True once the subscription has ended. */
  get closed(): boolean {
    return this.#controller.signal.aborted;
  }

  /** Ends the subscription and its HTTP stream. Idempotent. */
  close(): void {
    if (this.closed) return;
    this.#controller.abort();
    this.#unlink();
    if (this.#state.state !== "closed") this.#setState({ state: "closed" });
  }

  /** Closes the subscription at the end of a `using` block. */
  [Symbol.dispose](): void {
    this.close();
  }

  /**
   * Closes the subscription at the end of an `await using` block, and waits until its
   * connection attempt has given up.
   */
  async [Symbol.asyncDispose](): Promise<void> {
    this.close();
    await this.#connection.catch(() => {});
  }

  /** The events, in order. A subscription has one consumer: a second iteration throws. */
  [Symbol.asyncIterator](): AsyncIterator<SubscriptionEvent> {
    if (this.#iterating) throw new TypeError("a subscription can be iterated only once");
    this.#iterating = true;
    return this.#run();
  }

  async *#run(): AsyncGenerator<SubscriptionEvent> {
    const base = this.#baseDelay;
    const max = this.#maxDelay;
    let serverRetry: number | undefined;
    let failures = 0;
    let pending: Promise<Response> | undefined = this.#firstConnection;
    try {
      while (!this.closed) {
        let error: unknown;
        let delivered = false;
        try {
          // Cleared before awaiting: a first attempt that failed must not be awaited again.
          const connection = pending ?? this.#open();
          pending = undefined;
          const response = await connection;
          if (response.status !== 200 || !response.body) {
            const failure = await this.#failure(response);
            if (isFatalStatus(failure.status)) {
              this.#setState({ state: "closed", error: failure });
              throw failure;
            }
            error = failure;
          } else {
            this.#setState({ state: "connected" });
            const events: SubscriptionEvent[] = [];
            const { createSseParser } = await loadParser();
            const parser = createSseParser({
              onEvent: (event) => {
                if (event.type !== "change") return;
                const change = this.#parseChange(event.data);
                if (change) events.push(change);
              },
              // At least 1 ms, so that the backoff still doubles after a "retry: 0".
              onRetry: (ms) => serverRetry = Math.max(1, ms),
            });
            const reader = response.body.getReader();
            try {
              for (;;) {
                const { done, value } = await reader.read();
                if (done) break;
                parser.feed(value);
                delivered = true;
                for (const event of events.splice(0)) yield event;
              }
            } finally {
              reader.releaseLock();
              await response.body.cancel().catch(() => {});
            }
          }
        } catch (caught) {
          if (this.closed) return;
          if (isFatalStatus((caught as StashError)?.status)) throw caught;
          error = caught;
        }
        if (this.closed) return;
        // A connection that delivered events was healthy: start the backoff again.
        failures = delivered ? 0 : failures + 1;
        const ceiling = Math.min(max, (serverRetry ?? base) * 2 ** Math.max(0, failures - 1));
        const delay = Math.min(max, ceiling * (0.8 + Math.random() * 0.4));
        this.#setState({ state: "reconnecting", delay, attempt: failures + 1, error });
        try {
          await sleep(delay, this.#controller.signal);
        } catch {
          return;
        }
      }
    } finally {
      this.close();
    }
  }

  #open(): Promise<Response> {
    this.#setState({ state: "connecting" });
    const attempt = this.#source.open(this.#controller.signal);
    this.#connection = attempt;
    attempt.catch(() => {}); // Rejections are handled when the iterator awaits it.
    return attempt;
  }

  async #failure(response: Response): Promise<StashError> {
    const context = { method: "GET", key: this.#source.topic };
    // A redirect (opaque in browsers, status 0) would be followed to the same answer forever.
    if (response.type === "opaqueredirect" || response.status === 0) {
      await response.body?.cancel().catch(() => {});
      return new ResponseError(301, "the server redirected; redirects are not followed", context);
    }
    if (response.status === 200) return new ResponseError(200, "the stream has no body", context);
    const body = await readSome(response, 4096);
    return this.#source.errorFor(response.status, body, context);
  }

  #parseChange(data: string): SubscriptionEvent | undefined {
    try {
      const parsed = JSON.parse(data);
      const timestamp = parseTimestamp(parsed?.timestamp);
      if (typeof parsed?.key === "string" && ACTIONS.has(parsed.action) && timestamp) {
        return { key: parsed.key, action: parsed.action, timestamp };
      }
    } catch {
      // Counted below.
    }
    this.#malformed++;
    return undefined;
  }

  #setState(state: SubscriptionState): void {
    this.#state = state;
    try {
      this.#options.onStateChange?.(state);
    } catch {
      // A listener's failure must not break the stream.
    }
  }
}

/** The first `limit` bytes of an error body, as text; the rest is not downloaded. */
async function readSome(response: Response, limit: number): Promise<string> {
  if (!response.body) return "";
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let text = "";
  try {
    let size = 0;
    while (size < limit) {
      const { done, value } = await reader.read();
      if (done) break;
      size += value.byteLength;
      text += decoder.decode(value, { stream: true });
    }
  } catch {
    // An error body that breaks off is still an error: report what arrived.
  } finally {
    reader.cancel().catch(() => {});
  }
  return text.slice(0, limit);
}

/** Redirects and client errors end a subscription: asking again cannot change the answer. */
function isFatalStatus(status: number | undefined): boolean {
  return status !== undefined && status >= 300 && status < 500 && status !== 408 && status !== 429;
}
