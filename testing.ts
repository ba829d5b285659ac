/**
 * The embedded Stash server for tests: an in-memory implementation of the Stash HTTP protocol
 * (v0.19), quirks included, as a web-standard fetch handler ({@link createStashHandler}) and
 * as a server on a local port ({@link startTestServer}).
 *
 * It speaks what the real server speaks: `/ping`, the `/kv` routes with key normalisation,
 * formats and Content-Types, 201/200/204/404/413, the list quirks (`null` for an empty prefix
 * match, 401 for an empty result with auth on), secret paths and ZK checks, token auth with
 * the v0.19 permission rules, Go's 301 for unclean paths, `X-Request-ID`, and Server-Sent
 * Events whose response headers are held back until the first event. Test controls break,
 * end, refuse and reshape subscription streams, and restart the server on the same port.
 *
 * @example Start a server, write a key, read it back
 * ```ts
 * import { startTestServer } from "@stash/client/testing";
 *
 * await using server = await startTestServer();
 * await fetch(`${server.url}/kv/app/name`, { method: "PUT", body: "demo" }).then((r) => r.body?.cancel());
 * const response = await fetch(`${server.url}/kv/app/name`);
 * console.log(await response.text()); // demo
 * ```
 *
 * @module
 */

export { createStashHandler, type StashHandler } from "./src/testing/handler.ts";
export { startTestServer, type TestServer, type TestServerOptions } from "./src/testing/server.ts";
export { type StashServerOptions } from "./src/testing/options.ts";
export {
  type ChangeAction,
  type ListItem,
  MemoryStore,
  type MemoryStoreOptions,
  type StoreChange,
  type StoredEntry,
} from "./src/testing/store.ts";
export { type SseControls, type SseOptions } from "./src/testing/sse_hub.ts";
export { type SseWireFormat } from "./src/testing/sse_event.ts";
export {
  type AccessLevel,
  type AuthConfig,
  type PermissionConfig,
  type TokenConfig,
} from "./src/testing/auth.ts";
export { type FetchHandler } from "./src/testing/listen.ts";
export { type Format, FORMATS } from "./src/format.ts";
export {
  Chaos,
  type ChaosOptions,
  type ChaosRule,
  type Injection,
  type RuleHandle,
} from "./src/testing/chaos.ts";
export { type ChaosMatch } from "./src/testing/chaos_match.ts";
export {
  type BodyFaultOptions,
  type CutEventsOptions,
  type Fault,
  type FaultContext,
  type Faults,
  faults,
  type ResetFaultOptions,
  type StatusFaultOptions,
} from "./src/testing/chaos_faults.ts";
