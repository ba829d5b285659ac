/**
 * Which requests a chaos rule picks: by method, by path, and by count (skip the first ones,
 * then every n-th, at most so many times, or at random with a seeded generator).
 *
 * @module
 */

/**
 * The selection part of a chaos rule. Every field is optional: an empty selection picks every
 * request. Counting fields count the requests that match `method` and `path`, in the order the
 * server received them.
 *
 * @example A burst of three, after the first ten writes under `app/`
 * ```ts
 * import type { ChaosMatch } from "@stash/client/testing";
 *
 * const match: ChaosMatch = { method: "PUT", path: "/kv/app/*", after: 10, times: 3 };
 * console.log(match.times); // 3
 * ```
 */
export interface ChaosMatch {
  /**
   * HTTP method(s) to pick, upper case (`"GET"`, `["PUT", "DELETE"]`).
   * @default undefined (every method)
   */
  method?: string | readonly string[];
  /**
   * The URL path to pick, percent-decoded, base path included: a string where `*` stands for
   * any run of characters (`"/kv/app/*"`, `"/kv/subscribe/*"`), a `RegExp`, or a predicate.
   * @default undefined (every path)
   */
  path?: string | RegExp | ((path: string) => boolean);
  /**
   * Matching requests to let through untouched before the rule may fire: `after: 5` with a
   * 401 fault is a token that stops working at the sixth request.
   * @default 0
   */
  after?: number;
  /**
   * Fire on every n-th candidate only (after `after`): `every: 3` picks the 3rd, 6th, ...
   * @default 1
   */
  every?: number;
  /**
   * Probability (0 to 1) that a candidate is picked, drawn from the chaos layer's seeded
   * generator.
   * @default 1
   */
  probability?: number;
  /**
   * Most times the rule fires; then it lets everything through. `times: 2` with a 503 fault
   * is a burst of two failures.
   * @default Infinity
   */
  times?: number;
}

/** A checked selection that counts what it saw. */
export class Matcher {
  readonly #methods: ReadonlySet<string> | undefined;
  readonly #path: ((path: string) => boolean) | undefined;
  readonly #after: number;
  readonly #every: number;
  readonly #probability: number;
  readonly #times: number;
  #matched = 0;
  #fired = 0;

  /** Checks `match`; throws `TypeError`/`RangeError` naming a bad field. */
  constructor(match: ChaosMatch) {
    const { method, path, after = 0, every = 1, probability = 1, times = Infinity } = match;
    if (method !== undefined) {
      const list = typeof method === "string" ? [method] : method;
      if (!Array.isArray(list) || !list.every((m) => typeof m === "string")) {
        throw new TypeError(`method must be a string or an array of strings, received ${method}`);
      }
      this.#methods = new Set(list.map((m) => m.toUpperCase()));
    }
    this.#path = pathTest(path);
    this.#after = whole("after", after, 0);
    this.#every = whole("every", every, 1);
    if (typeof probability !== "number" || !(probability >= 0 && probability <= 1)) {
      throw new RangeError(`probability must be a number from 0 to 1, received ${probability}`);
    }
    this.#probability = probability;
    this.#times = times === Infinity ? Infinity : whole("times", times, 0);
  }

  /** Requests that matched `method` and `path` so far. */
  get matched(): number {
    return this.#matched;
  }

  /** Times the rule fired so far. */
  get fired(): number {
    return this.#fired;
  }

  /** Counts the request if it matches, and tells whether the rule fires for it. */
  pick(method: string, path: string, random: () => number): boolean {
    if (this.#methods && !this.#methods.has(method)) return false;
    if (this.#path && !this.#path(path)) return false;
    const index = this.#matched++ - this.#after;
    if (index < 0 || (index + 1) % this.#every !== 0) return false;
    if (this.#fired >= this.#times) return false;
    if (this.#probability < 1 && !(random() < this.#probability)) return false;
    this.#fired++;
    return true;
  }
}

function pathTest(path: ChaosMatch["path"]): ((path: string) => boolean) | undefined {
  if (path === undefined) return undefined;
  if (typeof path === "function") return path;
  if (path instanceof RegExp) return (p) => path.test(p);
  if (typeof path !== "string") {
    throw new TypeError(`path must be a string, a RegExp or a function, received ${typeof path}`);
  }
  const source = path.split("*").map((part) => part.replace(/[.+?^${}()|[\]\\]/g, "\\$&"));
  const pattern = new RegExp(`^${source.join(".*")}$`, "s");
  return (p) => pattern.test(p);
}

function whole(name: string, value: unknown, min: number): number {
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value < min) {
    throw new RangeError(`${name} must be an integer ≥ ${min}, received ${value}`);
  }
  return value;
}
