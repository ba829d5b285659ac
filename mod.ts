/**
 * A client for [Stash](https://github.com/umputun/stash), the small HTTP key-value
 * configuration service: typed errors, retries with backoff, per-call deadlines, optional
 * zero-knowledge encryption compatible with every other Stash client, and live change
 * notifications. Built on web standards only (`fetch`, streams, WebCrypto), so the same module
 * runs on Deno, Bun, Cloudflare Workers, Node 20+ and browsers.
 *
 * @example Read and write configuration
 * ```ts
 * import { Client, NotFoundError } from "@stash/client";
 * import { startTestServer } from "@stash/client/testing";
 *
 * await using server = await startTestServer();
 * using client = new Client(server.url, { timeout: 5_000 });
 *
 * await client.setJSON("app/config", { debug: true });
 * const config = await client.getJSON<{ debug: boolean }>("app/config");
 * console.log(config.debug); // true
 *
 * try {
 *   await client.get("app/missing");
 * } catch (error) {
 *   if (error instanceof NotFoundError) console.log(`no ${error.key}`);
 * }
 * ```
 *
 * @module
 */

export { Client, type SetResult } from "./src/client.ts";
export type {
  CallOptions,
  ClientOptions,
  FetchLike,
  SetOptions,
  ZkWasmModules,
} from "./src/options.ts";
export { type Format, FORMATS } from "./src/format.ts";
export type { KeyInfo } from "./src/key_info.ts";
export { normalizeKey } from "./src/keys.ts";
export {
  ClientClosedError,
  ConnectionError,
  DecodeError,
  DecryptionError,
  type DecryptionFailure,
  ForbiddenError,
  NotFoundError,
  ResponseError,
  SseParseError,
  StashError,
  type StashErrorOptions,
  UnauthorizedError,
  UnreadableKeyError,
} from "./src/errors.ts";
export {
  type ChangeAction,
  type SubscribeOptions,
  Subscription,
  type SubscriptionEvent,
  type SubscriptionState,
} from "./src/sse/subscription.ts";
export { Watch, type WatchEvent, type WatchOptions } from "./src/sse/watch.ts";
