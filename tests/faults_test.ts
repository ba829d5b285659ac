/**
 * The client under every fault of the chaos kit, over real HTTP (port 0): each call either
 * succeeds after retries or fails with the right typed error within its deadline; nothing hangs.
 * Deno's op and resource sanitizers stay on, and an unhandled rejection fails the file.
 */

import assert from "node:assert/strict";
import {
  Client,
  ConnectionError,
  ForbiddenError,
  NotFoundError,
  ResponseError,
  type StashError,
  type SubscriptionEvent,
  type SubscriptionState,
  UnauthorizedError,
} from "../mod.ts";
import { Chaos, type Fault, faults, startTestServer, type TestServer } from "../testing.ts";
import { Arrivals, Collector, failure, Recorder, spread, within } from "./helpers/chaos_helpers.ts";

/** Short deadlines: a stalled attempt costs 200 ms, a retry 1 to 2 ms. */
const TIMEOUT = 200;
const RETRIES = 2;
const OPTIONS = { timeout: TIMEOUT, retries: RETRIES, retryDelay: 2, maxRetryDelay: 50 };
/** A whole call's bound: every attempt times out, plus the backoff, plus slack for slow CI. */
const CALL_BOUND = (RETRIES + 1) * TIMEOUT + 3_000;

type Op = {
  name: string;
  hasBody: boolean;
  run(client: Client): Promise<unknown>;
  check(result: unknown): void;
};

/** Every operation, against a store seeded with `k` = "v". */
const OPS: Op[] = [
  { name: "get", hasBody: true, run: (c) => c.get("k"), check: (r) => assert.equal(r, "v") },
  {
    name: "list",
    hasBody: true,
    run: (c) => c.list("k"),
    check: (r) => assert.deepEqual((r as { key: string }[]).map((i) => i.key), ["k"]),
  },
  { name: "ping", hasBody: true, run: (c) => c.ping(), check: (r) => assert.equal(r, undefined) },
  { name: "has", hasBody: false, run: (c) => c.has("k"), check: (r) => assert.equal(r, true) },
  {
    name: "set",
    hasBody: false,
    run: (c) => c.set("k", "v"),
    check: (r) => assert.deepEqual(r, { created: false }),
  },
  { name: "delete", hasBody: false, run: (c) => c.delete("gone"), check: () => {} },
];

async function setup(): Promise<{ server: TestServer; chaos: Chaos; client: Client }> {
  const chaos = new Chaos();
  const server = await startTestServer({ wrap: chaos.wrap });
  const client = new Client(server.url, OPTIONS);
  return { server, chaos, client };
}

/** Faults injected by every test of this file, by kind, and calls checked: printed at the end. */
const tally = { calls: 0, injected: new Map<string, number>() };

const KINDS = ["latency", "status", "reset", "hang", "breakBody", "truncate", "stall", "chunk"];

function count(chaos: Chaos): void {
  for (const kind of [...KINDS, "lineEnding", "cutEvents"]) {
    tally.injected.set(kind, (tally.injected.get(kind) ?? 0) + chaos.count(kind));
  }
}

async function teardown({ server, chaos, client }: Awaited<ReturnType<typeof setup>>) {
  count(chaos);
  client.close();
  chaos.close();
  await server.close();
}

interface Case {
  name: string;
  fault: () => Fault;
  /** Only for responses with a body. */
  bodyOnly?: boolean;
  /** The call succeeds at its first attempt anyway (the fault only slows or reshapes it). */
  harmless?: boolean;
}

const TRANSIENT: Case[] = [
  { name: "500", fault: () => faults.status(500) },
  { name: "502", fault: () => faults.status(502) },
  { name: "503", fault: () => faults.status(503) },
  { name: "504", fault: () => faults.status(504) },
  { name: "429 with Retry-After: 0", fault: () => faults.status(429, { retryAfter: 0 }) },
  { name: "408", fault: () => faults.status(408) },
  { name: "a reset before headers", fault: () => faults.reset() },
  { name: "added latency under the timeout", fault: () => faults.latency(20), harmless: true },
  { name: "no answer at all (hang)", fault: () => faults.hang() },
  {
    name: "a reset after headers",
    fault: () => faults.breakBody({ afterBytes: 1 }),
    bodyOnly: true,
  },
  { name: "a truncated body", fault: () => faults.truncate(), bodyOnly: true },
  { name: "a stalled body", fault: () => faults.stall({ afterBytes: 1 }), bodyOnly: true },
  { name: "tiny chunks", fault: () => faults.chunk(1), bodyOnly: true, harmless: true },
];

