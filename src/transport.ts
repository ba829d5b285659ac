/**
 * One logical request: a deadline per attempt that stays armed until the body is read,
 * retries with backoff, and the mapping of failures to typed errors.
 *
 * @module
 */

import { ClientClosedError, ConnectionError, ResponseError, type StashError } from "./errors.ts";
import type { FetchLike } from "./options.ts";
import { Deadlines } from "./deadlines.ts";
import { backoffDelay, isRetryableStatus, serverDelay, sleep } from "./retry.ts";
import { type CallContext, errorForStatus } from "./status.ts";

/** How the transport sends requests; fixed for a client's lifetime. */
export interface TransportConfig {
  baseUrl: URL;
  fetch: FetchLike;
  headers: Headers;
  timeout: number;
  retries: number;
  retryDelay: number;
  maxRetryDelay: number;
  maxResponseSize: number;
  /** Aborted when the client closes: every call in flight ends. */
  lifetime: AbortSignal;
}

/** One request to send. */
export interface RequestSpec extends CallContext {
  /** Path below the base URL, already encoded, starting with `/`. */
  path: string;
  query?: Record<string, string>;
  /** A string is sent as UTF-8. */
  body?: Uint8Array | string;
  headers?: Record<string, string>;
  signal?: AbortSignal;
  timeout: number;
  /** Statuses that are answers rather than errors. */
  accept: readonly number[];
  /**
   * Statuses that also count as success on a retry after an attempt whose answer was lost (a
   * network error or timeout): that attempt may have been applied, like a DELETE whose retry
   * then finds the key gone.
   */
  acceptAfterLostAnswer?: readonly number[];
}

/** A response whose body has been read completely. */
export interface CompleteResponse {
  status: number;
  headers: Headers;
  body: Uint8Array;
}

/** Marks an attempt that ran out of time, to tell it from a caller's abort. */
class AttemptTimeout extends Error {}

/** Sends requests for one client. */
export class Transport {
  #config: TransportConfig;
  // Precomputed once: building URL and Headers objects per request shows in the benchmarks.
  #base: string;
  #headers: Record<string, string>;
  /** Credential strings to blank out of server messages, longest first. */
  #credentials: string[];
  /**
   * Attempts in flight, aborted together when the client closes: one listener on the lifetime
   * signal instead of one per request, which under a thousand concurrent calls costs O(n²).
   */
  #inFlight = new Set<AbortController>();
  /** One timer for the deadlines of every attempt in flight. */
  #deadlines = new Deadlines();
  /** Merged headers per extra-headers object: callers pass constant ones (one per format). */
  #merged = new WeakMap<Record<string, string>, Record<string, string>>();

