/**
 * Turns an unsuccessful HTTP answer into the matching typed error.
 *
 * @module
 */

import {
  ForbiddenError,
  NotFoundError,
  ResponseError,
  type StashError,
  UnauthorizedError,
} from "./errors.ts";

/** What the failed call was. */
export interface CallContext {
  method: string;
  key?: string;
}

const MAX_MESSAGE = 200;

/**
 * The server's message from an error body: the `error` field of Stash's JSON bodies, or
 * the first line of a plain-text body, shortened.
 */
export function serverMessage(body: string): string {
  const text = body.trim();
  if (text.startsWith("{")) {
    try {
      const parsed = JSON.parse(text);
      if (typeof parsed?.error === "string") return shorten(parsed.error);
    } catch {
      // Not JSON after all: fall through to plain text.
    }
  }
  return shorten(text.split("\n", 1)[0]);
}

/** The typed error for an unsuccessful `status`. */
export function errorForStatus(status: number, body: string, context: CallContext): StashError {
  const message = serverMessage(body);
  const options = { method: context.method, key: context.key };
  switch (status) {
    case 401:
      return new UnauthorizedError(
        `unauthorized: the server refused the request${message ? ` (${message})` : ""}`,
        options,
      );
    case 403:
      return new ForbiddenError(
        `forbidden: the token may not ${verb(context.method)} ${
          context.key === undefined ? "this resource" : `key "${context.key}"`
        }`,
        options,
      );
    case 404:
      if (context.key !== undefined) return new NotFoundError(context.key, options);
  }
  return new ResponseError(status, message, options);
}

function verb(method: string): string {
  return method === "PUT" || method === "DELETE" ? "write" : "read";
}

function shorten(text: string): string {
  return text.length > MAX_MESSAGE ? `${text.slice(0, MAX_MESSAGE)}…` : text;
}
