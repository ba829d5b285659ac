/**
 * The embedded server's HTTP handler: a web-standard `(Request) => Promise<Response>` that
 * routes like the real server (ping, path cleaning, `/kv` routes, auth middleware).
 *
 * @module
 */

import { normalizeKey } from "../keys.ts";
import { AuthRules, type Grant } from "./auth.ts";
import {
  deleteValue,
  getValue,
  history,
  type KvContext,
  listKeys,
  putValue,
  subscribe,
} from "./kv_routes.ts";
import { type ResolvedOptions, resolveOptions, type StashServerOptions } from "./options.ts";
import { cleanPath, decodePath, escapePath, requestTarget } from "./paths.ts";
import { emptyResponse, jsonError, TEXT_CONTENT_TYPE, textError } from "./responses.ts";
import { type SseControls, SseHub } from "./sse_hub.ts";
import { MemoryStore } from "./store.ts";

/**
 * A fetch handler speaking the Stash protocol from memory, with its store and subscription
 * controls attached. It is a plain `(request) => Promise<Response>`, so it runs under
 * `Deno.serve`, `Bun.serve`, in a Worker or behind a Node adapter, and other handlers (fault
 * injection, logging) can wrap it.
 */
export interface StashHandler {
  /** Answers one request. Never rejects: an internal failure is a 500 JSON error. */
  (request: Request): Promise<Response>;
  /** The served store: seed it, inspect it, or change it (changes reach subscribers). */
  readonly store: MemoryStore;
  /** The subscription streams and their test controls. */
  readonly sse: SseControls;
}

const METHODS = ["GET", "HEAD", "PUT", "DELETE"];
const ALLOW = "DELETE, GET, HEAD, PUT";

interface Context extends KvContext, ResolvedOptions {
  readonly auth: AuthRules | undefined;
}

/**
 * Creates the in-memory Stash server as a fetch handler. Options default to a stock server:
 * no auth, no secrets, 1 MiB bodies, mounted at `/`, no CORS.
 *
 * @example Serve it with Deno and talk to it
 * ```ts
 * import { createStashHandler } from "@stash/client/testing";
 *
 * const handler = createStashHandler();
 * handler.store.set("app/config", '{"debug":true}', "json");
 *
 * const response = await handler(new Request("http://stash.test/kv/app/config"));
 * console.log(response.status, response.headers.get("content-type")); // 200 application/json
 * console.log(await response.text()); // {"debug":true}
 * ```
 */
export function createStashHandler(options: StashServerOptions = {}): StashHandler {
  const resolved = resolveOptions(options);
  const auth = options.auth === undefined ? undefined : new AuthRules(options.auth);
  if (options.store !== undefined && options.now !== undefined) {
    throw new TypeError("now cannot be combined with store: the store has its own clock");
  }
  const store = options.store ?? new MemoryStore({ now: options.now });
  const sse = new SseHub(store, options.sse);
  const ctx: Context = { ...resolved, auth, authOn: auth !== undefined, store, sse };

  const handler = async (request: Request): Promise<Response> => {
    let response: Response;
    try {
      response = await route(ctx, request);
    } catch {
      response = jsonError(500, "failed to handle request");
    }
    return finish(ctx, request, response);
  };
  return Object.defineProperties(handler, {
    store: { value: store, enumerable: true },
    sse: { value: sse, enumerable: true },
  }) as StashHandler;
}

