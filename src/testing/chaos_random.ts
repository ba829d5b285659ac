/**
 * A small seeded pseudo-random generator for the chaos kit, so that a test run with the same
 * seed and the same order of requests injects the same faults.
 *
 * @module
 */

/**
 * Returns a generator of numbers in `[0, 1)` from a 32-bit seed (the mulberry32 algorithm):
 * the same seed always gives the same sequence. Not for cryptography.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { seededRandom } from "./chaos_random.ts";
 *
 * const a = seededRandom(7);
 * const b = seededRandom(7);
 * assert.equal(a(), b());
 * ```
 */
export function seededRandom(seed: number): () => number {
  if (!Number.isSafeInteger(seed)) {
    throw new RangeError(`seed must be a safe integer, received ${seed}`);
  }
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
