/**
 * The chaos kit itself: rule selection and counters, determinism, and what each fault does on
 * the wire (raw fetch over real HTTP, port 0), with held requests always released.
 */

import assert from "node:assert/strict";
import { Chaos, createStashHandler, faults, type Injection, startTestServer } from "../testing.ts";
import { within } from "./helpers/chaos_helpers.ts";

const utf8 = new TextEncoder();
const text = new TextDecoder();

/** Reads a body until it ends or fails; returns the bytes and the failure, if any. */
async function drain(body: ReadableStream<Uint8Array> | null): Promise<{
  bytes: Uint8Array;
  reads: number;
  error?: unknown;
}> {
  const chunks: Uint8Array[] = [];
  let error: unknown;
  if (body) {
    const reader = body.getReader();
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        chunks.push(value);
      }
    } catch (caught) {
      error = caught;
    } finally {
      reader.releaseLock();
    }
  }
  const bytes = new Uint8Array(chunks.reduce((n, c) => n + c.byteLength, 0));
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return { bytes, reads: chunks.length, error };
}

function request(path: string, init?: RequestInit): Request {
  return new Request(`http://stash.test${path}`, init);
}

Deno.test("rules pick requests by method, path, after, every and times, and count them", async () => {
  const handler = createStashHandler();
  using chaos = new Chaos();
  const writes = chaos.add({
    method: "PUT",
    path: "/kv/app/*",
    after: 1,
    every: 2,
    times: 2,
    fault: faults.status(503),
  });
  const reads = chaos.add({ method: ["GET"], path: /^\/kv\/other$/, fault: faults.status(500) });
  const served = chaos.wrap(handler);
  const statuses: number[] = [];
  for (let i = 0; i < 8; i++) {
    const response = await served(request(`/kv/app/k${i}`, { method: "PUT", body: "v" }));
    await response.body?.cancel();
    statuses.push(response.status);
  }
  // Candidates after the first: 2nd, 3rd, ...; every 2nd of them fires, twice at most.
  assert.deepEqual(statuses, [201, 201, 503, 201, 503, 201, 201, 201]);
  const other = await served(request("/kv/other"));
  await other.body?.cancel();
  const notOther = await served(request("/kv/other/x"));
  await notOther.body?.cancel();
  assert.equal(other.status, 500);
  assert.equal(notOther.status, 404);
  assert.equal(writes.matched, 8);
  assert.equal(writes.injected, 2);
  assert.equal(reads.matched, 1);
  assert.equal(reads.injected, 1);
  assert.equal(chaos.requests, 10);
  assert.equal(chaos.injected, 3);
  assert.equal(chaos.count("status"), 3);
  assert.equal(chaos.count("reset"), 0);
  writes.remove();
  assert.deepEqual(chaos.rules.map((rule) => rule.name), ["status"]);
  chaos.clear();
  assert.equal(chaos.rules.length, 0);
});

Deno.test("path patterns match the decoded path; * spans segments", async () => {
  using chaos = new Chaos({ rules: [{ path: "/kv/app/* key", fault: faults.status(500) }] });
  const served = chaos.wrap(createStashHandler());
  const hit = await served(request("/kv/app/a/b/my%20key"));
  const miss = await served(request("/kv/app/a/b/my%20keys"));
  await Promise.all([hit.body?.cancel(), miss.body?.cancel()]);
  assert.equal(hit.status, 500);
  assert.equal(miss.status, 404);
});

Deno.test("probability is deterministic for a seed, and another seed picks differently", async () => {
  async function picks(seed: number): Promise<string> {
    using chaos = new Chaos({ seed, rules: [{ probability: 0.5, fault: faults.status(503) }] });
    const served = chaos.wrap(createStashHandler());
    let out = "";
    for (let i = 0; i < 64; i++) {
      const response = await served(request("/kv/k"));
      await response.body?.cancel();
      out += response.status === 503 ? "x" : ".";
    }
    return out;
  }
  const first = await picks(7);
  assert.equal(await picks(7), first);
  assert.notEqual(await picks(8), first);
  const fired = [...first].filter((c) => c === "x").length;
  assert.ok(fired > 16 && fired < 48, `fired ${fired} of 64 at p = 0.5`);
});

Deno.test("onInject reports each injection with its rule, kind, method, path and number", async () => {
  const seen: Injection[] = [];
  using chaos = new Chaos({
    onInject: (injection) => seen.push(injection),
    rules: [
      { name: "slow", method: "GET", fault: faults.latency(1) },
      { name: "down", path: "/kv/b", fault: faults.status(503) },
    ],
  });
  const served = chaos.wrap(createStashHandler());
  for (const path of ["/kv/a", "/kv/b"]) await (await served(request(path))).body?.cancel();
  assert.deepEqual(seen, [
    { rule: "slow", kind: "latency", method: "GET", path: "/kv/a", request: 1 },
    { rule: "slow", kind: "latency", method: "GET", path: "/kv/b", request: 2 },
    { rule: "down", kind: "status", method: "GET", path: "/kv/b", request: 2 },
  ]);
});

