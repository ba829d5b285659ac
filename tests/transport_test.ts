import assert from "node:assert/strict";
import {
  Client,
  ClientClosedError,
  ConnectionError,
  ForbiddenError,
  NotFoundError,
  ResponseError,
  UnauthorizedError,
} from "../mod.ts";
import { fakeFetch, json, text } from "./helpers/fake_fetch.ts";
import { rejection } from "./helpers/assert.ts";

const BASE = "http://stash.test";

function client(fetch: ReturnType<typeof fakeFetch>["fetch"], options = {}) {
  return new Client(BASE, { fetch, retryDelay: 1, maxRetryDelay: 50, ...options });
}

Deno.test("a server failing twice then succeeding is retried: 3 attempts", async () => {
  const fake = fakeFetch(text(503, ""), text(502, "bad gateway"), text(200, "v"));
  using c = client(fake.fetch);
  assert.equal(await c.get("k"), "v");
  assert.equal(fake.calls.length, 3);
});

Deno.test("retries: 3 means 4 attempts at most, then the last answer's typed error", async () => {
  const fake = fakeFetch(json(500, { error: "failed to read" }));
  using c = client(fake.fetch);
  const error = await rejection(c.get("k"), ResponseError);
  assert.equal(fake.calls.length, 4);
  assert.equal(error.status, 500);
  assert.equal(error.serverMessage, "failed to read");
  assert.equal(error.method, "GET");
  assert.equal(error.key, "k");
});

Deno.test("retries: 0 makes exactly one attempt", async () => {
  const fake = fakeFetch(text(503, ""));
  using c = client(fake.fetch, { retries: 0 });
  await assert.rejects(c.get("k"), ResponseError);
  assert.equal(fake.calls.length, 1);
});

for (const status of [408, 429, 500, 502, 503, 504]) {
  Deno.test(`HTTP ${status} is retried`, async () => {
    const fake = fakeFetch(text(status, ""), text(200, "ok"));
    using c = client(fake.fetch);
    assert.equal(await c.get("k"), "ok");
    assert.equal(fake.calls.length, 2);
  });
}

for (const status of [400, 405, 409, 413, 422, 501]) {
  Deno.test(`HTTP ${status} is not retried`, async () => {
    const fake = fakeFetch(json(status, { error: "nope" }));
    using c = client(fake.fetch);
    const error = await rejection(c.get("k"), ResponseError);
    assert.equal(error.status, status);
    assert.equal(fake.calls.length, 1);
  });
}

Deno.test("401, 403 and 404 map to their typed errors and are not retried", async () => {
  const cases = [
    [text(401, "Unauthorized"), UnauthorizedError],
    [text(403, "Forbidden"), ForbiddenError],
    [json(404, { error: "key not found" }), NotFoundError],
  ] as const;
  for (const [reply, type] of cases) {
    const fake = fakeFetch(reply);
    using c = client(fake.fetch);
    const error = await rejection(c.get("app/x"), type) as Error & { key: string };
    assert.equal(error.key, "app/x");
    assert.equal(fake.calls.length, 1);
  }
});

Deno.test("NotFoundError names the key in its message and properties", async () => {
  using c = client(fakeFetch(json(404, { error: "key not found" })).fetch);
  const error = await rejection(c.get("app/db"), NotFoundError);
  assert.equal(error.message, "key not found: app/db");
  assert.equal(error.status, 404);
  assert.equal(error.key, "app/db");
});

Deno.test("Retry-After replaces the backoff delay", async () => {
  // With a one-minute backoff, only an honoured "Retry-After: 0" lets this finish.
  const fake = fakeFetch(text(429, "slow down", { "Retry-After": "0" }), text(200, "ok"));
  using c = new Client(BASE, { fetch: fake.fetch, retryDelay: 60_000, maxRetryDelay: 60_000 });
  assert.equal(await c.get("k"), "ok");
  assert.equal(fake.calls.length, 2);
});

