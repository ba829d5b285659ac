/**
 * The chaos layer: fault injection around any Stash fetch handler (the embedded server's, or
 * one a test serves through its own adapter), driven by rules that pick requests by method,
 * path and count, deterministic for a given seed, with counters of what it injected.
 *
 * @module
 */

import { type Fault, type FaultContext, RESET_RESPONSES } from "./chaos_faults.ts";
import { type ChaosMatch, Matcher } from "./chaos_match.ts";
import { seededRandom } from "./chaos_random.ts";
import type { FetchHandler } from "./listen.ts";

/**
 * A rule: which requests ({@link ChaosMatch}) get which fault.
 *
 * @example A 401 from the eleventh request on: the token was revoked mid-way
 * ```ts
 * import { type ChaosRule, faults } from "@stash/client/testing";
 *
 * const revoked: ChaosRule = { name: "revoked", path: "/kv/*", after: 10, fault: faults.status(401) };
 * console.log(revoked.name); // revoked
 * ```
 */
export interface ChaosRule extends ChaosMatch {
  /** The fault to inject. */
  fault: Fault;
  /**
   * A name for counters and {@link Injection}s.
   * @default the fault's kind
   */
  name?: string;
}

/** One injected fault, as reported to {@link ChaosOptions.onInject}. */
export interface Injection {
  /** The rule's name. */
  rule: string;
  /** The fault's kind. */
  kind: string;
  /** The request's method. */
  method: string;
  /** The request's percent-decoded path. */
  path: string;
  /** The request's number, from 1, among all requests the layer saw. */
  request: number;
}

/** Options of {@link Chaos}. */
export interface ChaosOptions {
  /**
   * Seed of the generator behind `probability` and random latencies: the same seed and the
   * same order of requests inject the same faults.
   * @default 1
   */
  seed?: number;
  /**
   * The first rules; more can be added with {@link Chaos.add}.
   * @default []
   */
  rules?: ChaosRule[];
  /**
   * Called with every injection, as it starts.
   * @default undefined
   */
  onInject?: (injection: Injection) => void;
}

/** A rule added to a {@link Chaos} layer: its counters, and a way to remove it. */
export interface RuleHandle {
  /** The rule's name. */
  readonly name: string;
  /** Requests that matched the rule's method and path. */
  readonly matched: number;
  /** Times its fault was injected. */
  readonly injected: number;
  /** Removes the rule; requests in flight keep their fault. */
  remove(): void;
}

interface ActiveRule {
  handle: RuleHandle;
  matcher: Matcher;
  fault: Fault;
}

/**
 * Fault injection around a fetch handler. Give {@link Chaos.wrap} to `startTestServer`, or wrap
 * `createStashHandler()` yourself and serve it with any adapter, or call it in process with
 * {@link Chaos.fetchFor}. For each request, every rule whose selection fires adds its fault
 * around the server's handler (a latency rule and a chunking rule can both apply). Faults nest
 * in rule order: the first rule's fault is the outermost, it sees the request first and
 * reshapes the response last.
 *
 * Held requests (latency, hangs, stalled bodies) end when their client goes away or when the
 * layer is closed, so a server can always shut down.
 *
 * @example Two 503s, then the client's retries get through
 * ```ts
 * import { Client } from "@stash/client";
 * import { Chaos, faults, startTestServer } from "@stash/client/testing";
 *
 * using chaos = new Chaos({ rules: [{ method: "PUT", fault: faults.status(503), times: 2 }] });
 * await using server = await startTestServer({ wrap: chaos.wrap });
 * using client = new Client(server.url, { retryDelay: 1 });
 *
 * await client.set("app/config", "v1");
 * console.log(chaos.injected, chaos.count("status")); // 2 2
 * console.log(server.store.get("app/config")?.value.length); // 2
 * ```
 */
export class Chaos implements Disposable {
  readonly #rules: ActiveRule[] = [];
  readonly #random: () => number;
  readonly #lifetime = new AbortController();
  readonly #counts = new Map<string, number>();
  readonly #onInject: ((injection: Injection) => void) | undefined;
  #requests = 0;
  #injected = 0;

  /** Creates a layer; throws `TypeError`/`RangeError` naming a bad option or rule field. */
  constructor(options: ChaosOptions = {}) {
    this.#random = seededRandom(options.seed ?? 1);
    if (options.onInject !== undefined && typeof options.onInject !== "function") {
      throw new TypeError(`onInject must be a function, received ${typeof options.onInject}`);
    }
    this.#onInject = options.onInject;
    for (const rule of options.rules ?? []) this.add(rule);
  }

  /** The rules in force, in order. */
  get rules(): readonly RuleHandle[] {
    return this.#rules.map((rule) => rule.handle);
  }

  /** Requests the layer has seen. */
  get requests(): number {
    return this.#requests;
  }

  /** Faults injected so far, all rules together. */
  get injected(): number {
    return this.#injected;
  }

  /** True once {@link Chaos.close} was called. */
  get closed(): boolean {
    return this.#lifetime.signal.aborted;
  }

  /** Faults of this kind (`"status"`, `"reset"`, ...) injected so far. */
  count(kind: string): number {
    return this.#counts.get(kind) ?? 0;
  }

