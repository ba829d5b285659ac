/**
 * The faults the chaos layer injects. Each is a small middleware around the server's handler:
 * it may delay the request, answer instead of the server, or reshape the server's answer.
 *
 * @module
 */

import { type BodyPlan, reshapeBody, withBody } from "./chaos_body.ts";
import { JSON_CONTENT_TYPE, TEXT_CONTENT_TYPE } from "./responses.ts";

/** What a fault may use besides the request. */
export interface FaultContext {
  /** The chaos layer's seeded generator: numbers in `[0, 1)`. */
  random(): number;
  /** Aborts when the client goes away or the chaos layer is closed: stop waiting then. */
  readonly signal: AbortSignal;
}

/**
 * One kind of fault: a middleware that receives the request and `next` (the rest of the chain,
 * ending with the server's handler) and returns the response to send. The built-in ones are in
 * {@link faults}; a test can write its own.
 *
 * @example A custom fault that answers 418
 * ```ts
 * import { Chaos, createStashHandler, type Fault } from "@stash/client/testing";
 *
 * const teapot: Fault = { kind: "teapot", apply: () => Promise.resolve(new Response(null, { status: 418 })) };
 * using chaos = new Chaos({ rules: [{ path: "/kv/*", fault: teapot }] });
 * const handler = chaos.wrap(createStashHandler());
 * console.log((await handler(new Request("http://stash.test/kv/k"))).status); // 418
 * ```
 */
export interface Fault {
  /** A short name, used to count injections (`"latency"`, `"status"`, ...). */
  readonly kind: string;
  /** Produces the response for `request`; call `next()` to let the server answer. */
  apply(request: Request, next: () => Promise<Response>, context: FaultContext): Promise<Response>;
}

/** Options of {@link faults.status}. */
export interface StatusFaultOptions {
  /**
   * A `Retry-After` header: seconds, or an HTTP date.
   * @default undefined (none, as the real Stash server never sends one)
   */
  retryAfter?: number | string;
  /**
   * Extra response headers.
   * @default undefined
   */
  headers?: HeadersInit;
  /**
   * The body.
   * @default what the real server sends with that status (plain text for 401, 403 and 429,
   * JSON for 404 and 500, nothing for 413 and 503, the status text otherwise)
   */
  body?: string;
}

/** Where a body fault acts. */
export interface BodyFaultOptions {
  /**
   * Bytes of the original body sent before the fault acts.
   * @default 0 for {@link faults.breakBody} and {@link faults.stall}; half the body for
   * {@link faults.truncate}
   */
  afterBytes?: number;
}

/** Options of {@link faults.cutEvents}. */
export interface CutEventsOptions {
  /**
   * Complete events sent before the cut.
   * @default 0
   */
  afterEvents?: number;
  /**
   * Bytes of the next event sent before the cut (24 reaches into the JSON of a Stash event's
   * `data:` line).
   * @default 24
   */
  partialBytes?: number;
  /**
   * How the stream ends: `"error"` breaks the connection, `"close"` ends the stream cleanly.
   * @default "error"
   */
  end?: "error" | "close";
}

/** Options of {@link faults.reset}. */
export interface ResetFaultOptions {
  /**
   * Let the server handle the request before the connection breaks, so a write is applied
   * although the client sees a failure (its retry then finds the key existing).
   * @default false (the request never reaches the server)
   */
  afterHandler?: boolean;
}

/**
 * Headers that no mainstream `fetch` accepts in a response head: more than 100 (Deno's and
 * Rust hyper's limit) and more than 16 KiB (Node's). `Deno.serve` always writes the status line
 * before it starts a body, so a handler cannot close a connection before the headers; an
 * unacceptable head makes the client fail the same way, with a network error and no response.
 */
const OVERSIZED_HEAD_HEADERS = 128;
const OVERSIZED_HEAD_VALUE = "x".repeat(160);

/** Responses that stand for a connection reset before headers (for in-process fetch). */
export const RESET_RESPONSES: WeakSet<Response> = new WeakSet();