Deno.test("a Retry-After longer than maxRetryDelay fails at once with the server's answer", async () => {
  const fake = fakeFetch(text(503, "", { "Retry-After": "3600" }));
  using c = client(fake.fetch);
  const error = await rejection(c.get("k"), ResponseError);
  assert.equal(error.status, 503);
  assert.equal(fake.calls.length, 1);
});

Deno.test("network errors are retried, then reported as a ConnectionError that is not a timeout", async () => {
  const fake = fakeFetch(new TypeError("connection refused"));
  using c = client(fake.fetch, { retries: 2 });
  const error = await rejection(c.get("k"), ConnectionError);
  assert.equal(fake.calls.length, 3);
  assert.equal(error.timedOut, false);
  assert.equal(error.attempts, 3);
  assert.match(error.message, /could not reach the server \(3 attempts\): connection refused/);
  assert.ok(error.cause instanceof TypeError);
});

Deno.test("an attempt that never answers times out; the final error says so", async () => {
  const hang = (request: Request) =>
    new Promise<Response>((_, reject) =>
      request.signal.addEventListener("abort", () => reject(request.signal.reason))
    );
  const fake = fakeFetch(hang);
  using c = client(fake.fetch, { retries: 1, timeout: 20 });
  const error = await rejection(c.get("k"), ConnectionError);
  assert.equal(error.timedOut, true);
  assert.equal(fake.calls.length, 2);
  assert.match(error.message, /timed out after 20 ms \(2 attempts\)/);
});

Deno.test("a per-call timeout overrides the client's", async () => {
  const hang = (request: Request) =>
    new Promise<Response>((_, reject) =>
      request.signal.addEventListener("abort", () => reject(request.signal.reason))
    );
  using c = client(fakeFetch(hang).fetch, { retries: 0, timeout: 60_000 });
  const error = await rejection(c.get("k", { timeout: 10 }), ConnectionError);
  assert.equal(error.timedOut, true);
});

Deno.test("an aborted caller signal stops the call with its reason and no retry", async () => {
  const controller = new AbortController();
  const fake = fakeFetch(() => {
    controller.abort(new Error("caller gave up"));
    return text(503, "");
  });
  using c = client(fake.fetch);
  await assert.rejects(c.get("k", { signal: controller.signal }), /caller gave up/);
  assert.equal(fake.calls.length, 1);
});

Deno.test("a signal aborted before the call sends nothing", async () => {
  const fake = fakeFetch(text(200, "v"));
  using c = client(fake.fetch);
  await assert.rejects(c.get("k", { signal: AbortSignal.abort() }), { name: "AbortError" });
  assert.equal(fake.calls.length, 0);
});

Deno.test("an abort during the backoff wait ends the call at once", async () => {
  const controller = new AbortController();
  const fake = fakeFetch(() => {
    queueMicrotask(() => controller.abort(new Error("stop")));
    return text(503, "");
  });
  using c = new Client(BASE, { fetch: fake.fetch, retryDelay: 60_000, maxRetryDelay: 60_000 });
  await assert.rejects(c.get("k", { signal: controller.signal }), /stop/);
  assert.equal(fake.calls.length, 1);
});

Deno.test("close() rejects calls in flight and later calls with ClientClosedError", async () => {
  let started!: () => void;
  const running = new Promise<void>((resolve) => started = resolve);
  const hang = (request: Request) =>
    new Promise<Response>((_, reject) => {
      started();
      request.signal.addEventListener("abort", () => reject(request.signal.reason));
    });
  const c = client(fakeFetch(hang).fetch);
  const call = c.get("k");
  await running;
  c.close();
  c.close();
  await assert.rejects(call, ClientClosedError);
  await assert.rejects(c.set("k", "v"), ClientClosedError);
  await assert.rejects(c.list(), ClientClosedError);
  assert.equal(c.closed, true);
});