for (const { name, fault, bodyOnly, harmless } of TRANSIENT) {
  Deno.test(`every call survives a burst of two: ${name}`, async () => {
    const env = await setup();
    try {
      env.server.store.set("k", "v");
      for (const op of OPS) {
        if (bodyOnly && !op.hasBody) continue;
        env.server.store.set("gone", "x");
        env.chaos.clear();
        const rule = env.chaos.add({ fault: fault(), times: 2 });
        const started = performance.now();
        const result = await within(op.run(env.client), `${op.name} under ${name}`, CALL_BOUND);
        tally.calls++;
        op.check(result);
        assert.equal(rule.injected, harmless ? 1 : 2, `${op.name}: faults injected`);
        assert.ok(performance.now() - started < CALL_BOUND, `${op.name} took too long`);
      }
      if (!bodyOnly) assert.equal(env.server.store.get("gone"), undefined);
    } finally {
      await teardown(env);
    }
  });
}

interface Persistent extends Case {
  error: abstract new (...args: never[]) => StashError;
  check?(error: StashError): void;
  /** Attempts the server should see for one call. */
  attempts: number;
}

const PERSISTENT: Persistent[] = [
  {
    name: "503",
    fault: () => faults.status(503),
    error: ResponseError,
    attempts: RETRIES + 1,
    check: (e) => assert.equal(e.status, 503),
  },
  {
    name: "429 without Retry-After",
    fault: () => faults.status(429),
    error: ResponseError,
    attempts: RETRIES + 1,
    check: (e) => assert.equal(e.status, 429),
  },
  {
    name: "429 whose Retry-After exceeds maxRetryDelay",
    fault: () => faults.status(429, { retryAfter: 60 }),
    error: ResponseError,
    attempts: 1,
    check: (e) => assert.equal(e.status, 429),
  },
  { name: "401", fault: () => faults.status(401), error: UnauthorizedError, attempts: 1 },
  { name: "403", fault: () => faults.status(403), error: ForbiddenError, attempts: 1 },
  {
    name: "a reset before headers",
    fault: () => faults.reset(),
    error: ConnectionError,
    attempts: RETRIES + 1,
    check: (e) => {
      assert.equal((e as ConnectionError).timedOut, false);
      assert.equal((e as ConnectionError).attempts, RETRIES + 1);
    },
  },
  {
    name: "no answer at all (hang)",
    fault: () => faults.hang(),
    error: ConnectionError,
    attempts: RETRIES + 1,
    check: (e) => assert.equal((e as ConnectionError).timedOut, true),
  },
  {
    name: "latency over the timeout",
    fault: () => faults.latency(TIMEOUT * 10),
    error: ConnectionError,
    attempts: RETRIES + 1,
    check: (e) => assert.equal((e as ConnectionError).timedOut, true),
  },
  {
    name: "a reset after headers",
    fault: () => faults.breakBody({ afterBytes: 1 }),
    error: ConnectionError,
    attempts: RETRIES + 1,
    bodyOnly: true,
    check: (e) => assert.equal((e as ConnectionError).timedOut, false),
  },
  {
    name: "a truncated body",
    fault: () => faults.truncate(),
    error: ConnectionError,
    attempts: RETRIES + 1,
    bodyOnly: true,
  },
  {
    name: "a stalled body",
    fault: () => faults.stall({ afterBytes: 1 }),
    error: ConnectionError,
    attempts: RETRIES + 1,
    bodyOnly: true,
    check: (e) => assert.equal((e as ConnectionError).timedOut, true),
  },
];

