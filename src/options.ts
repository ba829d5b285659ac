/**
 * Client options: their types, defaults and validation.
 *
 * @module
 */

import type { Format } from "./format.ts";

/** The `fetch` the client calls; tests and special runtimes may inject their own. */
export type FetchLike = (input: Request | URL | string, init?: RequestInit) => Promise<Response>;

/** Options of {@link Client}. */
export interface ClientOptions {
  /**
   * API token, sent as `Authorization: Bearer <token>`. Never appears in errors or logs.
   * @default {undefined} no authentication
   */
  token?: string;
  /**
   * Milliseconds each attempt may take, reading the whole response body included.
   * @default {30000}
   */
  timeout?: number;
  /**
   * Retries after the first attempt, for network errors, timeouts and HTTP 408, 429, 500,
   * 502, 503 and 504 (every Stash operation is idempotent).
   * @default {3}
   */
  retries?: number;
  /**
   * First retry delay in milliseconds; it doubles per retry, with jitter.
   * @default {200}
   */
  retryDelay?: number;
  /**
   * Longest wait between two attempts, in milliseconds. A `Retry-After` longer than this is
   * not waited for: the call fails with the server's answer instead.
   * @default {10000}
   */
  maxRetryDelay?: number;
  /**
   * Passphrase for zero-knowledge encryption (at least 16 UTF-8 bytes). With it, values are
   * encrypted before they leave the client and decrypted after they arrive.
   * @default {undefined} values are sent as they are
   */
  zkKey?: string | Uint8Array;
  /**
   * Precompiled Argon2id WebAssembly, for runtimes that refuse to compile WebAssembly from
   * bytes (Cloudflare Workers). See the README, "Cloudflare Workers".
   * @default {undefined} `hash-wasm`'s own modules, picked up on first use
   */
  zkWasm?: ZkWasmModules;
  /**
   * The `fetch` to use.
   * @default {globalThis.fetch}
   */
  fetch?: FetchLike;
  /**
   * Extra headers sent with every request.
   * @default {undefined}
   */
  headers?: HeadersInit;
  /**
   * Largest response body the client reads, in bytes; a larger one is a `ResponseError`.
   * @default {67108864} (64 MiB)
   */
  maxResponseSize?: number;
}

/**
 * The Argon2id core's WebAssembly, precompiled (what a Worker's `.wasm` import gives) or as
 * bytes. `deno task zk:wasm` writes both files from the installed `hash-wasm` package.
 */
export interface ZkWasmModules {
  /** `hash-wasm`'s Argon2 module. */
  argon2: WebAssembly.Module | BufferSource;
  /** `hash-wasm`'s BLAKE2b module. */
  blake2b: WebAssembly.Module | BufferSource;
}

/** Options every call accepts. */
export interface CallOptions {
  /** Aborts the whole call, retries included. */
  signal?: AbortSignal;
  /**
   * Milliseconds each attempt of this call may take.
   * @default {ClientOptions.timeout}
   */
  timeout?: number;
}

/** Options of {@link Client.set}. */
export interface SetOptions extends CallOptions {
  /**
   * The value's format, one of `text json yaml xml toml ini hcl shell`.
   * @default {"text"}
   */
  format?: Format;
}

/** Options after validation, with every default applied. */
export interface ResolvedOptions {
  baseUrl: URL;
  timeout: number;
  retries: number;
  retryDelay: number;
  maxRetryDelay: number;
  zkKey: string | Uint8Array | undefined;
  zkWasm: ZkWasmModules | undefined;
  fetch: FetchLike;
  headers: Headers;
  maxResponseSize: number;
}

const DEFAULTS = {
  timeout: 30_000,
  retries: 3,
  retryDelay: 200,
  maxRetryDelay: 10_000,
  maxResponseSize: 64 * 1024 * 1024,
};