  /** Creates a transport with a fixed configuration. */
  constructor(config: TransportConfig) {
    this.#config = config;
    const { origin, pathname } = config.baseUrl;
    // The base path is kept without a trailing slash ("" for the root), so paths append.
    this.#base = origin + pathname.replace(/\/+$/, "");
    this.#headers = Object.fromEntries(config.headers);
    config.lifetime.addEventListener("abort", () => {
      for (const controller of this.#inFlight) controller.abort(config.lifetime.reason);
    }, { once: true });
    const sent = ["authorization", "x-auth-token"].map((name) => config.headers.get(name) ?? "");
    const bare = sent.map((value) => value.replace(/^Bearer\s+/i, ""));
    this.#credentials = [...new Set([...sent, ...bare])].filter((value) => value.length > 0)
      .sort((a, b) => b.length - a.length);
  }

  /**
   * The typed error for an unsuccessful answer. A server or proxy may echo the request's
   * credentials in its error body: they are blanked before the body becomes a message.
   */
  errorFor(status: number, body: string, context: CallContext): StashError {
    let text = body;
    for (const credential of this.#credentials) text = text.replaceAll(credential, "***");
    return errorForStatus(status, text, context);
  }

  /** The URL of `path` (already encoded, starting with `/`) below the base URL. */
  url(path: string, query?: Record<string, string>): string {
    const search = query ? `?${new URLSearchParams(query)}` : "";
    return this.#base + path + search;
  }

  /** Headers for a request: the client's own, then the request's (names are lower case). */
  headers(extra?: Record<string, string>): Record<string, string> {
    if (!extra) return this.#headers;
    let headers = this.#merged.get(extra);
    if (!headers) {
      headers = { ...this.#headers };
      for (const name in extra) headers[name.toLowerCase()] = extra[name];
      this.#merged.set(extra, headers);
    }
    return headers;
  }

  /**
   * Sends `spec`, retrying what a retry can cure, and returns the response once its body is
   * read. Any status outside `spec.accept` becomes a typed error.
   */
  async send(spec: RequestSpec): Promise<CompleteResponse> {
    const { retries, retryDelay, maxRetryDelay, lifetime } = this.#config;
    const context = { method: spec.method, key: spec.key };
    let answerLost = false;
    for (let attempt = 0;; attempt++) {
      const last = attempt === retries;
      let outcome: CompleteResponse | StashError;
      try {
        outcome = await this.#attempt(spec);
      } catch (error) {
        this.#throwIfStopped(spec, context);
        const timedOut = error instanceof AttemptTimeout;
        if (last) throw connectionError(error, timedOut, attempt + 1, spec);
        answerLost = true;
        await sleep(
          backoffDelay(attempt, retryDelay, maxRetryDelay),
          anySignal(spec.signal, lifetime),
        )
          .catch(() => this.#throwIfStopped(spec, context));
        continue;
      }
      if (outcome instanceof Error) throw outcome;
      if (spec.accept.includes(outcome.status)) return outcome;
      if (answerLost && spec.acceptAfterLostAnswer?.includes(outcome.status)) return outcome;
      const failure = this.errorFor(outcome.status, decodeLoose(outcome.body), context);
      if (last || !isRetryableStatus(outcome.status)) throw failure;
      const wanted = serverDelay(outcome.headers);
      if (wanted !== undefined && wanted > maxRetryDelay) throw failure;
      const delay = wanted ?? backoffDelay(attempt, retryDelay, maxRetryDelay);
      await sleep(delay, anySignal(spec.signal, lifetime))
        .catch(() => this.#throwIfStopped(spec, context));
    }
  }

  /** Opens a streaming response (no deadline: a Stash stream sends headers with its first event). */
  async open(spec: Omit<RequestSpec, "timeout">, signal: AbortSignal): Promise<Response> {
    return await this.#config.fetch(this.url(spec.path, spec.query), {
      method: spec.method,
      headers: this.headers(spec.headers),
      signal,
      redirect: "manual",
    });
  }

  /** One attempt: fetch and read the whole body under a single deadline. */
  async #attempt(spec: RequestSpec): Promise<CompleteResponse | StashError> {
    const controller = new AbortController();
    this.#deadlines.add(controller, spec.timeout, () => new AttemptTimeout());
    const unlink = follow(controller, spec.signal);
    // Closing the client aborts every attempt in #inFlight; one that starts after it never runs.
    const { lifetime } = this.#config;
    if (lifetime.aborted) controller.abort(lifetime.reason);
    this.#inFlight.add(controller);
    try {
      const response = await this.#config.fetch(this.url(spec.path, spec.query), {
        method: spec.method,
        headers: this.headers(spec.headers),
        body: spec.body as Uint8Array<ArrayBuffer> | string | undefined,
        signal: controller.signal,
        redirect: "manual",
      });
      if (response.type === "opaqueredirect" || (response.status >= 300 && response.status < 400)) {
        await response.body?.cancel();
        return redirectError(response, spec);
      }
      const body = await readBody(response, this.#config.maxResponseSize, spec);
      if (body instanceof Error) return body;
      return { status: response.status, headers: response.headers, body };
    } catch (error) {
      // An abort surfaces as the fetch's own AbortError; report why it was aborted instead.
      if (controller.signal.aborted) throw controller.signal.reason;
      throw error;
    } finally {
      this.#deadlines.remove(controller);
      unlink();
      this.#inFlight.delete(controller);
    }
  }

  #throwIfStopped(spec: RequestSpec, context: CallContext): void {
    if (spec.signal?.aborted) throw spec.signal.reason;
    if (this.#config.lifetime.aborted) throw new ClientClosedError(context);
  }
}

/** Reads a body up to `limit` bytes; a larger one is a typed error, never unbounded memory. */
async function readBody(
  response: Response,
  limit: number,
  spec: RequestSpec,
): Promise<Uint8Array | StashError> {
  if (!response.body || spec.method === "HEAD") {
    await response.body?.cancel();
    return new Uint8Array(0);
  }
  const declared = Number(response.headers.get("content-length") ?? NaN);
  if (declared > limit) {
    await response.body.cancel();
    return tooLarge(response.status, limit, spec);
  }
  // A declared length within the limit bounds the read: take the runtime's fast path.
  if (declared <= limit) {
    const body = new Uint8Array(await response.arrayBuffer());
    return body.byteLength > limit ? tooLarge(response.status, limit, spec) : body;
  }
  const chunks: Uint8Array[] = [];
  let size = 0;
  const reader = response.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > limit) {
      await reader.cancel();
      return tooLarge(response.status, limit, spec);
    }
    chunks.push(value);
  }
  if (chunks.length === 1) return chunks[0];
  const body = new Uint8Array(size);
  let offset = 0;
  for (const chunk of chunks) {
    body.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return body;
}