for (const { name, fault, bodyOnly, error: type, attempts, check } of PERSISTENT) {
  Deno.test(`every call fails with ${type.name} within its deadline: ${name}`, async () => {
    const env = await setup();
    try {
      env.server.store.set("k", "v");
      for (const op of OPS) {
        if (bodyOnly && !op.hasBody) continue;
        env.chaos.clear();
        // The list's 401 is checked with a HEAD probe: the rule answers it too.
        const rule = env.chaos.add({ fault: fault() });
        const started = performance.now();
        const error = await within(failure(op.run(env.client)), `${op.name}`, CALL_BOUND);
        tally.calls++;
        const elapsed = performance.now() - started;
        assert.ok(error instanceof type, `${op.name}: expected ${type.name}, got ${error}`);
        const stash = error as StashError;
        check?.(stash);
        const probe = op.name === "list" && type === UnauthorizedError ? 1 : 0;
        assert.equal(rule.injected, attempts + probe, `${op.name}: attempts seen by the server`);
        assert.ok(stash.method, `${op.name}: the error names its method`);
        assert.ok(elapsed < CALL_BOUND, `${op.name} took ${elapsed} ms`);
      }
    } finally {
      await teardown(env);
    }
  });
}

Deno.test("Retry-After: 0 is honoured: the retry does not wait for the (long) backoff", async () => {
  const env = await setup();
  try {
    using client = new Client(env.server.url, { retryDelay: 10_000, maxRetryDelay: 10_000 });
    env.chaos.add({ fault: faults.status(429, { retryAfter: 0 }), times: 1 });
    const started = performance.now();
    await client.set("k", "v");
    assert.ok(performance.now() - started < 5_000, "retried without the 10 s backoff");
    assert.equal(env.chaos.count("status"), 1);
  } finally {
    await teardown(env);
  }
});

Deno.test("Stash's own 429 (RateLimit-Reset: 1, no Retry-After) is retried after about a second", async () => {
  const env = await setup();
  try {
    using client = new Client(env.server.url, { maxRetryDelay: 2_000 });
    env.chaos.add({ fault: faults.rateLimit(), times: 1 });
    const started = performance.now();
    await within(client.set("k", "v"), "the rate-limited set", 10_000);
    const elapsed = performance.now() - started;
    assert.ok(elapsed >= 900, `waited ${elapsed} ms for RateLimit-Reset: 1`);
  } finally {
    await teardown(env);
  }
});

Deno.test("a 401 that starts mid-way: calls succeed, then fail with UnauthorizedError, unretried", async () => {
  const env = await setup();
  try {
    const rule = env.chaos.add({ path: "/kv/*", after: 5, fault: faults.status(401) });
    for (let i = 0; i < 5; i++) await env.client.set(`k${i}`, "v");
    for (let i = 0; i < 3; i++) {
      const error = await failure(env.client.get(`k${i}`));
      assert.ok(error instanceof UnauthorizedError);
      assert.equal((error as UnauthorizedError).key, `k${i}`);
    }
    assert.equal(rule.injected, 3, "one attempt each: a 401 is never retried");
  } finally {
    await teardown(env);
  }
});

Deno.test("set() after a reset that reached the server succeeds on retry and reports created: false", async () => {
  const env = await setup();
  try {
    env.chaos.add({ method: "PUT", fault: faults.reset({ afterHandler: true }), times: 1 });
    const result = await env.client.set("new", "v");
    // The first attempt created the key; the client only saw the retry's 200.
    assert.deepEqual(result, { created: false });
    assert.equal(await env.client.get("new"), "v");
  } finally {
    await teardown(env);
  }
});

Deno.test({
  name: "delete() after a reset that reached the server resolves (the key is gone)",
  async fn() {
    const env = await setup();
    try {
      env.server.store.set("k", "v");
      env.chaos.add({ method: "DELETE", fault: faults.reset({ afterHandler: true }), times: 1 });
      await env.client.delete("k");
      assert.equal(env.server.store.get("k"), undefined);
    } finally {
      await teardown(env);
    }
  },
});

