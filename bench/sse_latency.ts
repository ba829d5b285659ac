/**
 * Set-to-event latency over loopback with the embedded server: the time from just before
 * `client.set()` to the subscription yielding the event of that set, against the time of the
 * `set()` round trip itself (the reference), both measured in the same process.
 *
 * ```sh
 * deno run -A bench/sse_latency.ts            # 2,000 sets after 200 warm-up sets
 * deno run -A bench/sse_latency.ts 5000 chunk # 5,000 sets, events written in 7-byte chunks
 * ```
 *
 * Sets are issued one at a time (the next starts once the event and the set's answer are
 * both in), to distinct keys under one prefix subscription. Prints one table and a JSON line.
 */
import { Client } from "../mod.ts";
import { startTestServer } from "../testing.ts";

const count = Number(Deno.args[0] ?? 2000);
const chunked = Deno.args.includes("chunk");
const WARMUP = 200;

if (!Number.isSafeInteger(count) || count < 1) {
  throw new RangeError(`the number of sets must be a positive integer, received ${Deno.args[0]}`);
}

await using server = await startTestServer({ sse: chunked ? { chunkSize: 7 } : {} });
using client = new Client(server.url);
using subscription = client.subscribePrefix("bench");

const arrivals = new Map<string, (at: number) => void>();
const consuming = (async () => {
  for await (const event of subscription) {
    const arrived = performance.now();
    const resolve = arrivals.get(event.key);
    arrivals.delete(event.key);
    resolve?.(arrived);
  }
})();
await server.sse.waitForSubscribers(1);

async function one(i: number): Promise<{ event: number; set: number }> {
  const key = `bench/k${i}`;
  const arrived = new Promise<number>((resolve) => arrivals.set(key, resolve));
  const start = performance.now();
  const set = client.set(key, "value").then(() => performance.now());
  const [eventAt, setAt] = await Promise.all([arrived, set]);
  return { event: eventAt - start, set: setAt - start };
}

for (let i = 0; i < WARMUP; i++) await one(-1 - i);
const events: number[] = [];
const sets: number[] = [];
const began = performance.now();
for (let i = 0; i < count; i++) {
  const { event, set } = await one(i);
  events.push(event);
  sets.push(set);
}
const elapsed = performance.now() - began;
subscription.close();
await consuming;

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

function summary(samples: number[]) {
  const sorted = [...samples].sort((a, b) => a - b);
  const mean = samples.reduce((sum, x) => sum + x, 0) / samples.length;
  const round = (x: number) => Math.round(x * 1000) / 1000;
  return {
    p50: round(percentile(sorted, 50)),
    p90: round(percentile(sorted, 90)),
    p99: round(percentile(sorted, 99)),
    max: round(sorted[sorted.length - 1]),
    mean: round(mean),
  };
}

const event = summary(events);
const set = summary(sets);
const ratio = Math.round((event.p50 / set.p50) * 100) / 100;
console.log(
  `set-to-event latency over loopback, ${count} sets${chunked ? " (7-byte chunks)" : ""}, ms`,
);
console.table({ "set → event": event, "set() round trip (reference)": set });
console.log(
  `p50 event/set ratio: ${ratio}; ${Math.round(count / (elapsed / 1000))} set+event cycles/s`,
);
console.log(JSON.stringify({ count, chunked, event, set, ratio }));