const utf8 = new TextEncoder();

/**
 * The built-in faults, each a {@link Fault} to give to a rule.
 */
export interface Faults {
  /**
   * Holds the request for `ms` milliseconds (or a seeded random time in `[min, max]`) before
   * the server sees it. Ends early, with a 503, when the client goes away.
   *
   * @example
   * ```ts
   * import { faults } from "@stash/client/testing";
   * console.log(faults.latency(50).kind); // latency
   * ```
   */
  latency(ms: number | readonly [number, number]): Fault;

  /**
   * Answers with `status` instead of the server, with the real server's body for it. With
   * `times`, a burst: `{ fault: faults.status(503), times: 3 }`. With `after`, a failure that
   * starts mid-way: `{ fault: faults.status(401), after: 10 }` is a token revoked after ten
   * requests.
   *
   * @example
   * ```ts
   * import { faults } from "@stash/client/testing";
   * const fault = faults.status(429, { retryAfter: 1 });
   * console.log(fault.kind); // status
   * ```
   */
  status(status: number, options?: StatusFaultOptions): Fault;

  /**
   * Answers 429 as Stash's rate limiter does: plain text and rate headers
   * (`RateLimit-Reset: <seconds>`), but no `Retry-After`.
   *
   * @example
   * ```ts
   * import { faults } from "@stash/client/testing";
   * console.log(faults.rateLimit().kind); // status
   * ```
   */
  rateLimit(options?: { reset?: number }): Fault;

  /**
   * Breaks the connection before any response header: the client's `fetch` rejects with a
   * network error. Over HTTP this sends a head no `fetch` accepts (see the README); with
   * {@link Chaos.fetchFor} the in-process fetch rejects directly.
   *
   * @example
   * ```ts
   * import { faults } from "@stash/client/testing";
   * console.log(faults.reset({ afterHandler: true }).kind); // reset
   * ```
   */
  reset(options?: ResetFaultOptions): Fault;

  /**
   * Sends the server's headers and the first `afterBytes` bytes of its body, then breaks the
   * connection: the client's body read fails (a reset after the headers). A body shorter than
   * that is sent whole and then broken.
   *
   * @example
   * ```ts
   * import { faults } from "@stash/client/testing";
   * console.log(faults.breakBody({ afterBytes: 3 }).kind); // breakBody
   * ```
   */
  breakBody(options?: BodyFaultOptions): Fault;

  /**
   * Sends the server's headers and the first `afterBytes` bytes of its body, then nothing:
   * the body stalls until the client gives up (its timeout) or the chaos layer is closed.
   *
   * @example
   * ```ts
   * import { faults } from "@stash/client/testing";
   * console.log(faults.stall().kind); // stall
   * ```
   */
  stall(options?: BodyFaultOptions): Fault;

  /**
   * Never answers: no headers, until the client gives up or the chaos layer is closed (then
   * 503). The request does not reach the server.
   *
   * @example
   * ```ts
   * import { faults } from "@stash/client/testing";
   * console.log(faults.hang().kind); // hang
   * ```
   */
  hang(): Fault;

  /**
   * Declares the full `Content-Length` but sends only the first `afterBytes` bytes (half by
   * default), then ends the response: the client sees a body cut short. For finite bodies;
   * an event stream is passed through unchanged (see {@link faults.cutEvents}).
   *
   * @example
   * ```ts
   * import { faults } from "@stash/client/testing";
   * console.log(faults.truncate({ afterBytes: 1 }).kind); // truncate
   * ```
   */
  truncate(options?: BodyFaultOptions): Fault;

  /**
   * Cuts an event stream in the middle of an event: sends `afterEvents` complete events, then
   * `partialBytes` of the next one, then breaks the connection (or ends the stream cleanly
   * with `end: "close"`). Other bodies are passed through unchanged.
   *
   * @example
   * ```ts
   * import { faults } from "@stash/client/testing";
   * console.log(faults.cutEvents({ afterEvents: 2, end: "close" }).kind); // cutEvents
   * ```
   */
  cutEvents(options?: CutEventsOptions): Fault;