Deno.test("a caller's signal ends a call held by a fault at once, with the signal's reason", async () => {
  const env = await setup();
  try {
    using client = new Client(env.server.url, { timeout: 30_000 });
    for (const fault of [faults.hang(), faults.stall(), faults.latency(60_000)]) {
      env.chaos.clear();
      let held = () => {};
      const injected = new Promise<void>((resolve) => held = resolve);
      env.chaos.add({
        fault: { kind: fault.kind, apply: (r, n, c) => (held(), fault.apply(r, n, c)) },
      });
      const controller = new AbortController();
      const call = failure(client.get("k", { signal: controller.signal }));
      await within(injected, `${fault.kind} to hold the call`);
      const reason = new Error("caller gave up");
      controller.abort(reason);
      assert.equal(await within(call, `${fault.kind}: the aborted call`, 2_000), reason);
    }
  } finally {
    await teardown(env);
  }
});

// ---------------------------------------------------------------------------------------------
// Subscriptions

const FAST = { reconnectDelay: 5, maxReconnectDelay: 50 };

function keys(events: SubscriptionEvent[]): string[] {
  return events.map((event) => `${event.action} ${event.key}`);
}

async function sseSetup(...rules: Parameters<Chaos["add"]>[0][]) {
  const chaos = new Chaos({ rules });
  const arrivals = new Arrivals();
  const server = await startTestServer({ wrap: (h) => arrivals.wrap(chaos.wrap(h)) });
  const client = new Client(server.url);
  const states = new Recorder<SubscriptionState>();
  return {
    chaos,
    arrivals,
    server,
    client,
    states,
    async [Symbol.asyncDispose]() {
      count(chaos);
      client.close();
      chaos.close();
      await server.close();
    },
  };
}

Deno.test("a stream cut mid-event reconnects, drops the partial event and keeps receiving", async () => {
  for (const end of ["error", "close"] as const) {
    await using env = await sseSetup({
      path: "/kv/subscribe/*",
      fault: faults.cutEvents({ afterEvents: 2, end }),
      times: 1,
    });
    const subscription = env.client.subscribe("k", {
      ...FAST,
      onStateChange: (s) => env.states.add(s),
    });
    const events = new Collector(subscription);
    await env.server.sse.waitForSubscribers(1);
    for (let i = 1; i <= 3; i++) env.server.store.set("k", String(i));
    await env.states.until((s) => s.some((x) => x.state === "reconnecting"), "reconnecting");
    await env.arrivals.reach("/kv/subscribe/", 2);
    await env.server.sse.waitForSubscribers(1);
    env.server.store.set("k", "4");
    await events.count(3);
    // The third event was cut: it is lost (Stash has no replay), never half-delivered.
    assert.deepEqual(keys(events.items), ["create k", "update k", "update k"]);
    assert.equal(subscription.malformedEvents, 0);
    subscription.close();
    await events.done;
    assert.equal(events.error, undefined);
  }
});

Deno.test("tiny chunks and CRLF from the chaos layer deliver every event intact", async () => {
  await using env = await sseSetup(
    { path: "/kv/subscribe/*", fault: faults.chunk(1) },
    { path: "/kv/subscribe/*", fault: faults.lineEnding("\r\n") },
  );
  const subscription = env.client.subscribePrefix("app");
  const events = new Collector(subscription);
  await env.server.sse.waitForSubscribers(1);
  const expected: string[] = [];
  for (let i = 0; i < 20; i++) {
    env.server.store.set(`app/ключ-${i}`, "v");
    expected.push(`create app/ключ-${i}`);
  }
  await events.count(20);
  assert.deepEqual(keys(events.items), expected);
  assert.equal(subscription.malformedEvents, 0);
  subscription.close();
  await events.done;
});

for (
  const [name, fault] of [
    ["a reset before headers", () => faults.reset()],
    ["503", () => faults.status(503)],
    ["429", () => faults.status(429, { retryAfter: 0 })],
  ] as const
) {
  Deno.test(`subscribe() reconnects through ${name}, then receives again`, async () => {
    await using env = await sseSetup();
    const subscription = env.client.subscribe("k", {
      ...FAST,
      onStateChange: (s) => env.states.add(s),
    });
    const events = new Collector(subscription);
    await env.server.sse.waitForSubscribers(1);
    env.server.store.set("k", "1");
    await events.count(1);
    // The next three connection attempts meet the fault; the fourth gets through.
    env.chaos.add({ path: "/kv/subscribe/*", fault: fault(), times: 3 });
    env.server.sse.dropStreams();
    await env.arrivals.reach("/kv/subscribe/", 5);
    await env.server.sse.waitForSubscribers(1);
    env.server.store.set("k", "2");
    await events.count(2);
    assert.deepEqual(keys(events.items), ["create k", "update k"]);
    subscription.close();
    await events.done;
  });
}

