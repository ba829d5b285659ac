/**
 * Options of the embedded server and their checks.
 *
 * @module
 */

import type { AuthConfig } from "./auth.ts";
import type { MemoryStore } from "./store.ts";
import type { SseOptions } from "./sse_hub.ts";

/** How the embedded server behaves; every default matches a stock Stash server. */
export interface StashServerOptions {
  /**
   * Tokens and permissions, in the shape of the server's auth file. Without it, auth is off
   * and every request is allowed.
   * @default undefined (auth off)
   */
  auth?: AuthConfig;
  /**
   * Whether the server has a master key. Without one, every request for a secret path (a key
   * with a `secrets` segment) is refused with 400 `secrets not configured`.
   * @default false
   */
  secrets?: boolean;
  /**
   * Largest accepted PUT body in bytes; a larger one gets 413 with an empty body.
   * @default 1048576 (1 MiB)
   */
  bodyLimit?: number;
  /**
   * Path the server is mounted under, like `--server.base-url` (`"/stash"` serves
   * `/stash/kv/...`).
   * @default "" (mounted at the root)
   */
  basePath?: string;
  /**
   * Answers CORS, preflight included, so browser tests on another origin can call it.
   * The real server has no CORS: keep this off unless a browser needs it.
   * @default false
   */
  cors?: boolean;
  /**
   * The clock for timestamps, in milliseconds since the Unix epoch (for deterministic tests).
   * Not allowed together with `store`, which has its own clock.
   * @default Date.now
   */
  now?: () => number;
  /**
   * The store to serve, for example one shared by several handlers.
   * @default a new empty MemoryStore
   */
  store?: MemoryStore;
  /**
   * Subscription streams: queue limit and wire variations (all off by default).
   * @default {}
   */
  sse?: SseOptions;
}

/** Default of {@link StashServerOptions.bodyLimit}. */
export const DEFAULT_BODY_LIMIT = 1024 * 1024;

/** Checked basic options. */
export interface ResolvedOptions {
  /** Whether the server has a master key. */
  readonly secrets: boolean;
  /** Largest PUT body in bytes. */
  readonly bodyLimit: number;
  /** The mount path without a trailing slash, or `""`. */
  readonly basePath: string;
  /** Whether CORS is answered. */
  readonly cors: boolean;
}

/** Checks the scalar options; throws `TypeError`/`RangeError` naming the bad one. */
export function resolveOptions(options: StashServerOptions): ResolvedOptions {
  const { secrets = false, bodyLimit = DEFAULT_BODY_LIMIT, basePath = "", cors = false } = options;
  if (typeof secrets !== "boolean") {
    throw new TypeError(`secrets must be a boolean, received ${typeof secrets}`);
  }
  if (typeof cors !== "boolean") {
    throw new TypeError(`cors must be a boolean, received ${typeof cors}`);
  }
  if (!Number.isSafeInteger(bodyLimit) || bodyLimit < 0) {
    throw new RangeError(`bodyLimit must be a non-negative integer, received ${bodyLimit}`);
  }
  if (typeof basePath !== "string" || (basePath !== "" && !basePath.startsWith("/"))) {
    throw new TypeError(`basePath must be "" or start with "/", received ${String(basePath)}`);
  }
  return { secrets, bodyLimit, basePath: basePath.replace(/\/+$/, ""), cors };
}
