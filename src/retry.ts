/**
 * Retry policy: which answers are worth another attempt, and how long to wait before it.
 *
 * @module
 */

/** Statuses that a retry can cure; every Stash operation is idempotent, so all are safe. */
const RETRYABLE_STATUSES = new Set([408, 429, 500, 502, 503, 504]);

/** True when a response with this status may succeed if the request is sent again. */
export function isRetryableStatus(status: number): boolean {
  return RETRYABLE_STATUSES.has(status);
}

/**
 * The wait before retry number `retry` (0 for the first retry): exponential from `base`,
 * capped at `max`, with "equal jitter" (half fixed, half random) so clients that failed
 * together do not come back together.
 */
export function backoffDelay(
  retry: number,
  base: number,
  max: number,
  random = Math.random,
): number {
  const ceiling = Math.min(max, base * 2 ** retry);
  return ceiling / 2 + random() * (ceiling / 2);
}

/**
 * The server's requested wait in milliseconds, from `Retry-After` (seconds or an HTTP date)
 * or, as Stash's rate limiter sends, `RateLimit-Reset` (seconds); undefined when absent.
 */
export function serverDelay(headers: Headers, now = Date.now()): number | undefined {
  const retryAfter = headers.get("retry-after")?.trim();
  if (retryAfter) {
    if (/^\d+$/.test(retryAfter)) return Number(retryAfter) * 1000;
    const date = Date.parse(retryAfter);
    if (!Number.isNaN(date)) return Math.max(0, date - now);
  }
  const reset = headers.get("ratelimit-reset")?.trim();
  if (reset && /^\d+$/.test(reset)) return Number(reset) * 1000;
  return undefined;
}

/** Waits `ms` milliseconds; rejects with the signal's reason as soon as it aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal!.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}