  /**
   * Adds a rule after the others and returns its handle.
   *
   * @example
   * ```ts
   * import { Chaos, faults } from "@stash/client/testing";
   *
   * using chaos = new Chaos();
   * const slow = chaos.add({ method: "GET", fault: faults.latency(10) });
   * console.log(slow.name, slow.injected); // latency 0
   * slow.remove();
   * ```
   */
  add(rule: ChaosRule): RuleHandle {
    if (typeof rule !== "object" || rule === null) {
      throw new TypeError(`rule must be an object, received ${rule}`);
    }
    const fault = rule.fault;
    if (typeof fault?.apply !== "function" || typeof fault.kind !== "string") {
      throw new TypeError("rule.fault must be a Fault: { kind: string, apply() }");
    }
    const matcher = new Matcher(rule);
    const rules = this.#rules;
    const name = rule.name ?? fault.kind;
    let injected = 0;
    const handle: RuleHandle = {
      name,
      get matched() {
        return matcher.matched;
      },
      get injected() {
        return injected;
      },
      remove() {
        const index = rules.findIndex((r) => r.handle === handle);
        if (index >= 0) rules.splice(index, 1);
      },
    };
    const counted: Fault = {
      kind: fault.kind,
      apply: (request, next, context) => {
        injected++;
        return fault.apply(request, next, context);
      },
    };
    rules.push({ handle, matcher, fault: counted });
    return handle;
  }

  /** Removes every rule: requests pass through untouched until new rules are added. */
  clear(): void {
    this.#rules.length = 0;
  }

  /**
   * Wraps `handler` so that requests meet the rules' faults. A bound function: pass it as
   * `startTestServer({ wrap: chaos.wrap })`.
   *
   * @example With your own adapter
   * ```ts
   * import { Chaos, createStashHandler, faults } from "@stash/client/testing";
   *
   * using chaos = new Chaos({ rules: [{ fault: faults.status(500), times: 1 }] });
   * const handler = chaos.wrap(createStashHandler());
   * // Deno.serve(handler), or a Node adapter around it.
   * const first = await handler(new Request("http://stash.test/kv/k"));
   * const second = await handler(new Request("http://stash.test/kv/k"));
   * console.log(first.status, second.status); // 500 404
   * await Promise.all([first.body?.cancel(), second.body?.cancel()]);
   * ```
   */
  readonly wrap = (handler: FetchHandler): FetchHandler => {
    if (typeof handler !== "function") {
      throw new TypeError(`handler must be a function, received ${typeof handler}`);
    }
    return (request) => this.#handle(request, handler);
  };

  /**
   * An in-process `fetch` that sends requests through the rules to `handler`, without a port;
   * a {@link faults.reset} rejects it with a `TypeError`, as a network error would. Give it to a
   * client as its `fetch` option.
   *
   * @example
   * ```ts
   * import { Client } from "@stash/client";
   * import { Chaos, createStashHandler, faults } from "@stash/client/testing";
   *
   * using chaos = new Chaos({ rules: [{ fault: faults.reset(), times: 1 }] });
   * using client = new Client("http://stash.test", {
   *   fetch: chaos.fetchFor(createStashHandler()),
   *   retryDelay: 1,
   * });
   * await client.set("k", "v"); // the first attempt is reset, the retry succeeds
   * console.log(chaos.count("reset")); // 1
   * ```
   */
  fetchFor(
    handler: FetchHandler,
  ): (input: Request | URL | string, init?: RequestInit) => Promise<Response> {
    const wrapped = this.wrap(handler);
    return async (input, init) => {
      const request = new Request(input, init);
      if (request.signal.aborted) throw request.signal.reason;
      const response = await wrapped(request);
      if (RESET_RESPONSES.has(response)) {
        await response.body?.cancel();
        throw new TypeError("chaos: connection reset before the response headers");
      }
      return response;
    };
  }

  /** Stops injecting and releases every held request and stalled body. Idempotent. */
  close(): void {
    if (this.closed) return;
    this.#rules.length = 0;
    this.#lifetime.abort();
  }

  /** Closes the layer at the end of a `using` block. */
  [Symbol.dispose](): void {
    this.close();
  }

  #handle(request: Request, handler: FetchHandler): Promise<Response> {
    const number = ++this.#requests;
    if (this.#rules.length === 0) return handler(request);
    const method = request.method;
    const path = requestPath(request.url);
    const chosen: ActiveRule[] = [];
    for (const rule of [...this.#rules]) {
      if (rule.matcher.pick(method, path, this.#random)) chosen.push(rule);
    }
    if (chosen.length === 0) return handler(request);

    const lifetime = this.#lifetime.signal;
    let signal: AbortSignal | undefined;
    const context: FaultContext = {
      random: this.#random,
      get signal() {
        return signal ??= holdSignal(request, lifetime);
      },
    };
    const run = (index: number): Promise<Response> => {
      if (index === chosen.length) return handler(request);
      const { fault, handle } = chosen[index];
      this.#injected++;
      this.#counts.set(fault.kind, (this.#counts.get(fault.kind) ?? 0) + 1);
      this.#onInject?.({ rule: handle.name, kind: fault.kind, method, path, request: number });
      return fault.apply(request, () => run(index + 1), context);
    };
    return run(0);
  }
}

/** The percent-decoded path of a URL (the raw one when it does not decode). */
function requestPath(url: string): string {
  const raw = new URL(url).pathname;
  try {
    return decodeURIComponent(raw);
  } catch {
    return raw;
  }
}

/**
 * Aborts when the client goes away or the layer closes. The request's signal is only touched
 * here, when a fault holds the request: reading it makes Deno warn under its legacy aborts.
 */
function holdSignal(request: Request, lifetime: AbortSignal): AbortSignal {
  return AbortSignal.any([request.signal, lifetime]);
}