Deno.test("a subscription request held without headers is waited for, not timed out", async () => {
  await using env = await sseSetup({ path: "/kv/subscribe/*", fault: faults.hang(), times: 1 });
  const subscription = env.client.subscribe("k", FAST);
  const events = new Collector(subscription);
  await env.arrivals.reach("/kv/subscribe/", 1);
  // Stash sends no headers before the first event, so a silent server is a quiet stream: the
  // client applies no header timeout. Once the layer lets go (503), it reconnects.
  env.chaos.close();
  await env.arrivals.reach("/kv/subscribe/", 2);
  await env.server.sse.waitForSubscribers(1);
  env.server.store.set("k", "1");
  await events.count(1);
  subscription.close();
  await events.done;
});

Deno.test({
  name: "subscribe() reconnects when its very first connection attempt fails with a network error",
  async fn() {
    await using env = await sseSetup({ path: "/kv/subscribe/*", fault: faults.reset(), times: 1 });
    const subscription = env.client.subscribe("k", FAST);
    const events = new Collector(subscription);
    await env.arrivals.reach("/kv/subscribe/", 2, 5_000);
    await env.server.sse.waitForSubscribers(1);
    env.server.store.set("k", "1");
    await events.count(1);
    subscription.close();
    await events.done;
  },
});

Deno.test("a subscription whose token is revoked mid-way ends with UnauthorizedError", async () => {
  await using env = await sseSetup({
    path: "/kv/subscribe/*",
    after: 1,
    fault: faults.status(401),
  });
  const subscription = env.client.subscribe("k", {
    ...FAST,
    onStateChange: (s) => env.states.add(s),
  });
  const events = new Collector(subscription);
  await env.server.sse.waitForSubscribers(1);
  env.server.store.set("k", "1");
  await events.count(1);
  env.server.sse.dropStreams();
  await events.end();
  assert.ok(events.error instanceof UnauthorizedError, `got ${events.error}`);
  const last = env.states.items.at(-1);
  assert.equal(last?.state, "closed");
  assert.equal(env.chaos.injected, 1, "a 401 is not retried");
});

Deno.test("a stalled stream cannot be told from a quiet one, but close() ends it at once", async () => {
  await using env = await sseSetup({ path: "/kv/subscribe/*", fault: faults.stall() });
  const subscription = env.client.subscribe("k");
  const events = new Collector(subscription);
  await env.server.sse.waitForSubscribers(1);
  env.server.store.set("k", "1"); // headers go out; the body stalls before the event
  await env.arrivals.reach("/kv/subscribe/", 1);
  await env.server.sse.waitForSubscribers(0); // the stall released the server's stream
  await subscription[Symbol.asyncDispose]();
  await within(events.done, "the iteration to end", 2_000);
  assert.equal(events.items.length, 0);
  assert.equal(events.error, undefined);
});

Deno.test("a watch converges after a cut stream although the change it carried was lost", async () => {
  await using env = await sseSetup();
  env.server.store.set("app/a", "1");
  using view = env.client.watch("app", { ...FAST, resyncInterval: Infinity });
  await within(view.ready, "the watch to be ready");
  const changes = new Collector(view);
  env.server.store.set("app/a", "2");
  await changes.until((items) => items.some((c) => c.value === "2"), "the first update");
  env.chaos.add({ path: "/kv/subscribe/*", fault: faults.cutEvents({ afterEvents: 0 }), times: 1 });
  env.server.sse.dropStreams();
  await env.arrivals.reach("/kv/subscribe/", 2);
  await env.server.sse.waitForSubscribers(1);
  env.server.store.set("app/b", "new"); // this event is cut mid-way: never delivered
  await changes.until((items) => items.some((c) => c.key === "app/b"), "app/b to appear");
  assert.equal(view.get("app/b"), "new");
  assert.equal(view.get("app/a"), "2");
  const b = changes.items.find((c) => c.key === "app/b")!;
  assert.equal(b.synthetic, true, "found by listing again, not by its (lost) event");
  view.close();
  await changes.done;
});

