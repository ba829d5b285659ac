/**
 * Strict standard base64 (RFC 4648 §4, `+` and `/`, `=` padding required) for ZK envelopes.
 *
 * Uses `Uint8Array.fromBase64` / `Uint8Array.prototype.toBase64` where the runtime has them,
 * and a table-driven fallback elsewhere (Node 20, older browsers). Both paths accept exactly
 * the same inputs: a length that is a multiple of 4, only the standard alphabet, padding only at
 * the end, and no whitespace. Like Go's `StdEncoding` and Python's `b64decode`, which the other
 * clients use, unused low bits of the last character may be non-zero: a value they decrypt,
 * this client decrypts too.
 *
 * @module
 */

const ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/** Character code → 6-bit value, or 255 for characters outside the standard alphabet. */
const DECODE_TABLE: Uint8Array = (() => {
  const table = new Uint8Array(256).fill(255);
  for (let i = 0; i < ALPHABET.length; i++) table[ALPHABET.charCodeAt(i)] = i;
  return table;
})();

interface NativeBase64 {
  fromBase64(
    text: string,
    options: { alphabet: "base64"; lastChunkHandling: "loose" },
  ): Uint8Array<ArrayBuffer>;
}
interface NativeToBase64 {
  toBase64(): string;
}

const nativeFrom = (Uint8Array as unknown as Partial<NativeBase64>).fromBase64;
const nativeTo = (Uint8Array.prototype as unknown as Partial<NativeToBase64>).toBase64;

/** True when the runtime has `Uint8Array.fromBase64` and `toBase64` (the fast path). */
export const hasNativeBase64: boolean = typeof nativeFrom === "function" &&
  typeof nativeTo === "function";

/** Encodes bytes as standard base64 with padding. */
export function encodeBase64(bytes: Uint8Array): string {
  return hasNativeBase64
    ? (bytes as unknown as NativeToBase64).toBase64()
    : encodeBase64Fallback(bytes);
}

/**
 * Decodes strict padded standard base64.
 *
 * @returns the bytes, or `undefined` when `text` is not exactly such base64.
 */
export function decodeBase64(text: string): Uint8Array<ArrayBuffer> | undefined {
  if (!hasNativeBase64) return decodeBase64Fallback(text);
  if (text.length % 4 !== 0) return undefined;
  let bytes: Uint8Array<ArrayBuffer>;
  try {
    // "loose" allows non-zero leftover bits; padding is required by the length check above
    // (a final partial quad must be padded to reach a multiple of 4).
    bytes = (Uint8Array as unknown as NativeBase64).fromBase64(text, {
      alphabet: "base64",
      lastChunkHandling: "loose",
    });
  } catch {
    return undefined;
  }
  // fromBase64 skips ASCII whitespace; any skipped character leaves the output shorter than
  // the length of the text implies.
  return bytes.length === decodedLength(text) ? bytes : undefined;
}

/** Bytes that base64 `text` (a multiple of 4 long, no whitespace) decodes to. */
function decodedLength(text: string): number {
  const padding = text.endsWith("==") ? 2 : text.endsWith("=") ? 1 : 0;
  return (text.length / 4) * 3 - padding;
}

/** The portable encoder used when the runtime has no `toBase64`. Exported for tests. */
export function encodeBase64Fallback(bytes: Uint8Array): string {
  const parts: string[] = [];
  const chunk = 3 * 4096; // a multiple of 3, so only the last chunk is padded
  for (let start = 0; start < bytes.length; start += chunk) {
    parts.push(encodeChunk(bytes.subarray(start, Math.min(start + chunk, bytes.length))));
  }
  return parts.join("");
}

function encodeChunk(bytes: Uint8Array): string {
  let out = "";
  const full = bytes.length - (bytes.length % 3);
  for (let i = 0; i < full; i += 3) {
    const n = (bytes[i] << 16) | (bytes[i + 1] << 8) | bytes[i + 2];
    out += ALPHABET[n >>> 18] + ALPHABET[(n >>> 12) & 63] + ALPHABET[(n >>> 6) & 63] +
      ALPHABET[n & 63];
  }
  const rest = bytes.length - full;
  if (rest === 1) {
    const n = bytes[full] << 16;
    out += ALPHABET[n >>> 18] + ALPHABET[(n >>> 12) & 63] + "==";
  } else if (rest === 2) {
    const n = (bytes[full] << 16) | (bytes[full + 1] << 8);
    out += ALPHABET[n >>> 18] + ALPHABET[(n >>> 12) & 63] + ALPHABET[(n >>> 6) & 63] + "=";
  }
  return out;
}

/**
 * The portable strict decoder used when the runtime has no `fromBase64`. Exported for tests.
 *
 * @returns the bytes, or `undefined` when `text` is not strict padded base64.
 */
export function decodeBase64Fallback(text: string): Uint8Array<ArrayBuffer> | undefined {
  const length = text.length;
  if (length % 4 !== 0) return undefined;
  let padding = 0;
  if (length > 0 && text.charCodeAt(length - 1) === 0x3d) {
    padding = text.charCodeAt(length - 2) === 0x3d ? 2 : 1;
  }
  const out = new Uint8Array((length / 4) * 3 - padding);
  let o = 0;
  const body = length - (padding === 0 ? 0 : 4); // the padded quad is handled last
  for (let i = 0; i < body; i += 4) {
    const a = sextet(text, i), b = sextet(text, i + 1);
    const c = sextet(text, i + 2), d = sextet(text, i + 3);
    if ((a | b | c | d) > 63) return undefined;
    const n = (a << 18) | (b << 12) | (c << 6) | d;
    out[o++] = n >>> 16;
    out[o++] = (n >>> 8) & 255;
    out[o++] = n & 255;
  }
  if (padding === 2) {
    const a = sextet(text, body), b = sextet(text, body + 1);
    if ((a | b) > 63) return undefined;
    out[o] = (a << 2) | (b >>> 4);
  } else if (padding === 1) {
    const a = sextet(text, body), b = sextet(text, body + 1), c = sextet(text, body + 2);
    if ((a | b | c) > 63) return undefined;
    const n = (a << 18) | (b << 12) | (c << 6);
    out[o++] = n >>> 16;
    out[o] = (n >>> 8) & 255;
  }
  return out;
}

function sextet(text: string, index: number): number {
  const code = text.charCodeAt(index);
  return code < 256 ? DECODE_TABLE[code] : 255;
}