async function route(ctx: Context, request: Request): Promise<Response> {
  const method = request.method;
  const read = method === "GET" || method === "HEAD";
  const { rawPath, rawQuery } = requestTarget(request.url);
  const path = decodePath(rawPath);
  if (path === undefined) return plain(400, "400 Bad Request");

  if (ctx.cors && method === "OPTIONS") return preflight(request);
  if (read && path.toLowerCase().endsWith("/ping")) return plain(200, "pong", "text/plain");

  const length = Number(request.headers.get("content-length") ?? 0);
  if (length > ctx.bodyLimit) return emptyResponse(413);

  const cleaned = cleanPath(path);
  if (cleaned !== path) return redirect(cleaned, rawQuery, method);

  let rest = path;
  if (ctx.basePath !== "") {
    if (path !== ctx.basePath && !path.startsWith(`${ctx.basePath}/`)) return notFound();
    rest = path.slice(ctx.basePath.length) || "/";
  }
  if (rest === "/kv") return redirect(`${ctx.basePath}/kv/`, rawQuery, method);
  if (!rest.startsWith("/kv/")) return notFound();
  if (!METHODS.includes(method)) {
    const response = textError(405, "Method Not Allowed");
    response.headers.set("Allow", ALLOW);
    return response;
  }

  const sub = rest.slice("/kv/".length);
  const kind = !read
    ? "key"
    : sub === ""
    ? "list"
    : sub.startsWith("history/")
    ? "history"
    : sub.startsWith("subscribe/")
    ? "subscribe"
    : "key";
  if (kind === "subscribe") {
    const refusal = ctx.sse.refusal();
    if (refusal) return refusal;
  }

  let grant: Grant | undefined;
  if (ctx.auth) {
    const identity = ctx.auth.identify(request.headers);
    if (identity.kind !== "known") return textError(401, "Unauthorized");
    grant = identity.grant;
    // The middleware checks the literal path after /kv/ (the list needs only a valid token).
    if (sub !== "" && !grant.can(normalizeKey(sub), read ? "read" : "write")) {
      return grant.anonymous ? textError(401, "Unauthorized") : textError(403, "Forbidden");
    }
  }

  const query = new URLSearchParams(rawQuery);
  switch (kind) {
    case "list":
      return listKeys(ctx, query, grant);
    case "history":
      return history();
    case "subscribe":
      return await subscribe(ctx, request, sub.slice("subscribe/".length), grant);
  }
  switch (method) {
    case "PUT":
      return await putValue(ctx, request, sub, query);
    case "DELETE":
      return deleteValue(ctx, sub);
    default:
      return getValue(ctx, sub);
  }
}

function finish(ctx: Context, request: Request, response: Response): Response {
  if (request.method === "HEAD" && response.body) {
    response.body.cancel().catch(() => {});
    response = new Response(null, { status: response.status, headers: response.headers });
  }
  response.headers.set("X-Request-ID", request.headers.get("x-request-id") || crypto.randomUUID());
  if (ctx.cors) {
    response.headers.set("Access-Control-Allow-Origin", "*");
    response.headers.set("Access-Control-Expose-Headers", "X-Request-ID");
  }
  return response;
}

function plain(status: number, body: string, contentType = TEXT_CONTENT_TYPE): Response {
  return new Response(body, { status, headers: { "Content-Type": contentType } });
}

function notFound(): Response {
  return textError(404, "404 page not found");
}

function redirect(path: string, rawQuery: string, method: string): Response {
  const location = escapePath(path) + (rawQuery ? `?${rawQuery}` : "");
  const headers = new Headers({ Location: location });
  let body: string | null = null;
  if (method === "GET" || method === "HEAD") {
    headers.set("Content-Type", "text/html; charset=utf-8");
    body = `<a href="${escapeHtml(location)}">Moved Permanently</a>.\n\n`;
  }
  return new Response(body, { status: 301, headers });
}

function escapeHtml(text: string): string {
  const entities: Record<string, string> = {
    "&": "&amp;",
    "<": "&lt;",
    ">": "&gt;",
    '"': "&#34;",
    "'": "&#39;",
  };
  return text.replace(/[&<>"']/g, (c) => entities[c]);
}

function preflight(request: Request): Response {
  const requested = request.headers.get("access-control-request-headers");
  return new Response(null, {
    status: 204,
    headers: {
      "Access-Control-Allow-Methods": "GET, HEAD, PUT, DELETE",
      "Access-Control-Allow-Headers": requested ||
        "Authorization, X-Auth-Token, X-Stash-Format, Content-Type, X-Request-ID",
      "Access-Control-Max-Age": "600",
    },
  });
}
