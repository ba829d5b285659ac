/**
 * Soak: sets and a subscription over loopback for minutes, with RSS and V8 heap sampled after a
 * full garbage collection; prints the samples and a verdict on growth (exit code 1 on growth).
 *
 * ```sh
 * deno run -A --v8-flags=--expose-gc bench/soak.ts                # 5 minutes
 * deno run -A --v8-flags=--expose-gc bench/soak.ts --minutes 1 --rate 2000
 * ```
 *
 * Writers set `--keys` rotating keys (default 1,000) at `--rate` sets per second (default 500),
 * so the store stays the same size; one `subscribePrefix` receives every change, and each batch
 * waits for its events before the next one starts, so the server's queues stay bounded too.
 * Whatever grows is the client's (or the runtime's). The first fifth of the run is warm-up;
 * the verdict compares the median of the second fifth with the median of the last fifth:
 * growth is heap > 10% + 2 MiB, or RSS > 15% + 16 MiB.
 */
import { Client } from "../mod.ts";
import { startTestServer } from "../testing.ts";

interface Sample {
  at: number;
  sets: number;
  events: number;
  rss: number;
  heapUsed: number;
  heapTotal: number;
  external: number;
}

const MiB = 1024 * 1024;

function flag(name: string, fallback: number): number {
  const index = Deno.args.indexOf(`--${name}`);
  if (index < 0) return fallback;
  const value = Number(Deno.args[index + 1]);
  if (!(value > 0)) throw new RangeError(`--${name} must be a positive number`);
  return value;
}

const minutes = flag("minutes", 5);
const rate = flag("rate", 500);
const keys = flag("keys", 1000);
const sampleEvery = flag("sample", Math.max(1, Math.min(10, minutes * 60 / 30)));
const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) console.warn("run with --v8-flags=--expose-gc for stable figures");

await using server = await startTestServer();
using client = new Client(server.url);
using subscription = client.subscribePrefix("soak");

let events = 0;
let wake = () => {};
const consuming = (async () => {
  for await (const _ of subscription) {
    events++;
    wake();
  }
})();
await server.sse.waitForSubscribers(1);

function eventsReach(count: number): Promise<void> {
  return new Promise((resolve) => {
    const check = () => {
      if (events < count) return;
      wake = () => {};
      resolve();
    };
    wake = check;
    check();
  });
}

const samples: Sample[] = [];
function sample(sets: number): void {
  gc?.();
  const memory = Deno.memoryUsage();
  samples.push({
    at: (performance.now() - started) / 1000,
    sets,
    events,
    rss: memory.rss,
    heapUsed: memory.heapUsed,
    heapTotal: memory.heapTotal,
    external: memory.external,
  });
  const last = samples.at(-1)!;
  console.log(
    `${last.at.toFixed(0).padStart(5)} s  sets ${String(sets).padStart(8)}  events ${
      String(events).padStart(8)
    }  rss ${mib(last.rss)}  heap ${mib(last.heapUsed)} / ${mib(last.heapTotal)}  external ${
      mib(last.external)
    }`,
  );
}

function mib(bytes: number): string {
  return `${(bytes / MiB).toFixed(1).padStart(6)} MiB`;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

const value = "v".repeat(200);
const batch = Math.max(1, Math.round(rate / 10));
const started = performance.now();
const end = started + minutes * 60_000;
let sets = 0;
let errors = 0;
let nextSample = started;
console.log(`soak: ${minutes} min, ${rate} sets/s over ${keys} keys, batches of ${batch}`);
while (performance.now() < end) {
  const batchStart = performance.now();
  if (batchStart >= nextSample) {
    sample(sets);
    nextSample += sampleEvery * 1000;
  }
  await Promise.all(
    Array.from({ length: batch }, (_, i) => {
      const key = `soak/${(sets + i) % keys}`;
      return client.set(key, value).catch(() => errors++);
    }),
  );
  sets += batch;
  await eventsReach(sets - errors);
  const wait = batchStart + (batch / rate) * 1000 - performance.now();
  if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
}
sample(sets);

subscription.close();
await consuming;

const fifth = Math.max(1, Math.floor(samples.length / 5));
const early = samples.slice(fifth, 2 * fifth);
const late = samples.slice(-fifth);
const heapEarly = median(early.map((s) => s.heapUsed));
const heapLate = median(late.map((s) => s.heapUsed));
const rssEarly = median(early.map((s) => s.rss));
const rssLate = median(late.map((s) => s.rss));
const heapGrew = heapLate > heapEarly * 1.1 + 2 * MiB;
const rssGrew = rssLate > rssEarly * 1.15 + 16 * MiB;
const elapsed = (performance.now() - started) / 1000;

console.log(
  `\n${sets} sets (${errors} errors), ${events} events received, in ${elapsed.toFixed(0)} s ` +
    `(${(sets / elapsed).toFixed(0)} sets/s)`,
);
console.log(
  `heap used: ${mib(heapEarly)} (after warm-up) → ${mib(heapLate)} (end), ` +
    `${signed((heapLate - heapEarly) / MiB)} MiB`,
);
console.log(
  `RSS:       ${mib(rssEarly)} (after warm-up) → ${mib(rssLate)} (end), ` +
    `${signed((rssLate - rssEarly) / MiB)} MiB`,
);
const lost = sets - errors - events;
const verdict = heapGrew || rssGrew || lost !== 0 || errors > 0
  ? `FAIL: ${
    [
      heapGrew && "heap grew",
      rssGrew && "RSS grew",
      lost !== 0 && `${lost} events lost`,
      errors > 0 && `${errors} errors`,
    ].filter(Boolean).join(", ")
  }`
  : "PASS: no memory growth, no error, every event received";
console.log(`verdict: ${verdict}`);
if (verdict.startsWith("FAIL")) Deno.exitCode = 1;

function signed(n: number): string {
  return `${n >= 0 ? "+" : ""}${n.toFixed(1)}`;
}
