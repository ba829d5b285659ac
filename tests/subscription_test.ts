import assert from "node:assert/strict";
import {
  Client,
  ForbiddenError,
  ResponseError,
  type SubscriptionEvent,
  type SubscriptionState,
  UnauthorizedError,
} from "../mod.ts";
import { fakeFetch, text } from "./helpers/fake_fetch.ts";
import { rejection } from "./helpers/assert.ts";

const BASE = "http://stash.test";

function change(key: string, action = "update", timestamp = "2026-01-04T10:30:00Z"): string {
  return `event: change\ndata: ${JSON.stringify({ key, action, timestamp })}\n\n`;
}

/** A streaming 200 response that sends `chunks` and then ends (or stays open until aborted). */
function stream(chunks: string[], request: Request, end = true): Response {
  const encoder = new TextEncoder();
  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      for (const chunk of chunks) controller.enqueue(encoder.encode(chunk));
      if (end) controller.close();
      else request.signal.addEventListener("abort", () => controller.error(request.signal.reason));
    },
  });
  return new Response(body, { headers: { "content-type": "text/event-stream" } });
}

async function take(iterable: AsyncIterable<SubscriptionEvent>, n: number) {
  const events: SubscriptionEvent[] = [];
  for await (const event of iterable) {
    events.push(event);
    if (events.length === n) break;
  }
  return events;
}

Deno.test("subscribe() yields change events with parsed fields, across chunk boundaries", async () => {
  const whole = change("app/a", "create") + change("app/b", "delete", "2026-01-04T10:30:01Z");
  const fake = fakeFetch((request) =>
    stream([whole.slice(0, 7), whole.slice(7, 50), whole.slice(50)], request, false)
  );
  using client = new Client(BASE, { fetch: fake.fetch });
  const events = await take(client.subscribe("app/a"), 2);
  assert.deepEqual(events, [
    { key: "app/a", action: "create", timestamp: new Date("2026-01-04T10:30:00Z") },
    { key: "app/b", action: "delete", timestamp: new Date("2026-01-04T10:30:01Z") },
  ]);
  assert.equal(fake.calls[0].url.pathname, "/kv/subscribe/app/a");
});

Deno.test("subscribe paths: exact keys are normalised, prefixes get /*, all is *", async () => {
  const fake = fakeFetch((request) => stream([change("x")], request, false));
  using client = new Client("http://stash.test/base", { fetch: fake.fetch });
  await take(client.subscribe(" app/my key "), 1);
  await take(client.subscribePrefix("app/"), 1);
  await take(client.subscribeAll(), 1);
  assert.deepEqual(fake.calls.map((call) => call.url.pathname), [
    "/base/kv/subscribe/app/my_key",
    "/base/kv/subscribe/app/*",
    "/base/kv/subscribe/*",
  ]);
  assert.throws(() => client.subscribePrefix(""), TypeError);
  assert.throws(() => client.subscribe("a/../b"), TypeError);
});

Deno.test("CRLF streams dispatch", async () => {
  const fake = fakeFetch((request) =>
    stream([change("k").replaceAll("\n", "\r\n")], request, false)
  );
  using client = new Client(BASE, { fetch: fake.fetch });
  const [event] = await take(client.subscribe("k"), 1);
  assert.equal(event.key, "k");
});

for (
  const [status, type] of [[401, UnauthorizedError], [403, ForbiddenError], [
    400,
    ResponseError,
  ]] as const
) {
  Deno.test(`HTTP ${status} ends the subscription with a typed error instead of retrying`, async () => {
    const fake = fakeFetch(text(status, status === 400 ? "key path required" : "nope"));
    const states: string[] = [];
    using client = new Client(BASE, { fetch: fake.fetch });
    const subscription = client.subscribe("k", { onStateChange: (s) => states.push(s.state) });
    await rejection(take(subscription, 1), type);
    assert.equal(fake.calls.length, 1);
    assert.deepEqual(states, ["connecting", "closed"]);
    assert.equal(subscription.closed, true);
  });
}

Deno.test("a clean end of stream reconnects after a delay, and a 503 is retried", async () => {
  let call = 0;
  const fake = fakeFetch((request) => {
    call++;
    if (call === 1) return stream([change("first")], request, true);
    if (call === 2) return text(503, "");
    return stream([change("second")], request, false);
  });
  const states: SubscriptionState[] = [];
  using client = new Client(BASE, { fetch: fake.fetch });
  const events = await take(
    client.subscribe("k", { reconnectDelay: 5, onStateChange: (s) => states.push(s) }),
    2,
  );
  assert.deepEqual(events.map((e) => e.key), ["first", "second"]);
  assert.equal(fake.calls.length, 3);
  const reconnects = states.filter((s) => s.state === "reconnecting") as {
    delay: number;
    attempt: number;
  }[];
  assert.equal(reconnects.length, 2);
  // After a healthy connection the backoff starts again at the base delay (±20%).
  assert.ok(reconnects[0].delay >= 4 && reconnects[0].delay <= 6, String(reconnects[0].delay));
  assert.deepEqual(states.map((s) => s.state), [
    "connecting",
    "connected",
    "reconnecting",
    "connecting",
    "reconnecting",
    "connecting",
    "connected",
    "closed",
  ]);
});

