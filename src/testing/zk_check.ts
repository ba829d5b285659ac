/**
 * The two zero-knowledge checks the server makes on a value: does it look like a ZK envelope
 * (the `zk_encrypted` flag), and is it a well-formed one (enforced on secret paths only).
 *
 * @module
 */

const PREFIX = [0x24, 0x5a, 0x4b, 0x24]; // "$ZK$"
const MIN_PAYLOAD = 44; // salt 16 + nonce 12 + tag 16
const BASE64_CHAR = /^[A-Za-z0-9+/]$/;
const B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/** True when the value is longer than 4 bytes and starts with `$ZK$`. */
export function isZkValue(value: Uint8Array): boolean {
  return value.length > PREFIX.length && PREFIX.every((b, i) => value[i] === b);
}

/**
 * True when the text after `$ZK$` is strict standard base64 (padding required, padding bits
 * zero; CR and LF skipped as Go's decoder does) of at least 44 bytes.
 */
export function isValidZkEnvelope(value: Uint8Array): boolean {
  if (!isZkValue(value)) return false;
  let text = "";
  for (let i = PREFIX.length; i < value.length; i++) {
    const b = value[i];
    if (b === 0x0a || b === 0x0d) continue;
    text += String.fromCharCode(b);
  }
  const decoded = strictBase64Length(text);
  return decoded !== undefined && decoded >= MIN_PAYLOAD;
}

/** The decoded length of strict, padded standard base64, or `undefined` when it is not. */
function strictBase64Length(text: string): number | undefined {
  if (text.length === 0 || text.length % 4 !== 0) return undefined;
  const padding = text.endsWith("==") ? 2 : text.endsWith("=") ? 1 : 0;
  const body = text.slice(0, text.length - padding);
  for (const c of body) if (!BASE64_CHAR.test(c)) return undefined;
  // Strict: the bits the padding leaves unused must be zero.
  const last = B64.indexOf(body[body.length - 1]);
  if (padding === 2 && (last & 0x0f) !== 0) return undefined;
  if (padding === 1 && (last & 0x03) !== 0) return undefined;
  return (text.length / 4) * 3 - padding;
}
