/**
 * Request paths as Go's `net/http` sees them: the raw request target (a WHATWG `URL` would
 * resolve `..` and `%2E%2E` before the server could see them), percent-decoding to UTF-8, and
 * `ServeMux`'s path cleaning with the escaping of its redirect target.
 *
 * @module
 */

/** The path and query of a request, as sent. */
export interface RequestTarget {
  /** The path, still percent-encoded, always starting with `/`. */
  rawPath: string;
  /** The query without its `?`, or `""`. */
  rawQuery: string;
}

/**
 * Splits a request URL into its raw path and query without normalising them. Deno and Bun hand
 * the request target over unchanged in `request.url`; a `Request` built from a string has been
 * through the URL parser already, which is fine too.
 */
export function requestTarget(url: string): RequestTarget {
  const scheme = url.indexOf("://");
  let start = scheme < 0 ? 0 : url.indexOf("/", scheme + 3);
  if (start < 0) start = url.length;
  let end = url.length;
  const hash = url.indexOf("#", start);
  if (hash >= 0) end = hash;
  const question = url.indexOf("?", start);
  const pathEnd = question >= 0 && question < end ? question : end;
  const rawPath = url.slice(start, pathEnd) || "/";
  const rawQuery = question >= 0 && question < end ? url.slice(question + 1, end) : "";
  return { rawPath, rawQuery };
}

const utf8 = new TextEncoder();
const utf8Decoder = new TextDecoder();
const HEX = /^[0-9A-Fa-f]{2}$/;

/**
 * Percent-decodes a path to a string, reading the bytes as UTF-8 (invalid sequences become
 * U+FFFD). Returns `undefined` for a malformed escape (`%zz`, a lone `%`), which Go rejects
 * with 400.
 */
export function decodePath(raw: string): string | undefined {
  if (!raw.includes("%")) return raw;
  const bytes: number[] = [];
  for (let i = 0; i < raw.length; i++) {
    const c = raw[i];
    if (c === "%") {
      const hex = raw.slice(i + 1, i + 3);
      if (!HEX.test(hex)) return undefined;
      bytes.push(parseInt(hex, 16));
      i += 2;
    } else {
      const code = raw.codePointAt(i)!;
      const char = String.fromCodePoint(code);
      for (const b of utf8.encode(char)) bytes.push(b);
      i += char.length - 1;
    }
  }
  return utf8Decoder.decode(new Uint8Array(bytes));
}

/**
 * Go's `ServeMux` path cleaning: `path.Clean` (collapse `//`, drop `.`, resolve `..`) with a
 * trailing slash kept. A request whose path changes under it gets a 301 to the cleaned path.
 */
export function cleanPath(path: string): string {
  if (path === "") return "/";
  if (!path.startsWith("/")) path = `/${path}`;
  const out: string[] = [];
  for (const segment of path.split("/")) {
    if (segment === "" || segment === ".") continue;
    if (segment === "..") out.pop();
    else out.push(segment);
  }
  let cleaned = `/${out.join("/")}`;
  if (path.endsWith("/") && cleaned !== "/") cleaned += "/";
  return cleaned;
}

const PATH_SAFE = /[A-Za-z0-9\-_.~$&+,/:;=@]/;

/** Escapes a decoded path the way Go's `url.URL.EscapedPath` does for a `Location` header. */
export function escapePath(path: string): string {
  let out = "";
  for (const char of path) {
    if (PATH_SAFE.test(char)) {
      out += char;
      continue;
    }
    for (const b of utf8.encode(char)) out += `%${b.toString(16).toUpperCase().padStart(2, "0")}`;
  }
  return out;
}