Deno.test("reconnect delays double from the base up to the maximum, with jitter", async () => {
  const fake = fakeFetch(new TypeError("connection refused"));
  const delays: number[] = [];
  using client = new Client(BASE, { fetch: fake.fetch });
  const subscription = client.subscribe("k", {
    reconnectDelay: 1,
    maxReconnectDelay: 8,
    onStateChange: (s) => {
      if (s.state === "reconnecting") {
        delays.push(s.delay);
        if (delays.length === 6) subscription.close();
      }
    },
  });
  assert.deepEqual(await take(subscription, 1), []);
  const bases = [1, 2, 4, 8, 8, 8];
  delays.forEach((delay, i) =>
    assert.ok(delay >= bases[i] * 0.8 && delay <= Math.min(8, bases[i] * 1.2), `${i}: ${delay}`)
  );
});

Deno.test("a server retry: field replaces the reconnection delay", async () => {
  let call = 0;
  const fake = fakeFetch((request) => {
    call++;
    return call === 1
      ? stream(["retry: 1\n\n", change("a")], request, true)
      : stream([change("b")], request, false);
  });
  using client = new Client(BASE, { fetch: fake.fetch });
  // With a one-minute base delay, only the honoured "retry: 1" lets this finish.
  const events = await take(client.subscribe("k", { reconnectDelay: 60_000 }), 2);
  assert.deepEqual(events.map((e) => e.key), ["a", "b"]);
});

Deno.test("malformed change events are skipped and counted; other event types are ignored", async () => {
  const fake = fakeFetch((request) =>
    stream(
      [
        "event: change\ndata: not json\n\n",
        'event: change\ndata: {"key":"k","action":"rename","timestamp":"2026-01-04T10:30:00Z"}\n\n',
        'event: change\ndata: {"key":"k","action":"update","timestamp":"yesterday"}\n\n',
        "data: a plain message\n\n",
        change("good"),
      ],
      request,
      false,
    )
  );
  using client = new Client(BASE, { fetch: fake.fetch });
  const subscription = client.subscribe("k");
  const [event] = await take(subscription, 1);
  assert.equal(event.key, "good");
  assert.equal(subscription.malformedEvents, 3);
});

Deno.test("break out of for await aborts the HTTP request", async () => {
  let signal!: AbortSignal;
  const fake = fakeFetch((request) => {
    signal = request.signal;
    return stream([change("a")], request, false);
  });
  using client = new Client(BASE, { fetch: fake.fetch });
  const subscription = client.subscribe("k");
  await take(subscription, 1);
  assert.equal(signal.aborted, true);
  assert.equal(subscription.closed, true);
  assert.equal(subscription.state.state, "closed");
});

Deno.test("close() while the server holds back headers ends the iteration", async () => {
  let signal!: AbortSignal;
  const fake = fakeFetch((request) => {
    signal = request.signal;
    return new Promise<Response>((_, reject) =>
      request.signal.addEventListener("abort", () => reject(request.signal.reason))
    );
  });
  using client = new Client(BASE, { fetch: fake.fetch });
  const subscription = client.subscribe("k");
  const done = take(subscription, 1);
  await Promise.resolve();
  subscription.close();
  assert.deepEqual(await done, []);
  assert.equal(signal.aborted, true);
});

Deno.test("an abort signal, client.close() and disposal each end a subscription", async () => {
  const hold = (request: Request) => stream([], request, false);
  const controller = new AbortController();
  const client = new Client(BASE, { fetch: fakeFetch(hold).fetch });
  const bySignal = client.subscribe("a", { signal: controller.signal });
  const byClient = client.subscribe("b");
  {
    using _byScope = client.subscribe("c");
  }
  controller.abort();
  assert.equal(bySignal.closed, true);
  client.close();
  assert.equal(byClient.closed, true);
  assert.deepEqual(await take(byClient, 1), []);
  assert.throws(() => client.subscribe("d"), /closed/);
});

Deno.test("a subscription can be iterated only once", () => {
  using client = new Client(BASE, {
    fetch: fakeFetch((request) => stream([], request, false)).fetch,
  });
  using subscription = client.subscribe("k");
  subscription[Symbol.asyncIterator]();
  assert.throws(() => subscription[Symbol.asyncIterator](), /only once/);
});

Deno.test("a stream error body that echoes the token is blanked before it becomes a message", async () => {
  const fake = fakeFetch(text(401, "bad token: Bearer s3cret-token-1 (s3cret-token-1)"));
  using client = new Client(BASE, { fetch: fake.fetch, token: "s3cret-token-1" });
  const error = await rejection(take(client.subscribe("k"), 1), UnauthorizedError);
  assert.equal(
    error.message,
    "unauthorized: the server refused the request (bad token: *** (***))",
  );
});
