/**
 * Keys: validation, the server's normalisation and URL encoding, in one place for both the
 * client and the embedded server.
 *
 * @module
 */

import { UnreadableKeyError } from "./errors.ts";

// Go's strings.TrimSpace (unicode.IsSpace): JavaScript's trim() differs (it trims U+FEFF,
// keeps U+0085), so the set is spelled out.
const GO_SPACE =
  "\\t\\n\\v\\f\\r \\u0085\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000";
const LEADING_SPACE = new RegExp(`^[${GO_SPACE}]+`);
const TRAILING_SPACE = new RegExp(`[${GO_SPACE}]+$`);

/**
 * Normalises a key exactly as the Stash server does on PUT, GET and DELETE: trims surrounding
 * white space, then surrounding `/`, then turns every space into `_`.
 */
export function normalizeKey(key: string): string {
  const trimmed = key.replace(LEADING_SPACE, "").replace(TRAILING_SPACE, "");
  return trimSlashes(trimmed).replaceAll(" ", "_");
}

/** Trims every leading and trailing `/` (Go's `strings.Trim(s, "/")`). */
export function trimSlashes(path: string): string {
  let start = 0;
  let end = path.length;
  while (start < end && path[start] === "/") start++;
  while (end > start && path[end - 1] === "/") end--;
  return path.slice(start, end);
}

/** True when a segment of `key` is exactly `secrets`: the server encrypts such keys at rest. */
export function isSecretKey(key: string): boolean {
  return key.split("/").includes("secrets");
}

/**
 * Checks a key before anything is sent and returns it unchanged.
 * Throws `TypeError` for a non-string, an empty key, an empty segment (`a//b`, `/a`) or a
 * `.`/`..` segment: a URL parser would resolve those and address another key.
 */
export function checkKey(key: unknown, what = "key"): string {
  if (typeof key !== "string") {
    throw new TypeError(`${what} must be a string, received ${typeof key}`);
  }
  if (/\p{Surrogate}/u.test(key)) {
    throw new TypeError(
      `${what} must be well-formed Unicode: it has an unpaired UTF-16 surrogate, which has no UTF-8 form`,
    );
  }
  if (normalizeKey(key) === "") {
    throw new TypeError(`${what} must not be empty or only white space and slashes`);
  }
  for (const segment of key.split("/")) {
    if (segment === "") {
      throw new TypeError(
        `${what} "${key}" has an empty segment (leading, trailing or double "/")`,
      );
    }
    if (segment === "." || segment === "..") {
      throw new TypeError(
        `${what} "${key}" has a "${segment}" segment, which URLs resolve to another key`,
      );
    }
  }
  return key;
}

/**
 * Checks a subscription or watch prefix (one trailing `/` is allowed: `app/` is `app`) and
 * returns it normalised as the server stores keys.
 */
export function checkPrefix(prefix: unknown): string {
  if (typeof prefix === "string" && prefix.endsWith("/")) prefix = prefix.slice(0, -1);
  return normalizeKey(checkKey(prefix, "prefix"));
}

/**
 * Checks that the server can answer a read of `key` with its value. Another route answers for
 * keys under `history/` or `subscribe/` and for keys whose path ends in `/ping`.
 */
export function checkReadable(key: string, method: string): void {
  // The server picks the route from the path as sent, before it normalises the key.
  const shadow = key.startsWith("history/")
    ? "the history route"
    : key.startsWith("subscribe/")
    ? "the subscription route"
    : `/kv/${key}`.toLowerCase().endsWith("/ping")
    ? "the health check (/ping)"
    : undefined;
  if (shadow) {
    throw new UnreadableKeyError(
      `key "${key}" cannot be read from a Stash server: ${shadow} answers for its path`,
      { method, key },
    );
  }
}

/** Percent-encodes every `/`-separated segment of a checked key. */
export function encodeKeyPath(key: string): string {
  // Most keys need no escaping: skip the split and re-join for them.
  if (PLAIN_PATH.test(key)) return key;
  return key.split("/").map(encodeURIComponent).join("/");
}

/** Characters that `encodeURIComponent` leaves as they are, and `/`. */
const PLAIN_PATH = /^[A-Za-z0-9\-_.!~*'()/]*$/;
