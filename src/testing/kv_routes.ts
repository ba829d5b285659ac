/**
 * The `/kv` handlers of the embedded server, after routing and the auth middleware: list, read,
 * write, delete, history and subscribe.
 *
 * @module
 */

import { contentTypeOf, isFormat } from "../format.ts";
import { isSecretKey, normalizeKey } from "../keys.ts";
import type { Grant } from "./auth.ts";
import { emptyResponse, jsonError, jsonResponse, textError } from "./responses.ts";
import type { SseHub } from "./sse_hub.ts";
import { parseTopic, topicPattern } from "./sse_topic.ts";
import type { ListItem, MemoryStore } from "./store.ts";
import { isValidZkEnvelope, isZkValue } from "./zk_check.ts";

/** What the handlers need. */
export interface KvContext {
  /** The store served. */
  readonly store: MemoryStore;
  /** The subscriptions hub. */
  readonly sse: SseHub;
  /** Whether the server has a master key. */
  readonly secrets: boolean;
  /** Largest PUT body in bytes. */
  readonly bodyLimit: number;
  /** Whether auth is on. */
  readonly authOn: boolean;
}

type Filter = "all" | "secrets" | "keys";

const FILTERS: Record<string, Filter> = {
  "": "all",
  all: "all",
  secrets: "secrets",
  secretsonly: "secrets",
  true: "secrets",
  keys: "keys",
  keysonly: "keys",
  false: "keys",
};

/**
 * `GET /kv/`: metadata of the keys matching `prefix` (a plain string prefix) and `filter`,
 * newest first. With auth on, unreadable keys are dropped, and an empty result answers 401
 * (the v0.19 quirk). With a prefix and nothing to show, the body is `null`.
 */
export function listKeys(ctx: KvContext, query: URLSearchParams, grant?: Grant): Response {
  const prefix = query.get("prefix") ?? "";
  const filterName = query.get("filter") ?? "";
  const filter = Object.hasOwn(FILTERS, filterName) ? FILTERS[filterName] : undefined;
  if (!filter) return jsonError(400, `invalid filter: ${filterName}`);
  let items: ListItem[] = ctx.store.list(prefix);
  if (ctx.authOn) {
    items = items.filter((item) => grant?.can(item.key, "read") ?? false);
    if (items.length === 0) return jsonError(401, "unauthorized");
  }
  if (filter !== "all") items = items.filter((item) => item.secret === (filter === "secrets"));
  if (prefix !== "" && items.length === 0) return jsonResponse(200, null);
  return jsonResponse(200, items);
}

/** `GET /kv/<key>`: the stored bytes with the format's Content-Type. */
export function getValue(ctx: KvContext, path: string): Response {
  const key = normalizeKey(path);
  const refused = refuseKey(ctx, key);
  if (refused) return refused;
  // The store normalises what it is given; passing `key` would normalise twice (not idempotent).
  const entry = ctx.store.get(path);
  if (!entry) return jsonError(404, "key not found");
  return new Response(entry.value, {
    status: 200,
    headers: {
      "Content-Type": contentTypeOf(entry.format),
      "Content-Length": String(entry.value.length),
    },
  });
}

/**
 * `PUT /kv/<key>`: stores the body byte for byte; 201 for a new key, 200 for an existing one.
 * The format comes from `X-Stash-Format`, else `?format=`; unknown names are stored as text.
 */
export async function putValue(
  ctx: KvContext,
  request: Request,
  path: string,
  query: URLSearchParams,
): Promise<Response> {
  const key = normalizeKey(path);
  const refused = refuseKey(ctx, key);
  if (refused) return refused;
  const body = await readBody(request, ctx.bodyLimit);
  if (!body) return emptyResponse(413);
  if (ctx.secrets && isSecretKey(key) && isZkValue(body) && !isValidZkEnvelope(body)) {
    return jsonError(400, "invalid ZK payload");
  }
  const name = request.headers.get("x-stash-format") || query.get("format") || "";
  const action = ctx.store.set(path, body, isFormat(name) ? name : "text");
  return emptyResponse(action === "create" ? 201 : 200);
}

/** `DELETE /kv/<key>`: 204, or 404 when the key is not stored. */
export function deleteValue(ctx: KvContext, path: string): Response {
  const key = normalizeKey(path);
  const refused = refuseKey(ctx, key);
  if (refused) return refused;
  return ctx.store.delete(path) ? emptyResponse(204) : jsonError(404, "key not found");
}

/** `GET /kv/history/<key>`: the embedded server has no git, so always 503 with an empty body. */
export function history(): Response {
  return emptyResponse(503);
}

/**
 * `GET /kv/subscribe/<path>`: opens a stream (`path` is what follows `/kv/subscribe/`).
 * With auth on, the caller needs read permission for the topic (403 `access denied`).
 */
export function subscribe(
  ctx: KvContext,
  request: Request,
  path: string,
  grant?: Grant,
): Promise<Response> | Response {
  const topic = parseTopic(path);
  if (!topic) return textError(400, "key path required");
  if (ctx.authOn && !(grant?.can(topicPattern(topic), "read") ?? false)) {
    return textError(403, "access denied");
  }
  return ctx.sse.open(topic, request.signal);
}

function refuseKey(ctx: KvContext, key: string): Response | undefined {
  if (key === "") return jsonError(400, "key is required");
  if (!ctx.secrets && isSecretKey(key)) return jsonError(400, "secrets not configured");
  return undefined;
}

/** Reads a request body; `undefined` when it is longer than `limit` bytes. */
async function readBody(request: Request, limit: number): Promise<Uint8Array | undefined> {
  if (!request.body) return new Uint8Array(0);
  const reader = request.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.length;
    if (total > limit) {
      await reader.cancel().catch(() => {});
      return undefined;
    }
    chunks.push(value);
  }
  const body = new Uint8Array(total);
  let offset = 0;
  for (const chunk of chunks) {
    body.set(chunk, offset);
    offset += chunk.length;
  }
  return body;
}
