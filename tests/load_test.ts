/**
 * Load, in bounded time: 1,000 concurrent writes over one client lose and mix up nothing, and
 * 100 subscriptions each receive 1,000 events, all of them, in order. (`bench/load.ts` measures
 * the throughput against bare fetch; `bench/soak.ts` runs for minutes.)
 */

import assert from "node:assert/strict";
import { Client, type SubscriptionEvent } from "../mod.ts";
import { startTestServer } from "../testing.ts";
import { Collector, within } from "./helpers/chaos_helpers.ts";

Deno.test("1,000 concurrent sets of distinct keys over one client: none lost, none mixed up", async () => {
  await using server = await startTestServer();
  using client = new Client(server.url, { timeout: 30_000 });
  const total = 1_000;
  const key = (i: number) => `load/${String(i).padStart(4, "0")}`;
  const value = (i: number) => `value ${i} ${"x".repeat(i % 97)} ключ-${i}`;

  let started = performance.now();
  const results = await within(
    Promise.all(Array.from({ length: total }, (_, i) => client.set(key(i), value(i)))),
    "1,000 sets",
    60_000,
  );
  const writeSeconds = (performance.now() - started) / 1000;
  assert.ok(results.every((result) => result.created), "each key was new");
  assert.equal(server.store.size, total);

  started = performance.now();
  const read = await within(
    Promise.all(Array.from({ length: total }, (_, i) => client.get(key(i)))),
    "1,000 gets",
    60_000,
  );
  const readSeconds = (performance.now() - started) / 1000;
  for (let i = 0; i < total; i++) assert.equal(read[i], value(i), key(i));
  const listed = await client.list("load/");
  assert.equal(listed.length, total);
  console.log(
    `1,000 concurrent sets: ${(total / writeSeconds).toFixed(0)} ops/s; ` +
      `1,000 concurrent gets: ${(total / readSeconds).toFixed(0)} ops/s`,
  );
});

Deno.test("100 subscriptions × 1,000 events: every subscription receives every event, in order", async () => {
  await using server = await startTestServer();
  using client = new Client(server.url);
  const subscriptions = Array.from({ length: 100 }, () => client.subscribePrefix("fan"));
  const collectors = subscriptions.map((s) => new Collector<SubscriptionEvent>(s));
  await within(server.sse.waitForSubscribers(100), "100 subscribers");
  const expected: string[] = [];
  const started = performance.now();
  // In batches, each written once the previous one has reached every subscriber.
  for (let batch = 0; batch < 10; batch++) {
    for (let i = batch * 100; i < (batch + 1) * 100; i++) {
      const key = `fan/${i % 10}`;
      server.store.set(key, String(i));
      expected.push(`${i < 10 ? "create" : "update"} ${key}`);
    }
    await within(
      Promise.all(collectors.map((c) => c.count(expected.length, 60_000))),
      `batch ${batch}`,
      60_000,
    );
  }
  const seconds = (performance.now() - started) / 1000;
  for (const [n, collector] of collectors.entries()) {
    assert.equal(collector.items.length, 1_000, `subscription ${n}`);
    assert.deepEqual(collector.items.map((e) => `${e.action} ${e.key}`), expected);
  }
  assert.ok(subscriptions.every((s) => s.malformedEvents === 0));
  console.log(
    `100 × 1,000 events delivered in ${seconds.toFixed(2)} s ` +
      `(${(100_000 / seconds).toFixed(0)} deliveries/s)`,
  );
  for (const s of subscriptions) s.close();
  await Promise.all(collectors.map((c) => c.done));
  await within(server.sse.waitForSubscribers(0), "the server-side streams to close");
});