Deno.test("redirects are not followed, so the token never travels to another origin", async () => {
  const fake = fakeFetch(
    new Response(null, { status: 301, headers: { location: "http://evil.test/kv/k" } }),
  );
  using c = client(fake.fetch, { token: "tok-123" });
  const error = await rejection(c.get("k"), ResponseError);
  assert.equal(error.status, 301);
  assert.match(error.message, /redirected to http:\/\/evil\.test\/kv\/k/);
  assert.equal(fake.calls.length, 1);
  assert.equal(fake.calls[0].headers.get("authorization"), "Bearer tok-123");
});

Deno.test("a body larger than maxResponseSize is a ResponseError, not unbounded memory", async () => {
  const big = new Uint8Array(2048);
  const fake = fakeFetch(() => new Response(new Blob([big]).stream()));
  using c = client(fake.fetch, { maxResponseSize: 1024 });
  const error = await rejection(c.getBytes("k"), ResponseError);
  assert.match(error.message, /larger than maxResponseSize \(1024 bytes\)/);
  const declared = fakeFetch(new Response(big, { headers: { "content-length": "2048" } }));
  using d = client(declared.fetch, { maxResponseSize: 1024 });
  await assert.rejects(d.getBytes("k"), ResponseError);
});

Deno.test("requests carry the token, extra headers, the base path and encoded keys", async () => {
  const fake = fakeFetch(text(201, ""));
  using c = new Client("http://stash.test/base/", {
    fetch: fake.fetch,
    token: "t0k",
    headers: { "X-Request-ID": "req-1" },
  });
  assert.deepEqual(await c.set("app/my key?#%+", "v", { format: "yaml" }), { created: true });
  const [call] = fake.calls;
  assert.equal(call.method, "PUT");
  assert.equal(call.url.pathname, "/base/kv/app/my%20key%3F%23%25%2B");
  assert.equal(call.headers.get("authorization"), "Bearer t0k");
  assert.equal(call.headers.get("x-request-id"), "req-1");
  assert.equal(call.headers.get("x-stash-format"), "yaml");
  assert.equal(new TextDecoder().decode(call.body), "v");
});

Deno.test("list() sends the prefix as an encoded query value", async () => {
  const fake = fakeFetch(json(200, null));
  using c = client(fake.fetch);
  assert.deepEqual(await c.list("a+b c&d"), []);
  assert.equal(fake.calls[0].url.search, "?prefix=a%2Bb+c%26d");
  assert.equal(fake.calls[0].url.searchParams.get("prefix"), "a+b c&d");
});

Deno.test("malformed list bodies are ResponseErrors", async () => {
  for (const body of ["not json", "{}", '[{"key":1}]', '[{"key":"a","size":1}]']) {
    using c = client(fakeFetch(text(200, body)).fetch);
    await assert.rejects(c.list(), ResponseError, body);
  }
});

Deno.test("ping() rejects when the answer is not pong", async () => {
  using c = client(fakeFetch(text(200, "hello")).fetch);
  await assert.rejects(c.ping(), /did not answer pong/);
  using d = client(fakeFetch(text(200, "pong")).fetch);
  await d.ping();
});

Deno.test("a base URL without a path addresses /kv/ at the root, with or without a slash", async () => {
  for (const base of ["http://stash.test", "http://stash.test/", "http://stash.test//"]) {
    const fake = fakeFetch(text(200, "v"));
    using c = new Client(base, { fetch: fake.fetch });
    await c.get("k");
    assert.equal(fake.calls[0].url.href, "http://stash.test/kv/k");
  }
});

Deno.test("fetch is called without a receiver, as browsers and workerd require", async () => {
  const receivers: unknown[] = [];
  const strictFetch = function (this: unknown) {
    receivers.push(this);
    return Promise.resolve(text(200, "v"));
  } as unknown as typeof fetch;
  using c = new Client(BASE, { fetch: strictFetch });
  await c.get("k");
  assert.deepEqual(receivers, [undefined]);
});