Deno.test("status faults answer like the real server: bodies, Retry-After, rate headers", async () => {
  using chaos = new Chaos();
  const served = chaos.wrap(createStashHandler());
  const cases: [ReturnType<typeof faults.status>, number, string, string | null][] = [
    [faults.status(401), 401, "Unauthorized\n", null],
    [faults.status(403), 403, "Forbidden\n", null],
    [faults.status(500), 500, '{"error":"failed to handle request"}\n', null],
    [faults.status(503), 503, "", null],
    [faults.status(429, { retryAfter: 3 }), 429, "Too Many Requests\n", "3"],
    [faults.status(502, { body: "bad gateway" }), 502, "bad gateway", null],
  ];
  for (const [fault, status, body, retryAfter] of cases) {
    chaos.clear();
    chaos.add({ fault });
    const response = await served(request("/kv/k"));
    assert.equal(response.status, status);
    assert.equal(await response.text(), body);
    assert.equal(response.headers.get("retry-after"), retryAfter);
  }
  chaos.clear();
  chaos.add({ fault: faults.rateLimit() });
  const limited = await served(request("/kv/k"));
  await limited.body?.cancel();
  assert.equal(limited.status, 429);
  assert.equal(limited.headers.get("ratelimit-reset"), "1");
  assert.equal(limited.headers.get("retry-after"), null);
});

Deno.test("reset makes fetch reject over HTTP; afterHandler lets the write through first", async () => {
  using chaos = new Chaos();
  await using server = await startTestServer({ wrap: chaos.wrap });
  chaos.add({ fault: faults.reset(), times: 1 });
  await assert.rejects(fetch(`${server.url}/kv/a`, { method: "PUT", body: "1" }), TypeError);
  assert.equal(server.store.get("a"), undefined, "the request never reached the server");
  chaos.add({ fault: faults.reset({ afterHandler: true }), times: 1 });
  await assert.rejects(fetch(`${server.url}/kv/b`, { method: "PUT", body: "2" }), TypeError);
  assert.equal(text.decode(server.store.get("b")?.value), "2", "the write was applied");
  const after = await fetch(`${server.url}/kv/b`);
  assert.equal(await after.text(), "2");
  assert.equal(chaos.count("reset"), 2);
});

Deno.test("breakBody sends headers and the first bytes, then the body read fails", async () => {
  using chaos = new Chaos({ rules: [{ fault: faults.breakBody({ afterBytes: 4 }) }] });
  await using server = await startTestServer({ wrap: chaos.wrap });
  server.store.set("k", "0123456789");
  const response = await fetch(`${server.url}/kv/k`);
  assert.equal(response.status, 200);
  const { bytes, error } = await drain(response.body);
  assert.ok(error instanceof TypeError, `expected a network error, got ${error}`);
  assert.equal(text.decode(bytes), "0123");
});

Deno.test("truncate declares the full length and sends half: the client sees the cut", async () => {
  using chaos = new Chaos({ rules: [{ fault: faults.truncate() }] });
  await using server = await startTestServer({ wrap: chaos.wrap });
  server.store.set("k", "0123456789");
  const response = await fetch(`${server.url}/kv/k`);
  assert.equal(response.headers.get("content-length"), "10");
  const { bytes, error } = await drain(response.body);
  assert.ok(error instanceof TypeError, `expected a network error, got ${error}`);
  assert.equal(text.decode(bytes), "01234");
});

Deno.test("stall holds the body until the client aborts; the server still shuts down", async () => {
  using chaos = new Chaos({ rules: [{ fault: faults.stall({ afterBytes: 2 }) }] });
  await using server = await startTestServer({ wrap: chaos.wrap });
  server.store.set("k", "0123456789");
  const controller = new AbortController();
  const response = await fetch(`${server.url}/kv/k`, { signal: controller.signal });
  const reader = response.body!.getReader();
  assert.equal(text.decode((await reader.read()).value), "01");
  const next = reader.read();
  controller.abort();
  await assert.rejects(next);
});

Deno.test("close() releases stalled bodies and hung requests", async () => {
  let injected = () => {};
  const hanging = new Promise<void>((resolve) => injected = resolve);
  const chaos = new Chaos({
    rules: [{ path: "/kv/stall", fault: faults.stall() }],
    onInject: (injection) => injection.kind === "hang" && injected(),
  });
  chaos.add({ path: "/kv/hang", fault: faults.hang() });
  await using server = await startTestServer({ wrap: chaos.wrap });
  server.store.set("stall", "value");
  const stalled = await fetch(`${server.url}/kv/stall`);
  const reading = drain(stalled.body);
  const hung = fetch(`${server.url}/kv/hang`);
  await within(hanging, "the request to hang");
  chaos.close();
  const { error } = await within(reading, "the stalled body to fail");
  assert.ok(error instanceof TypeError);
  const answer = await within(hung, "the hung request to end");
  assert.equal(answer.status, 503);
  await answer.body?.cancel();
  assert.equal(chaos.closed, true);
});

