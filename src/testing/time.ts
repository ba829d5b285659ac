/**
 * Go-style timestamps for the embedded server: a strictly increasing nanosecond clock and the
 * two layouts the real server writes (`time.RFC3339Nano` in listings, `time.RFC3339` in events).
 *
 * @module
 */

const NANOS_PER_MILLI = 1_000_000n;
const NANOS_PER_SECOND = 1_000_000_000n;

/** A clock that answers nanoseconds since the Unix epoch, each reading later than the last. */
export type NanoClock = () => bigint;

/**
 * Makes a {@link NanoClock} from a millisecond clock. Readings within one millisecond (or from a
 * clock that stands still or goes back) are moved one nanosecond past the previous reading, so
 * `updated_at` orders writes exactly as they happened.
 */
export function createNanoClock(now: () => number): NanoClock {
  let last = -1n;
  return () => {
    const ms = now();
    if (!Number.isFinite(ms)) {
      throw new RangeError(`now() must return a finite number of milliseconds, received ${ms}`);
    }
    let ns = BigInt(Math.floor(ms)) * NANOS_PER_MILLI;
    if (ns <= last) ns = last + 1n;
    last = ns;
    return ns;
  };
}

/** Milliseconds since the epoch of a nanosecond reading (rounded down). */
export function nanosToMillis(ns: bigint): number {
  return Number(ns / NANOS_PER_MILLI);
}

/**
 * Formats like Go's `time.RFC3339Nano` in UTC: `2026-01-04T10:30:00.123456789Z`, trailing zeros
 * of the fraction trimmed and the fraction left out when it is zero.
 */
export function formatRfc3339Nano(ns: bigint): string {
  const seconds = ns / NANOS_PER_SECOND;
  const fraction = ns % NANOS_PER_SECOND;
  const base = secondsPart(Number(seconds) * 1000);
  if (fraction === 0n) return `${base}Z`;
  const digits = fraction.toString().padStart(9, "0").replace(/0+$/, "");
  return `${base}.${digits}Z`;
}

/** Formats like Go's `time.RFC3339` in UTC, to the second: `2026-01-04T10:30:00Z`. */
export function formatRfc3339(ms: number): string {
  return `${secondsPart(ms)}Z`;
}

function secondsPart(ms: number): string {
  return new Date(Math.floor(ms / 1000) * 1000).toISOString().slice(0, 19);
}
