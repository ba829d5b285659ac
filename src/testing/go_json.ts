/**
 * JSON as Go's `encoding/json` writes it with HTML escaping on (the default): compact, with
 * `<`, `>`, `&`, U+2028 and U+2029 written as `\u` escapes.
 *
 * @module
 */

const HTML_UNSAFE = /[<>&\u2028\u2029]/g;

/**
 * Serialises `value` exactly as Go's `json.Marshal` would for the same fields in the same order.
 * Field order follows the object's own key order.
 */
export function goJson(value: unknown): string {
  return JSON.stringify(value).replace(
    HTML_UNSAFE,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`,
  );
}
