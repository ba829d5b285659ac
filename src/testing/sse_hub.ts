/**
 * The subscriptions hub: open streams, delivery of store changes to the matching ones, and the
 * controls tests use to break, end, refuse or reshape streams.
 *
 * @module
 */

import type { MemoryStore, StoreChange } from "./store.ts";
import { type SseTopic, topicMatches } from "./sse_topic.ts";
import { SseStream } from "./sse_stream.ts";
import {
  DEFAULT_WIRE_FORMAT,
  eventChunks,
  type ResolvedWireFormat,
  resolveWireFormat,
  type SseWireFormat,
} from "./sse_event.ts";
import { emptyResponse, textError } from "./responses.ts";

/** Options of the subscription streams. */
export interface SseOptions extends SseWireFormat {
  /**
   * Most bytes that may wait in one stream's queue for a slow reader. A stream that falls
   * further behind is dropped (its connection breaks), so memory stays bounded.
   * @default 1048576 (1 MiB)
   */
  queueLimit?: number;
}

interface Subscriber {
  topic: SseTopic;
  stream: SseStream;
}

/** Default of {@link SseOptions.queueLimit}. */
export const DEFAULT_QUEUE_LIMIT = 1024 * 1024;

/**
 * The subscription controls of a running server: how many streams are open, waiting for them,
 * and breaking, ending, refusing or reshaping them. Every change of the store (over HTTP or
 * directly) goes, as one `change` event, to each open stream whose topic matches.
 */
export interface SseControls {
  /** How many subscription streams are open (waiting for their first event included). */
  readonly subscriberCount: number;
  /**
   * Resolves once `subscriberCount` equals `count`: after a client subscribed (the client
   * itself cannot tell before the first event), or after streams were cleaned up.
   * Rejects with the signal's reason if `signal` aborts first.
   */
  waitForSubscribers(count: number, options?: { signal?: AbortSignal }): Promise<void>;
  /**
   * Breaks every open stream at once, as a crashed or restarted server would: clients see the
   * body fail mid-read. A stream still waiting for its first event answers 200 with a body that
   * fails at once. Returns how many streams were dropped.
   */
  dropStreams(): number;
  /** Ends every open stream cleanly after its queued events. Returns how many were ended. */
  endStreams(): number;
  /**
   * Answers new subscription requests with `status` (for example 401, 403, 500, 503) until
   * called with `null`. 401 and 403 carry the auth middleware's plain-text bodies
   * (`Unauthorized`, `Forbidden`); other statuses have an empty body. Open streams stay open.
   */
  refuseSubscriptions(status: number | null): void;
  /**
   * Changes how events are written from now on, for every stream (open ones included):
   * small chunks, CRLF or CR line endings, a `retry:` field. Fields left out keep their value.
   */
  configure(format: SseWireFormat): void;
}

/**
 * The server's open subscriptions. Every change of the store (over HTTP or directly) goes, as
 * one `change` event, to each stream whose topic matches. A stream's response is held back
 * until its first event, as the real server does.
 */
export class SseHub implements SseControls {
  #subscribers = new Set<Subscriber>();
  #waiters = new Set<() => void>();
  #format: ResolvedWireFormat;
  #queueLimit: number;
  #refusal: number | null = null;