function tooLarge(status: number, limit: number, spec: RequestSpec): StashError {
  return new ResponseError(status, `response body larger than maxResponseSize (${limit} bytes)`, {
    method: spec.method,
    key: spec.key,
  });
}

function redirectError(response: Response, spec: RequestSpec): StashError {
  // Redirects are not followed: they could carry the token to another origin.
  const location = response.headers.get("location");
  const where = location ? ` to ${location}` : "";
  return new ResponseError(
    response.status,
    `the server redirected${where}; redirects are not followed (check baseUrl and the key)`,
    { method: spec.method, key: spec.key },
  );
}

function connectionError(
  error: unknown,
  timedOut: boolean,
  attempts: number,
  spec: RequestSpec,
): ConnectionError {
  const tries = attempts === 1 ? "1 attempt" : `${attempts} attempts`;
  const message = timedOut
    ? `timed out after ${spec.timeout} ms (${tries})`
    : `could not reach the server (${tries}): ${(error as Error)?.message ?? String(error)}`;
  return new ConnectionError(message, { timedOut, attempts }, {
    method: spec.method,
    key: spec.key,
    cause: timedOut ? undefined : error,
  });
}

/** Aborts `controller` when any of `signals` aborts; returns the function that unlinks them. */
export function follow(
  controller: AbortController,
  ...signals: (AbortSignal | undefined)[]
): () => void {
  const linked: AbortSignal[] = [];
  const onAbort = (event: Event) => controller.abort((event.target as AbortSignal).reason);
  for (const signal of signals) {
    if (!signal) continue;
    if (signal.aborted) {
      controller.abort(signal.reason);
      break;
    }
    signal.addEventListener("abort", onAbort, { once: true });
    linked.push(signal);
  }
  return () => linked.forEach((signal) => signal.removeEventListener("abort", onAbort));
}

function anySignal(...signals: (AbortSignal | undefined)[]): AbortSignal {
  const present = signals.filter((signal): signal is AbortSignal => signal !== undefined);
  return present.length === 1 ? present[0] : AbortSignal.any(present);
}

const looseDecoder = new TextDecoder();

function decodeLoose(body: Uint8Array): string {
  return looseDecoder.decode(body.subarray(0, 4096));
}
