/**
 * Response bodies reshaped on their way out: re-chunked, rewritten, broken, cut short or
 * stalled, one chunk at a time and without reading ahead of the client.
 *
 * @module
 */

/** How a reshaped body goes on after a chunk. */
export type BodyEnd =
  /** The connection breaks: the client's read fails (a reset after the headers). */
  | "error"
  /** The body ends cleanly here (for a stream, a clean end of stream). */
  | "close"
  /** Nothing more is sent until the client goes away or the chaos layer is closed. */
  | "stall";

/** What to send for one chunk of the original body, and whether to stop after it. */
export interface BodyStep {
  /** The bytes to send, in order (possibly none). */
  send: Uint8Array[];
  /** Stops the body after `send`; the rest of the original body is cancelled. */
  end?: BodyEnd;
}

/** Turns each chunk of an original body into the chunks to send. */
export interface BodyPlan {
  /** Called with each chunk of the original body, in order. */
  chunk(bytes: Uint8Array): BodyStep;
  /** Called when the original body ends; by default the reshaped body ends too. */
  done?(): BodyStep;
}

/** The error a broken body fails with on the server side; the client sees a network error. */
export class ChaosResetError extends TypeError {
  /** Creates the error. */
  constructor(message = "chaos: connection reset") {
    super(message);
    this.name = "ChaosResetError";
  }
}

/**
 * Reshapes `body` according to `plan`. Reads the original only when the client pulls, so a
 * subscription stream keeps its back-pressure; cancelling the result cancels the original.
 * A stall lasts until the client cancels the body or `release` aborts; then the body fails.
 */
export function reshapeBody(
  body: ReadableStream<Uint8Array>,
  plan: BodyPlan,
  release: AbortSignal,
): ReadableStream<Uint8Array> {
  const reader = body.getReader();
  const queue: Uint8Array[] = [];
  let end: BodyEnd | undefined;
  let finished = false;
  let wake: (() => void) | undefined;

  const take = (step: BodyStep) => {
    for (const bytes of step.send) if (bytes.byteLength > 0) queue.push(bytes);
    if (step.end) {
      end = step.end;
      reader.cancel().catch(() => {});
    }
  };
  const stall = () =>
    new Promise<void>((resolve) => {
      if (release.aborted || finished) return resolve();
      wake = resolve;
      release.addEventListener("abort", () => resolve(), { once: true });
    });

  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      while (queue.length === 0) {
        if (end === "close") return controller.close();
        if (end === "error") return controller.error(new ChaosResetError());
        if (end === "stall") {
          await stall();
          if (!finished) controller.error(new ChaosResetError("chaos: stalled body released"));
          return;
        }
        let result: ReadableStreamReadResult<Uint8Array>;
        try {
          result = await reader.read();
        } catch (error) {
          return controller.error(error);
        }
        if (result.done) {
          if (!plan.done) return controller.close();
          take(plan.done());
          end ??= "close";
        } else {
          take(plan.chunk(result.value));
        }
      }
      controller.enqueue(queue.shift()!);
    },
    cancel(reason) {
      finished = true;
      wake?.();
      return reader.cancel(reason).catch(() => {});
    },
  }, { highWaterMark: 0 });
}

/** A copy of `response` with another body (and the same status and headers). */
export function withBody(
  response: Response,
  body: BodyInit | null,
  headers: Headers = new Headers(response.headers),
): Response {
  return new Response(body, { status: response.status, statusText: response.statusText, headers });
}