  /**
   * Re-chunks the body into pieces of at most `size` bytes, each sent separately, so clients
   * meet lines, UTF-8 characters and events cut across reads.
   *
   * @example
   * ```ts
   * import { faults } from "@stash/client/testing";
   * console.log(faults.chunk(1).kind); // chunk
   * ```
   */
  chunk(size: number): Fault;

  /**
   * Rewrites every LF of an event stream as `ending` (`"\r\n"` or `"\r"`), as a server on
   * another platform might; combine with {@link faults.chunk} to split each CR from its LF.
   * Other bodies are passed through unchanged.
   *
   * @example
   * ```ts
   * import { faults } from "@stash/client/testing";
   * console.log(faults.lineEnding("\r\n").kind); // lineEnding
   * ```
   */
  lineEnding(ending: "\r\n" | "\r"): Fault;
}

/**
 * The built-in faults. Give one to a rule: `{ path: "/kv/*", fault: faults.status(503), times: 2 }`.
 *
 * @example Every kind of fault, each as a rule
 * ```ts
 * import { Chaos, faults } from "@stash/client/testing";
 *
 * using chaos = new Chaos({
 *   seed: 42,
 *   rules: [
 *     { method: "GET", fault: faults.latency([5, 20]) },
 *     { method: "PUT", fault: faults.status(503), times: 2 },
 *     { method: "PUT", fault: faults.status(429, { retryAfter: 0 }), times: 1 },
 *     { path: "/kv/flaky/*", fault: faults.reset(), every: 3 },
 *     { path: "/kv/subscribe/*", fault: faults.cutEvents({ afterEvents: 5 }) },
 *     { fault: faults.status(401), after: 100 },
 *   ],
 * });
 * console.log(chaos.rules.length); // 6
 * ```
 */
