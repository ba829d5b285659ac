/**
 * How a stored value is recognised as a zero-knowledge envelope. Kept apart from the envelope
 * codec so the client can tell plain values from envelopes without loading the encryption code.
 *
 * @module
 */

/** The ASCII marker `$ZK$` that starts every envelope. */
export const ENVELOPE_PREFIX = "$ZK$";
/** {@link ENVELOPE_PREFIX} as bytes. */
export const PREFIX_BYTES: readonly number[] = [0x24, 0x5a, 0x4b, 0x24];

/**
 * True when a stored value is an envelope to decrypt: it starts with `$ZK$` and is longer than
 * those 4 bytes. Anything else (including `$ZK$` alone) is a plain value.
 */
export function isEnvelope(stored: Uint8Array): boolean {
  return stored.length > PREFIX_BYTES.length &&
    stored[0] === PREFIX_BYTES[0] && stored[1] === PREFIX_BYTES[1] &&
    stored[2] === PREFIX_BYTES[2] && stored[3] === PREFIX_BYTES[3];
}