  /** Creates a hub fed by `store`'s changes. */
  constructor(store: MemoryStore, options: SseOptions = {}) {
    const { queueLimit = DEFAULT_QUEUE_LIMIT, ...wire } = options;
    if (!Number.isSafeInteger(queueLimit) || queueLimit < 1) {
      throw new RangeError(`queueLimit must be a positive integer, received ${queueLimit}`);
    }
    this.#queueLimit = queueLimit;
    this.#format = resolveWireFormat(DEFAULT_WIRE_FORMAT, wire);
    store.onChange((change) => this.#publish(change));
  }

  /** How many subscription streams are open (waiting for their first event included). */
  get subscriberCount(): number {
    return this.#subscribers.size;
  }

  /**
   * Resolves once {@link SseHub.subscriberCount} equals `count`: after a client subscribed
   * (the client itself cannot tell before the first event), or after streams were cleaned up.
   * Rejects with the signal's reason if `signal` aborts first.
   */
  waitForSubscribers(count: number, options: { signal?: AbortSignal } = {}): Promise<void> {
    if (!Number.isSafeInteger(count) || count < 0) {
      throw new RangeError(`count must be a non-negative integer, received ${count}`);
    }
    const { signal } = options;
    if (this.subscriberCount === count) return Promise.resolve();
    if (signal?.aborted) return Promise.reject(signal.reason);
    return new Promise((resolve, reject) => {
      const check = () => {
        if (this.subscriberCount !== count) return;
        done();
        resolve();
      };
      const onAbort = () => {
        done();
        reject(signal?.reason);
      };
      const done = () => {
        this.#waiters.delete(check);
        signal?.removeEventListener("abort", onAbort);
      };
      this.#waiters.add(check);
      signal?.addEventListener("abort", onAbort, { once: true });
    });
  }

  /**
   * Breaks every open stream at once, as a crashed or restarted server would: clients see the
   * body fail mid-read. A stream still waiting for its first event answers 200 with a body that
   * fails at once. Returns how many streams were dropped.
   */
  dropStreams(): number {
    const streams = [...this.#subscribers].map((s) => s.stream);
    for (const stream of streams) stream.drop();
    return streams.length;
  }

  /** Ends every open stream cleanly after its queued events. Returns how many were ended. */
  endStreams(): number {
    const streams = [...this.#subscribers].map((s) => s.stream);
    for (const stream of streams) stream.end();
    return streams.length;
  }

  /**
   * Answers new subscription requests with `status` (for example 401, 403, 500, 503) until
   * called with `null`. 401 and 403 carry the auth middleware's plain-text bodies
   * (`Unauthorized`, `Forbidden`); other statuses have an empty body. Open streams stay open.
   */
  refuseSubscriptions(status: number | null): void {
    if (status !== null && (!Number.isSafeInteger(status) || status < 200 || status > 599)) {
      throw new RangeError(`status must be an HTTP status 200-599 or null, received ${status}`);
    }
    this.#refusal = status;
  }

  /**
   * Changes how events are written from now on, for every stream (open ones included):
   * small chunks, CRLF or CR line endings, a `retry:` field. Fields left out keep their value.
   */
  configure(format: SseWireFormat): void {
    this.#format = resolveWireFormat(this.#format, format);
  }

  /** The refusal set by {@link SseHub.refuseSubscriptions}, as a response, if any. */
  refusal(): Response | undefined {
    const status = this.#refusal;
    if (status === null) return undefined;
    if (status === 401) return textError(401, "Unauthorized");
    if (status === 403) return textError(403, "Forbidden");
    return emptyResponse(status);
  }

  /**
   * Opens a stream for `topic`. The promise resolves when the first event is queued (so the
   * response headers go out with it), or when the stream ends or is dropped before that.
   * When `signal` aborts first (the client went away), the subscriber is removed.
   */
  async open(topic: SseTopic, signal?: AbortSignal): Promise<Response> {
    let subscriber: Subscriber | undefined = undefined;
    const stream = new SseStream(this.#queueLimit, () => {
      if (subscriber) this.#remove(subscriber);
    });
    subscriber = { topic, stream };
    this.#subscribers.add(subscriber);
    this.#changed();

    const onAbort = () => stream.drop("client went away");
    if (signal?.aborted) onAbort();
    signal?.addEventListener("abort", onAbort, { once: true });
    try {
      await stream.started;
    } finally {
      signal?.removeEventListener("abort", onAbort);
    }
    if (signal?.aborted) {
      // Nobody is listening; an empty answer keeps the runtime from reporting a stream error.
      return new Response(null, { status: 200 });
    }
    return new Response(stream.body, {
      status: 200,
      headers: { "Content-Type": "text/event-stream", "Cache-Control": "no-cache" },
    });
  }

  #publish(change: StoreChange): void {
    let chunks: Uint8Array[] | undefined;
    for (const { topic, stream } of [...this.#subscribers]) {
      if (!topicMatches(topic, change.key)) continue;
      chunks ??= eventChunks(change, this.#format);
      stream.push(chunks);
    }
  }

  #remove(subscriber: Subscriber): void {
    if (this.#subscribers.delete(subscriber)) this.#changed();
  }

  #changed(): void {
    for (const waiter of [...this.#waiters]) waiter();
  }
}