export const faults: Faults = {
  latency(ms: number | readonly [number, number]): Fault {
    const [min, max] = typeof ms === "number" ? [ms, ms] : ms;
    if (!(min >= 0 && max >= min && Number.isFinite(max))) {
      throw new RangeError(`latency must be ms ≥ 0 or [min, max] with min ≤ max, received ${ms}`);
    }
    return {
      kind: "latency",
      async apply(_request, next, context) {
        const wait = min + (max - min) * context.random();
        if (!(await delay(wait, context.signal))) return new Response(null, { status: 503 });
        return await next();
      },
    };
  },

  status(status: number, options: StatusFaultOptions = {}): Fault {
    if (!Number.isSafeInteger(status) || status < 200 || status > 599) {
      throw new RangeError(`status must be an HTTP status from 200 to 599, received ${status}`);
    }
    return {
      kind: "status",
      apply() {
        const headers = new Headers(options.headers);
        if (options.retryAfter !== undefined) headers.set("Retry-After", `${options.retryAfter}`);
        const [body, type] = options.body !== undefined
          ? [options.body, TEXT_CONTENT_TYPE]
          : defaultBody(status);
        if (type && body !== null && !headers.has("content-type")) {
          headers.set("Content-Type", type);
        }
        return Promise.resolve(new Response(body, { status, headers }));
      },
    };
  },

  rateLimit(options: { reset?: number } = {}): Fault {
    const reset = options.reset ?? 1;
    return faults.status(429, {
      body: "Too Many Requests\n",
      headers: {
        "RateLimit-Limit": "100",
        "RateLimit-Remaining": "0",
        "RateLimit-Reset": String(reset),
        "X-Rate-Limit-Limit": "100.00",
        "X-Rate-Limit-Duration": "1",
      },
    });
  },

  reset(options: ResetFaultOptions = {}): Fault {
    return {
      kind: "reset",
      async apply(_request, next) {
        if (options.afterHandler) await (await next()).body?.cancel().catch(() => {});
        const headers = new Headers({ "Content-Type": TEXT_CONTENT_TYPE });
        for (let i = 0; i < OVERSIZED_HEAD_HEADERS; i++) {
          headers.set(`X-Chaos-Reset-${i}`, OVERSIZED_HEAD_VALUE);
        }
        // A client that accepts the head anyway still sees a failure it may retry.
        const response = new Response("chaos: connection reset\n", { status: 502, headers });
        RESET_RESPONSES.add(response);
        return response;
      },
    };
  },

  breakBody(options: BodyFaultOptions = {}): Fault {
    return cutAfter("breakBody", options, "error");
  },

  stall(options: BodyFaultOptions = {}): Fault {
    return cutAfter("stall", options, "stall");
  },

  hang(): Fault {
    return {
      kind: "hang",
      async apply(_request, _next, context) {
        await delay(Infinity, context.signal);
        return new Response(null, { status: 503 });
      },
    };
  },

  truncate(options: BodyFaultOptions = {}): Fault {
    const wanted = options.afterBytes === undefined
      ? undefined
      : bytesOption(options.afterBytes, 0);
    return {
      kind: "truncate",
      async apply(_request, next) {
        const response = await next();
        if (!response.body || isEventStream(response)) return response;
        const bytes = new Uint8Array(await response.arrayBuffer());
        const keep = Math.min(wanted ?? Math.floor(bytes.byteLength / 2), bytes.byteLength);
        const headers = new Headers(response.headers);
        headers.set("Content-Length", String(bytes.byteLength));
        const body = new ReadableStream<Uint8Array>({
          start(controller) {
            if (keep > 0) controller.enqueue(bytes.slice(0, keep));
            controller.close();
          },
        });
        return withBody(response, keep === bytes.byteLength ? bytes : body, headers);
      },
    };
  },

  cutEvents(options: CutEventsOptions = {}): Fault {
    const afterEvents = bytesOption(options.afterEvents, 0, "afterEvents");
    const partial = bytesOption(options.partialBytes, 24, "partialBytes");
    const end = options.end ?? "error";
    if (end !== "error" && end !== "close") {
      throw new RangeError(`end must be "error" or "close", received ${end}`);
    }
    return bodyFault("cutEvents", () => {
      const events = new EventBoundaries();
      let partialSent = 0;
      return {
        chunk(bytes) {
          if (events.count < afterEvents) {
            const cut = events.scan(bytes, afterEvents);
            if (cut === bytes.byteLength) return { send: [bytes] };
            const rest = bytes.subarray(cut);
            const take = Math.min(partial, rest.byteLength);
            partialSent = take;
            return {
              send: [bytes.subarray(0, cut), rest.subarray(0, take)],
              end: take === partial ? end : undefined,
            };
          }
          const take = Math.min(partial - partialSent, bytes.byteLength);
          partialSent += take;
          return { send: [bytes.subarray(0, take)], end: partialSent >= partial ? end : undefined };
        },
      };
    }, (response) => isEventStream(response));
  },

  chunk(size: number): Fault {
    const limit = bytesOption(size, 1, "size");
    if (limit < 1) throw new RangeError(`size must be at least 1, received ${size}`);
    return bodyFault("chunk", () => ({
      chunk(bytes) {
        const send: Uint8Array[] = [];
        for (let i = 0; i < bytes.byteLength; i += limit) send.push(bytes.subarray(i, i + limit));
        return { send };
      },
    }));
  },

  lineEnding(ending: "\r\n" | "\r"): Fault {
    if (ending !== "\r\n" && ending !== "\r") {
      throw new RangeError(`ending must be "\\r\\n" or "\\r", received ${JSON.stringify(ending)}`);
    }
    const eol = utf8.encode(ending);
    return bodyFault("lineEnding", () => ({
      chunk(bytes) {
        const send: Uint8Array[] = [];
        let start = 0;
        for (let i = 0; i < bytes.byteLength; i++) {
          if (bytes[i] !== 0x0a) continue;
          send.push(bytes.subarray(start, i), eol);
          start = i + 1;
        }
        send.push(bytes.subarray(start));
        return { send };
      },
    }), (response) => isEventStream(response));
  },
};

