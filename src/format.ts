/**
 * Value formats: the names the server accepts and the Content-Type it answers with.
 *
 * @module
 */

/** The formats a Stash server knows. It silently stores any other name as `text`. */
export const FORMATS = ["text", "json", "yaml", "xml", "toml", "ini", "hcl", "shell"] as const;

/** A value's format, used by the web UI for highlighting; the server never validates content. */
export type Format = typeof FORMATS[number];

const CONTENT_TYPES: Record<Format, string> = {
  text: "text/plain",
  json: "application/json",
  yaml: "application/yaml",
  xml: "application/xml",
  toml: "application/toml",
  ini: "text/plain",
  hcl: "text/plain",
  shell: "text/x-shellscript",
};

/** True when `name` is one of {@link FORMATS}, exactly (names are case-sensitive). */
export function isFormat(name: unknown): name is Format {
  return typeof name === "string" && (FORMATS as readonly string[]).includes(name);
}

/** The Content-Type the server sends with a value of this format. */
export function contentTypeOf(format: Format): string {
  return CONTENT_TYPES[format];
}