Deno.test("latency holds a request at least that long, and a seeded range stays in range", async () => {
  using chaos = new Chaos({ rules: [{ path: "/kv/slow", fault: faults.latency(60) }] });
  chaos.add({ path: "/kv/range", fault: faults.latency([10, 30]) });
  await using server = await startTestServer({ wrap: chaos.wrap });
  let started = performance.now();
  await (await fetch(`${server.url}/kv/slow`)).body?.cancel();
  assert.ok(performance.now() - started >= 55, "held for the latency");
  started = performance.now();
  await (await fetch(`${server.url}/kv/range`)).body?.cancel();
  assert.ok(performance.now() - started >= 9, "held for the range's minimum");
});

Deno.test("cutEvents sends whole events, then part of the next, then breaks the stream", async () => {
  for (const end of ["error", "close"] as const) {
    using chaos = new Chaos({
      rules: [{ path: "/kv/subscribe/*", fault: faults.cutEvents({ afterEvents: 2, end }) }],
    });
    await using server = await startTestServer({ wrap: chaos.wrap, sse: { chunkSize: 7 } });
    const stream = fetch(`${server.url}/kv/subscribe/k`);
    await server.sse.waitForSubscribers(1);
    for (let i = 0; i < 4; i++) server.store.set("k", String(i));
    const { bytes, error } = await drain((await stream).body);
    const received = text.decode(bytes);
    const events = received.split("\n\n");
    assert.equal(events.length, 3, received);
    assert.equal(events[2], 'event: change\ndata: {"ke', "24 bytes of the third event");
    assert.equal(end === "error", error instanceof TypeError, `${end}: ${error}`);
    await server.sse.waitForSubscribers(0);
  }
});

Deno.test("chunk and lineEnding reshape event streams: CRLF split between reads", async () => {
  using chaos = new Chaos({
    rules: [
      // The first rule is outermost: it chunks what the second one rewrote.
      { path: "/kv/subscribe/*", fault: faults.chunk(1) },
      { path: "/kv/subscribe/*", fault: faults.lineEnding("\r\n") },
    ],
  });
  const handler = createStashHandler();
  const fetchIt = chaos.fetchFor(handler);
  const controller = new AbortController();
  const stream = fetchIt("http://stash.test/kv/subscribe/k", { signal: controller.signal });
  await handler.sse.waitForSubscribers(1);
  handler.store.set("k", "1");
  const reader = (await stream).body!.getReader();
  let received = "";
  let reads = 0;
  while (!received.endsWith("\r\n\r\n")) {
    const { value } = await reader.read();
    assert.equal(value!.byteLength, 1);
    received += text.decode(value);
    reads++;
  }
  assert.match(received, /^event: change\r\ndata: \{"key":"k","action":"create",.*\}\r\n\r\n$/);
  assert.equal(reads, utf8.encode(received).byteLength);
  await reader.cancel();
  await handler.sse.waitForSubscribers(0);
  controller.abort();
});

Deno.test("fetchFor() turns reset into a rejected fetch and passes other faults through", async () => {
  using chaos = new Chaos({ rules: [{ fault: faults.reset(), times: 1 }] });
  const fetchIt = chaos.fetchFor(createStashHandler());
  await assert.rejects(fetchIt("http://stash.test/kv/k"), TypeError);
  const response = await fetchIt("http://stash.test/kv/k");
  assert.equal(response.status, 404);
  await response.body?.cancel();
});

Deno.test("invalid rules and options throw TypeError or RangeError naming the field", () => {
  const bad: [() => unknown, ErrorConstructor, RegExp][] = [
    [() => new Chaos({ seed: 1.5 }), RangeError, /seed/],
    [() => new Chaos({ rules: [{ fault: faults.hang(), times: -1 }] }), RangeError, /times/],
    [() => new Chaos({ rules: [{ fault: faults.hang(), every: 0 }] }), RangeError, /every/],
    [() => new Chaos({ rules: [{ fault: faults.hang(), after: 0.5 }] }), RangeError, /after/],
    [
      () => new Chaos({ rules: [{ fault: faults.hang(), probability: 2 }] }),
      RangeError,
      /probability/,
    ],
    [
      () => new Chaos({ rules: [{ fault: faults.hang(), path: 5 as unknown as string }] }),
      TypeError,
      /path/,
    ],
    [() => new Chaos({ rules: [{ fault: {} as never }] }), TypeError, /fault/],
    [() => new Chaos({ onInject: 1 as never }), TypeError, /onInject/],
    [() => faults.status(99), RangeError, /status/],
    [() => faults.latency(-1), RangeError, /latency/],
    [() => faults.chunk(0), RangeError, /size/],
    [() => faults.breakBody({ afterBytes: -1 }), RangeError, /afterBytes/],
    [() => faults.cutEvents({ end: "x" as "close" }), RangeError, /end/],
    [() => faults.lineEnding("\n" as "\r"), RangeError, /ending/],
    [() => new Chaos().wrap(null as never), TypeError, /handler/],
  ];
  for (const [make, type, message] of bad) {
    assert.throws(make, (error: unknown) => error instanceof type && message.test(String(error)));
  }
});
