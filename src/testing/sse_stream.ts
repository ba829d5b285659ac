/**
 * One subscriber's response body: a pull-driven byte stream with a bounded queue that can end
 * cleanly or be dropped abruptly.
 *
 * @module
 */

/** The error a dropped stream fails with; the server swallows it in `onError`. */
export class StreamDroppedError extends Error {
  /** Creates the error; `reason` says why the stream was dropped. */
  constructor(reason: string) {
    super(`subscription stream dropped: ${reason}`);
    this.name = "StreamDroppedError";
  }
}

/** How a stream finished. */
export type StreamEnd = "ended" | "dropped" | "cancelled";

/**
 * A subscription's body. Chunks pushed before the consumer reads are queued; once more than
 * `queueLimit` bytes wait, the stream is dropped (the client would have fallen hopelessly behind,
 * and the server must not buffer without bound). Each queued chunk is handed to the consumer
 * as its own read, so an event pushed in pieces goes out in pieces.
 */
export class SseStream {
  /** The response body. */
  readonly body: ReadableStream<Uint8Array>;
  /** Settles with `true` once a first chunk is queued, with `false` if the stream ends first. */
  readonly started: Promise<boolean>;

  #queue: Uint8Array[] = [];
  #queued = 0;
  #limit: number;
  #end: StreamEnd | undefined;
  #closing = false;
  #wake: (() => void) | undefined;
  #controller!: ReadableStreamDefaultController<Uint8Array>;
  #resolveStarted!: (started: boolean) => void;
  #onFinish: (end: StreamEnd) => void;

  /** Creates a stream; `onFinish` runs once, when it ends, is dropped or is cancelled. */
  constructor(queueLimit: number, onFinish: (end: StreamEnd) => void) {
    this.#limit = queueLimit;
    this.#onFinish = onFinish;
    this.started = new Promise((resolve) => this.#resolveStarted = resolve);
    this.body = new ReadableStream<Uint8Array>({
      start: (controller) => {
        this.#controller = controller;
      },
      pull: (controller) => this.#pull(controller),
      cancel: () => this.#finish("cancelled"),
    }, { highWaterMark: 0 });
  }

  /** True once the stream ended, was dropped or was cancelled. */
  get finished(): boolean {
    return this.#end !== undefined;
  }

  /** Queues chunks; drops the stream when the queue would exceed its limit. */
  push(chunks: readonly Uint8Array[]): void {
    if (this.#end || this.#closing) return;
    for (const chunk of chunks) {
      this.#queue.push(chunk);
      this.#queued += chunk.length;
    }
    this.#resolveStarted(true);
    if (this.#queued > this.#limit) {
      this.drop(`more than ${this.#limit} bytes waiting for a slow reader`);
      return;
    }
    this.#wakeUp();
  }

  /** Ends the stream cleanly once the queued chunks are read. */
  end(): void {
    if (this.#end || this.#closing) return;
    this.#closing = true;
    this.#finish("ended");
    this.#wakeUp();
  }

  /** Breaks the stream now: the client sees its connection fail mid-body. */
  drop(reason = "dropped by the test server"): void {
    if (this.#end) return;
    this.#queue = [];
    this.#queued = 0;
    this.#finish("dropped");
    try {
      this.#controller.error(new StreamDroppedError(reason));
    } catch {
      // Already closed by the consumer.
    }
    this.#wakeUp();
  }

  async #pull(controller: ReadableStreamDefaultController<Uint8Array>): Promise<void> {
    while (this.#queue.length === 0 && !this.#closing && this.#end !== "dropped") {
      if (this.#end === "cancelled") return;
      await new Promise<void>((resolve) => this.#wake = resolve);
    }
    if (this.#end === "dropped" || this.#end === "cancelled") return;
    const chunk = this.#queue.shift();
    if (chunk) {
      this.#queued -= chunk.length;
      controller.enqueue(chunk);
    } else {
      controller.close();
    }
  }

  #wakeUp(): void {
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }

  #finish(end: StreamEnd): void {
    if (this.#end) return;
    this.#end = end;
    this.#resolveStarted(false);
    this.#onFinish(end);
    this.#wakeUp();
  }
}