/** Validates the constructor's arguments; throws `TypeError`/`RangeError` naming the option. */
export function resolveOptions(baseUrl: unknown, options: unknown): ResolvedOptions {
  if (options === undefined || options === null) options = {};
  if (typeof options !== "object") {
    throw new TypeError(`options must be an object, received ${typeof options}`);
  }
  const o = options as Record<string, unknown>;
  const token = o.token;
  if (token !== undefined && (typeof token !== "string" || token === "" || /[\r\n]/.test(token))) {
    throw new TypeError(
      `token must be a non-empty string without line breaks, received ${describeSecret(token)}`,
    );
  }
  const zkKey = o.zkKey;
  if (zkKey !== undefined && typeof zkKey !== "string" && !(zkKey instanceof Uint8Array)) {
    throw new TypeError(`zkKey must be a string or a Uint8Array, received ${typeof zkKey}`);
  }
  const fetchFn = o.fetch ?? globalThis.fetch;
  if (typeof fetchFn !== "function") {
    throw new TypeError(`fetch must be a function, received ${typeof o.fetch}`);
  }
  const zkWasm = o.zkWasm as ZkWasmModules | undefined;
  if (zkWasm !== undefined && !(isWasm(zkWasm?.argon2) && isWasm(zkWasm?.blake2b))) {
    throw new TypeError(
      "zkWasm must be { argon2, blake2b }, each a WebAssembly.Module or the bytes of one",
    );
  }
  let headers: Headers;
  try {
    headers = new Headers(o.headers as HeadersInit | undefined);
  } catch (error) {
    throw new TypeError(`headers must be valid HTTP headers: ${(error as Error).message}`);
  }
  if (token !== undefined) headers.set("Authorization", `Bearer ${token}`);
  return {
    baseUrl: resolveBaseUrl(baseUrl),
    timeout: positive("timeout", o.timeout ?? DEFAULTS.timeout),
    retries: count("retries", o.retries ?? DEFAULTS.retries),
    retryDelay: count("retryDelay", o.retryDelay ?? DEFAULTS.retryDelay),
    maxRetryDelay: count("maxRetryDelay", o.maxRetryDelay ?? DEFAULTS.maxRetryDelay),
    zkKey: zkKey as string | Uint8Array | undefined,
    zkWasm,
    // Called without a receiver: browsers and workerd refuse fetch() with another `this`.
    fetch: (input, init) => (fetchFn as FetchLike)(input, init),
    headers,
    maxResponseSize: positive(
      "maxResponseSize",
      o.maxResponseSize ?? DEFAULTS.maxResponseSize,
      "bytes",
    ),
  };
}

/** Checks a per-call timeout. */
export function resolveTimeout(timeout: unknown, fallback: number): number {
  return timeout === undefined ? fallback : positive("timeout", timeout);
}

function resolveBaseUrl(baseUrl: unknown): URL {
  if (typeof baseUrl !== "string" && !(baseUrl instanceof URL)) {
    throw new TypeError(`baseUrl must be a string or URL, received ${typeof baseUrl}`);
  }
  let url: URL;
  try {
    url = new URL(baseUrl);
  } catch {
    throw new TypeError(`baseUrl must be an absolute http(s) URL, received "${baseUrl}"`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new TypeError(`baseUrl must use http or https, received "${url.protocol}"`);
  }
  if (url.username || url.password) {
    throw new TypeError("baseUrl must not carry credentials; use the token option");
  }
  if (url.search || url.hash) {
    throw new TypeError(`baseUrl must not have a query or fragment, received "${url.origin}..."`);
  }
  return url;
}

function isWasm(value: unknown): boolean {
  return value instanceof WebAssembly.Module || value instanceof ArrayBuffer ||
    ArrayBuffer.isView(value);
}

/** Longest delay `setTimeout` honours; a longer one fires at once. */
export const MAX_TIMER_DELAY = 2_147_483_647;

/** Checks a delay option; throws `TypeError`/`RangeError` naming it. */
export function checkDelay(name: string, value: unknown): number {
  if (typeof value !== "number") {
    throw new TypeError(`${name} must be a number of milliseconds, received ${typeof value}`);
  }
  if (!(value > 0 && value <= MAX_TIMER_DELAY)) {
    throw new RangeError(
      `${name} must be a number of milliseconds from 1 to ${MAX_TIMER_DELAY}, received ${value}`,
    );
  }
  return value;
}

/** Checks a positive integer option; throws `TypeError`/`RangeError` naming it. */
export function checkCount(name: string, value: unknown): number {
  if (typeof value !== "number") {
    throw new TypeError(`${name} must be a positive integer, received ${typeof value}`);
  }
  if (!Number.isSafeInteger(value) || value < 1) {
    throw new RangeError(`${name} must be a positive integer, received ${value}`);
  }
  return value;
}

function positive(name: string, value: unknown, unit = "milliseconds"): number {
  if (typeof value !== "number" || !Number.isFinite(value) || value <= 0) {
    throw new RangeError(`${name} must be a positive number of ${unit}, received ${value}`);
  }
  // A longer timer fires at once in every runtime: the call would time out immediately.
  if (unit === "milliseconds" && value > MAX_TIMER_DELAY) {
    throw new RangeError(
      `${name} must be at most ${MAX_TIMER_DELAY} milliseconds, received ${value}`,
    );
  }
  return value;
}

function count(name: string, value: unknown): number {
  if (typeof value !== "number" || !Number.isInteger(value) || value < 0) {
    throw new RangeError(`${name} must be a whole number ≥ 0, received ${value}`);
  }
  return value;
}

function describeSecret(value: unknown): string {
  return typeof value === "string" ? `a string of length ${value.length}` : typeof value;
}
