/**
 * Memory after 100,000 events: a subscription (or a watch) over loopback receives 100,000
 * change events from the embedded server in one process; RSS and V8 heap are taken after a
 * full garbage collection at 10k, 50k and 100k events. The check fails (exit code 1) when the
 * heap grows by more than 2 MiB from 10k to 100k events.
 *
 * ```sh
 * deno run -A --v8-flags=--expose-gc bench/sse_memory.ts              # subscription
 * deno run -A --v8-flags=--expose-gc bench/sse_memory.ts watch        # watch over 100 keys
 * ```
 *
 * The events come from `server.store.set` on 100 rotating keys, in batches of 500 that the
 * client has to receive before the next batch, so the store and the server's queues stay the
 * same size and what grows, if anything, is the client's side. In watch mode the view turns
 * each batch into (coalesced) value fetches, and its consumer counts the watch events.
 */
import { Client } from "../mod.ts";
import { startTestServer } from "../testing.ts";

const mode = Deno.args.includes("watch") ? "watch" : "subscription";
const TOTAL = Number(Deno.args.find((arg) => /^\d+$/.test(arg)) ?? 100_000);
const BATCH = 500;
const KEYS = 100;
/** 10k, 50k, 100k, then every 100k. */
const CHECKPOINTS = new Set([10_000, 50_000]);
for (let n = 100_000; n <= TOTAL; n += 100_000) CHECKPOINTS.add(n);
const ALLOWED_GROWTH = 2 * 1024 * 1024;
const MiB = 1024 * 1024;

const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) console.warn("run with --v8-flags=--expose-gc for stable figures");

await using server = await startTestServer();
using client = new Client(server.url);

let received = 0;
let notify = () => {};
function arrived(): void {
  received++;
  notify();
}
/** Resolves at the next arrival. */
function nextArrival(): Promise<void> {
  return new Promise((resolve) => notify = resolve);
}

let stop: () => void;
let consuming: Promise<void>;
/** True once everything written so far has arrived. */
let caughtUp: (sent: number, lastKey: string, lastValue: string) => boolean;
if (mode === "subscription") {
  const subscription = client.subscribePrefix("mem");
  stop = () => subscription.close();
  consuming = (async () => {
    for await (const _ of subscription) arrived();
  })();
  caughtUp = (sent) => received >= sent;
  await server.sse.waitForSubscribers(1);
} else {
  // A watch coalesces a burst into at most a few fetches per key: a batch is in once the
  // last value written is in the snapshot.
  const view = client.watch("mem", { maxBufferedEvents: 1000 });
  stop = () => view.close();
  consuming = (async () => {
    for await (const _ of view) arrived();
  })();
  caughtUp = (_, key, value) => view.get(key) === value;
  await view.ready;
  await server.sse.waitForSubscribers(1);
}

function measure() {
  gc?.();
  gc?.();
  const { rss, heapUsed, heapTotal, external } = Deno.memoryUsage();
  return { rss, heapUsed, heapTotal, external };
}

interface Row {
  events: number;
  rssMiB: number;
  heapUsedMiB: number;
  heapTotalMiB: number;
  externalMiB: number;
}
const rows: Record<string, Row> = {};
const row = (events: number, m: ReturnType<typeof measure>): Row => ({
  events,
  rssMiB: +(m.rss / MiB).toFixed(2),
  heapUsedMiB: +(m.heapUsed / MiB).toFixed(2),
  heapTotalMiB: +(m.heapTotal / MiB).toFixed(2),
  externalMiB: +(m.external / MiB).toFixed(2),
});
let sent = 0;
let value = 0;
const started = performance.now();
const baseline = measure();
rows["start"] = row(0, baseline);
const heaps: number[] = [];
while (sent < TOTAL) {
  for (let i = 0; i < BATCH; i++) {
    server.store.set(`mem/k${sent % KEYS}`, `value-${value++}`);
    sent++;
  }
  const lastKey = `mem/k${(sent - 1) % KEYS}`;
  const lastValue = `value-${value - 1}`;
  while (!caughtUp(sent, lastKey, lastValue)) await nextArrival();
  if (CHECKPOINTS.has(sent)) {
    const m = measure();
    heaps.push(m.heapUsed);
    rows[`${sent / 1000}k`] = row(sent, m);
  }
}
const seconds = (performance.now() - started) / 1000;
stop();
await consuming;

const growth = heaps[heaps.length - 1] - heaps[0];
console.log(`${mode}: ${TOTAL} events in ${seconds.toFixed(1)} s`);
console.table(rows);
console.log(
  `heap growth 10k → ${TOTAL / 1000}k: ${(growth / MiB).toFixed(2)} MiB (allowed ${
    ALLOWED_GROWTH / MiB
  } MiB)`,
);
console.log(JSON.stringify({ mode, rows, heapGrowthBytes: growth }));
if (growth > ALLOWED_GROWTH) {
  console.error("FAIL: the heap grew with the number of events");
  Deno.exitCode = 1;
}