/** A fault that reshapes the server's body with a fresh plan per response. */
function bodyFault(
  kind: string,
  plan: () => BodyPlan,
  applies: (response: Response) => boolean = () => true,
): Fault {
  return {
    kind,
    async apply(_request, next, context) {
      const response = await next();
      if (!response.body || !applies(response)) return response;
      const headers = new Headers(response.headers);
      headers.delete("content-length");
      return withBody(response, reshapeBody(response.body, plan(), context.signal), headers);
    },
  };
}

/** Counts the events of an SSE byte stream: an empty line (LF, CR or CRLF) ends one. */
class EventBoundaries {
  count = 0;
  #lineLength = 0;
  #afterCr = false;

  /**
   * Scans `bytes` until `target` events have ended; returns the offset just after the end of
   * the last one (or the length of `bytes` when fewer end in it).
   */
  scan(bytes: Uint8Array, target: number): number {
    for (let i = 0; i < bytes.byteLength; i++) {
      const byte = bytes[i];
      const afterCr = this.#afterCr;
      this.#afterCr = byte === 0x0d;
      if (byte === 0x0a && afterCr) continue; // the LF of a CRLF
      if (byte !== 0x0a && byte !== 0x0d) {
        this.#lineLength++;
        continue;
      }
      if (this.#lineLength === 0 && ++this.count === target) {
        // A CR may be followed by the LF of its CRLF: keep it with this event.
        const end = byte === 0x0d && bytes[i + 1] === 0x0a ? i + 2 : i + 1;
        this.#afterCr = false;
        return end;
      }
      this.#lineLength = 0;
    }
    return bytes.byteLength;
  }
}

function isEventStream(response: Response): boolean {
  return (response.headers.get("content-type") ?? "").startsWith("text/event-stream");
}

function defaultBody(status: number): [string | null, string | undefined] {
  switch (status) {
    case 401:
      return ["Unauthorized\n", TEXT_CONTENT_TYPE];
    case 403:
      return ["Forbidden\n", TEXT_CONTENT_TYPE];
    case 404:
      return ['{"error":"key not found"}\n', JSON_CONTENT_TYPE];
    case 429:
      return ["Too Many Requests\n", TEXT_CONTENT_TYPE];
    case 500:
      return ['{"error":"failed to handle request"}\n', JSON_CONTENT_TYPE];
    case 204:
    case 413:
    case 503:
      return [null, undefined];
  }
  return [`${status} chaos\n`, TEXT_CONTENT_TYPE];
}

function bytesOption(value: unknown, fallback: number, name = "afterBytes"): number {
  if (value === undefined) return fallback;
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value < 0) {
    throw new RangeError(`${name} must be an integer ≥ 0, received ${value}`);
  }
  return value;
}

/** Waits `ms` (Infinity: until aborted); resolves false when `signal` aborted first. */
function delay(ms: number, signal: AbortSignal): Promise<boolean> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve(false);
    const onAbort = () => {
      clearTimeout(timer);
      resolve(false);
    };
    const timer = ms === Infinity ? undefined : setTimeout(() => {
      signal.removeEventListener("abort", onAbort);
      resolve(true);
    }, ms);
    signal.addEventListener("abort", onAbort, { once: true });
  });
}

/** A body fault that passes `afterBytes` bytes, then ends the body the given way. */
function cutAfter(kind: string, options: BodyFaultOptions, end: "error" | "stall"): Fault {
  const limit = bytesOption(options.afterBytes, 0);
  return bodyFault(kind, () => {
    let sent = 0;
    return {
      chunk(bytes) {
        const room = limit - sent;
        sent += Math.min(room, bytes.byteLength);
        if (room > bytes.byteLength) return { send: [bytes] };
        return { send: [bytes.subarray(0, room)], end };
      },
      done: () => ({ send: [], end }),
    };
  });
}
