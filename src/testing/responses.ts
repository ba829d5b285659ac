/**
 * The response shapes the real server produces: JSON from its handlers (Go's `json.Encoder`,
 * so a trailing newline), plain text from `http.Error` (also newline-terminated) and empty bodies.
 *
 * @module
 */

import { goJson } from "./go_json.ts";

/** Content-Type of the server's JSON answers. */
export const JSON_CONTENT_TYPE = "application/json; charset=utf-8";

/** Content-Type Go's `http.Error` sets. */
export const TEXT_CONTENT_TYPE = "text/plain; charset=utf-8";

/** A JSON body as the server's `RenderJSON` writes it: Go-escaped, followed by a newline. */
export function jsonResponse(status: number, value: unknown): Response {
  return new Response(`${goJson(value)}\n`, {
    status,
    headers: { "Content-Type": JSON_CONTENT_TYPE },
  });
}

/** A handler error: `{"error":"<message>"}`. */
export function jsonError(status: number, message: string): Response {
  return jsonResponse(status, { error: message });
}

/** A plain-text error as Go's `http.Error` writes it (message plus newline, `nosniff`). */
export function textError(status: number, message: string): Response {
  return new Response(`${message}\n`, {
    status,
    headers: { "Content-Type": TEXT_CONTENT_TYPE, "X-Content-Type-Options": "nosniff" },
  });
}

/** A response with no body and no Content-Type (201/200 after PUT, 204, 413, 503). */
export function emptyResponse(status: number): Response {
  return new Response(null, { status });
}
