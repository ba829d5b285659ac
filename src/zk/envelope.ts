/**
 * The zero-knowledge envelope shared by every Stash client: ASCII `$ZK$` followed by standard
 * padded base64 of `salt (16) || nonce (12) || ciphertext || tag (16)`.
 *
 * @module
 */

import { decodeBase64, encodeBase64 } from "./base64.ts";
import { PREFIX_BYTES } from "./marker.ts";

export { ENVELOPE_PREFIX, isEnvelope } from "./marker.ts";

/** Bytes of the Argon2id salt at the start of the payload. */
export const SALT_LENGTH = 16;
/** Bytes of the AES-GCM nonce after the salt. */
export const NONCE_LENGTH = 12;
/** Bytes of the AES-GCM authentication tag at the end of the payload. */
export const TAG_LENGTH = 16;
/** Smallest decoded payload: salt, nonce and tag around an empty ciphertext. */
export const MIN_PAYLOAD_LENGTH: number = SALT_LENGTH + NONCE_LENGTH + TAG_LENGTH;

/** The parts of a decoded envelope; views into one fresh buffer. */
export interface EnvelopeParts {
  /** The 16-byte Argon2id salt. */
  salt: Uint8Array<ArrayBuffer>;
  /** The 12-byte AES-GCM nonce. */
  nonce: Uint8Array<ArrayBuffer>;
  /** Ciphertext followed by the 16-byte tag, as WebCrypto takes it. */
  sealed: Uint8Array<ArrayBuffer>;
}

/** Why a value that starts with `$ZK$` is not a well-formed envelope. */
export type EnvelopeDefect = "base64" | "too-short";

/** What {@link parseEnvelope} found. */
export type ParsedEnvelope =
  | { ok: true; parts: EnvelopeParts }
  | { ok: false; defect: EnvelopeDefect; decodedLength?: number };

/**
 * Decodes an envelope strictly. `stored` must satisfy {@link isEnvelope}.
 * Malformed base64 wins over a short payload when both apply.
 */
export function parseEnvelope(stored: Uint8Array): ParsedEnvelope {
  const payload = decodeBase64(asciiToString(stored.subarray(PREFIX_BYTES.length)));
  if (payload === undefined) return { ok: false, defect: "base64" };
  if (payload.length < MIN_PAYLOAD_LENGTH) {
    return { ok: false, defect: "too-short", decodedLength: payload.length };
  }
  return {
    ok: true,
    parts: {
      salt: payload.subarray(0, SALT_LENGTH),
      nonce: payload.subarray(SALT_LENGTH, SALT_LENGTH + NONCE_LENGTH),
      sealed: payload.subarray(SALT_LENGTH + NONCE_LENGTH),
    },
  };
}

/** Builds the ASCII bytes of `$ZK$base64(salt || nonce || sealed)`. */
export function formatEnvelope(
  salt: Uint8Array,
  nonce: Uint8Array,
  sealed: Uint8Array,
): Uint8Array<ArrayBuffer> {
  if (salt.length !== SALT_LENGTH) throw new RangeError(`salt must be ${SALT_LENGTH} bytes`);
  if (nonce.length !== NONCE_LENGTH) throw new RangeError(`nonce must be ${NONCE_LENGTH} bytes`);
  const payload = new Uint8Array(SALT_LENGTH + NONCE_LENGTH + sealed.length);
  payload.set(salt, 0);
  payload.set(nonce, SALT_LENGTH);
  payload.set(sealed, SALT_LENGTH + NONCE_LENGTH);
  const text = encodeBase64(payload);
  const out = new Uint8Array(PREFIX_BYTES.length + text.length);
  out.set(PREFIX_BYTES, 0);
  ENCODER.encodeInto(text, out.subarray(PREFIX_BYTES.length)); // base64 is ASCII: 1 byte a char
  return out;
}

/**
 * Non-fatal UTF-8 with the BOM kept: ASCII maps one to one, and every other byte turns into a
 * character outside the base64 alphabet, which the strict decoder rejects.
 */
const TEXT = new TextDecoder("utf-8", { ignoreBOM: true });
const ENCODER = new TextEncoder();

function asciiToString(bytes: Uint8Array): string {
  return TEXT.decode(bytes);
}