// ---------------------------------------------------------------------------------------------
// Jitter

Deno.test("100 subscriptions dropped at once do not reconnect in lockstep", async () => {
  await using env = await sseSetup();
  const base = 300;
  const delays: number[] = [];
  const subscriptions = Array.from({ length: 100 }, () =>
    env.client.subscribe("k", {
      reconnectDelay: base,
      onStateChange: (s) => s.state === "reconnecting" && delays.push(s.delay),
    }));
  const collectors = subscriptions.map((s) => new Collector(s));
  await env.server.sse.waitForSubscribers(100);
  env.server.store.set("k", "1");
  await Promise.all(collectors.map((c) => c.count(1)));
  const dropped = performance.now();
  assert.equal(env.server.sse.dropStreams(), 100);
  await env.arrivals.reach("/kv/subscribe/", 200);
  const arrivals = env.arrivals.to("/kv/subscribe/").slice(100).map((a) => a.time - dropped);
  const client = spread(delays);
  const server = spread(arrivals);
  console.log(
    `reconnect delays (client): ${client.min.toFixed(0)}–${client.max.toFixed(0)} ms, ` +
      `${client.distinct} distinct; arrivals (server): p10 ${server.p10.toFixed(0)} ms, ` +
      `p90 ${server.p90.toFixed(0)} ms, busiest 10 ms bucket ${server.busiestBucket}/100`,
  );
  assert.equal(delays.length, 100);
  // ±20% jitter around 300 ms: 240–360 ms; lockstep would be one value.
  assert.equal(client.distinct, 100);
  assert.ok(client.min >= base * 0.8 - 1 && client.max <= base * 1.2 + 1);
  assert.ok(client.max - client.min >= base * 0.25, `delays spread ${client.max - client.min} ms`);
  assert.ok(server.p90 - server.p10 >= base * 0.15, `arrivals spread ${server.p90 - server.p10}`);
  assert.ok(server.busiestBucket <= 30, `${server.busiestBucket} arrivals in one 10 ms bucket`);
  for (const s of subscriptions) s.close();
  await Promise.all(collectors.map((c) => c.done));
});

Deno.test("100 calls failing together retry with jitter, not in lockstep", async () => {
  await using env = await sseSetup({ method: "PUT", fault: faults.status(503), times: 100 });
  using client = new Client(env.server.url, { retryDelay: 200 });
  const started = performance.now();
  await Promise.all(Array.from({ length: 100 }, (_, i) => client.set(`k${i}`, "v")));
  const retries = env.arrivals.to("/kv/").filter((a) => a.method === "PUT").slice(100);
  const times = spread(retries.map((a) => a.time - started));
  console.log(
    `retry arrivals: p10 ${times.p10.toFixed(0)} ms, p90 ${times.p90.toFixed(0)} ms, ` +
      `busiest 10 ms bucket ${times.busiestBucket}/100`,
  );
  assert.equal(retries.length, 100);
  // Equal jitter: 100–200 ms after the failures.
  assert.ok(times.p90 - times.p10 >= 30, `retries spread ${times.p90 - times.p10} ms`);
  assert.ok(times.busiestBucket <= 30, `${times.busiestBucket} retries in one 10 ms bucket`);
});

Deno.test("NotFoundError is not retried, and keeps its key, under a latency rule", async () => {
  const env = await setup();
  try {
    const rule = env.chaos.add({ fault: faults.latency(5) });
    const error = await failure(env.client.get("missing"));
    assert.ok(error instanceof NotFoundError);
    assert.equal((error as NotFoundError).key, "missing");
    assert.equal(rule.injected, 1);
  } finally {
    await teardown(env);
  }
});

Deno.test("fault totals", () => {
  const total = [...tally.injected.values()].reduce((a, b) => a + b, 0);
  const kinds = [...tally.injected].filter(([, n]) => n > 0).map(([k, n]) => `${k} ${n}`);
  console.log(
    `${total} faults injected (${kinds.join(", ")}); ` +
      `${tally.calls} calls of the matrix checked, each settled as expected`,
  );
});
