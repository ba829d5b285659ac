/** Helpers for the fault, chaos, load and secrets tests: deadlines, arrivals, collectors. */

import type { FetchHandler } from "../../testing.ts";
import { Recorder, within } from "./recorder.ts";

export { Recorder, within };

/** The rejection of `promise` (fails when it resolves). */
export async function failure(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error("expected a rejection");
}

/** One request as the server received it. */
export interface Arrival {
  method: string;
  path: string;
  /** `performance.now()` at arrival. */
  time: number;
}

/** Records every request a handler receives (wrap it inside the chaos layer or outside). */
export class Arrivals extends Recorder<Arrival> {
  readonly wrap = (handler: FetchHandler): FetchHandler => (request) => {
    this.add({
      method: request.method,
      path: decodeURIComponent(new URL(request.url).pathname),
      time: performance.now(),
    });
    return handler(request);
  };

  /** Arrivals whose path starts with `prefix`. */
  to(prefix: string): Arrival[] {
    return this.items.filter((arrival) => arrival.path.startsWith(prefix));
  }

  /** Waits until `count` requests arrived on paths starting with `prefix`. */
  reach(prefix: string, count: number, ms?: number): Promise<void> {
    return this.until(
      () => this.to(prefix).length >= count,
      `${count} requests to ${prefix}`,
      undefined,
      ms,
    );
  }
}

/** Iterates an async iterable in the background, recording its items and how it ended. */
export class Collector<T> extends Recorder<T> {
  error: unknown;
  ended = false;
  readonly done: Promise<void>;

  constructor(source: AsyncIterable<T>) {
    super();
    this.done = (async () => {
      try {
        for await (const item of source) this.add(item);
      } catch (error) {
        this.error = error;
      } finally {
        this.ended = true;
        this.notify();
      }
    })();
  }

  /** Waits until `count` items arrived in total (fails early if the iteration ends). */
  count(count: number, ms?: number): Promise<void> {
    return this.until((items) => items.length >= count, `${count} items`, () => this.ended, ms);
  }

  /** Waits until the iteration ended. */
  end(ms?: number): Promise<void> {
    return this.until(() => this.ended, "the end of the iteration", undefined, ms);
  }
}

/** Spread figures of a set of times (ms). */
export function spread(times: number[]): {
  min: number;
  max: number;
  p10: number;
  p90: number;
  /** Most times that fall in one 10 ms bucket. */
  busiestBucket: number;
  distinct: number;
} {
  const sorted = [...times].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
  const buckets = new Map<number, number>();
  for (const t of sorted) {
    const bucket = Math.floor((t - sorted[0]) / 10);
    buckets.set(bucket, (buckets.get(bucket) ?? 0) + 1);
  }
  return {
    min: sorted[0],
    max: sorted.at(-1)!,
    p10: at(0.1),
    p90: at(0.9),
    busiestBucket: Math.max(...buckets.values()),
    distinct: new Set(sorted.map((t) => t.toFixed(3))).size,
  };
}
