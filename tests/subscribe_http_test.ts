/**
 * Subscriptions over real HTTP against the embedded server: delivery, ordering, wire
 * variations, reconnection, typed errors and the end of the server-side stream.
 */

import assert from "node:assert/strict";
import {
  Client,
  ForbiddenError,
  ResponseError,
  type Subscription,
  type SubscriptionEvent,
  type SubscriptionState,
  UnauthorizedError,
} from "../mod.ts";
import { type AuthConfig, startTestServer, type TestServer } from "../testing.ts";
import { Recorder, within } from "./helpers/recorder.ts";

/** Records a subscription's states. */
class StateLog extends Recorder<SubscriptionState> {
  readonly listener = (state: SubscriptionState) => this.add(state);

  names(): string[] {
    return this.items.map((state) => state.state);
  }
}

/** Iterates a subscription in the background, recording its events. */
class Collector extends Recorder<SubscriptionEvent> {
  error: unknown;
  ended = false;
  readonly done: Promise<void>;

  constructor(subscription: AsyncIterable<SubscriptionEvent>) {
    super();
    this.done = (async () => {
      try {
        for await (const event of subscription) this.add(event);
      } catch (error) {
        this.error = error;
      } finally {
        this.ended = true;
        this.notify();
      }
    })();
  }

  keys(): string[] {
    return this.items.map((event) => `${event.action} ${event.key}`);
  }

  /** Waits until `count` events arrived in total. */
  count(count: number): Promise<void> {
    return this.until((items) => items.length >= count, `${count} events`, () => this.ended);
  }
}

function plain(event: SubscriptionEvent): string {
  return `${event.action} ${event.key}`;
}

/** Waits until the server holds `count` more streams than `before`. */
async function subscribed(server: TestServer, count = 1): Promise<void> {
  await within(server.sse.waitForSubscribers(count), `${count} subscriber(s)`);
}

async function unsubscribed(server: TestServer): Promise<void> {
  await within(server.sse.waitForSubscribers(0), "the server-side streams to close");
}

/** Fast reconnection for tests. */
const FAST = { reconnectDelay: 5, maxReconnectDelay: 50 };

Deno.test("subscribe(), subscribePrefix() and subscribeAll() each receive a set as an event", async () => {
  await using server = await startTestServer();
  using client = new Client(server.url);
  const exact = new Collector(client.subscribe("app/config"));
  const prefix = new Collector(client.subscribePrefix("app"));
  const all = new Collector(client.subscribeAll());
  await subscribed(server, 3);
  const before = Math.floor(Date.now() / 1000) * 1000;
  await client.set("app/config", "1");
  await client.set("app/config", "2");
  await client.delete("app/config");
  const expected = ["create app/config", "update app/config", "delete app/config"];
  for (const collector of [exact, prefix, all]) {
    await collector.count(3);
    assert.deepEqual(collector.keys(), expected);
    for (const event of collector.items) {
      assert.ok(event.timestamp instanceof Date);
      // Second precision, UTC, taken by the server while this test ran.
      assert.equal(event.timestamp.getTime() % 1000, 0);
      assert.ok(event.timestamp.getTime() >= before && event.timestamp.getTime() <= Date.now());
    }
  }
  client.close();
  await Promise.all([exact.done, prefix.done, all.done]);
  await unsubscribed(server);
});

Deno.test("subscribe() normalises its key like a write: app/my key receives app/my_key", async () => {
  await using server = await startTestServer();
  using client = new Client(server.url);
  using subscription = client.subscribe(" app/my key ");
  const events = new Collector(subscription);
  await subscribed(server);
  await client.set("app/my key", "1");
  assert.equal(server.store.get("app/my_key")?.key, "app/my_key");
  await events.count(1);
  assert.deepEqual(events.keys(), ["create app/my_key"]);
  subscription.close();
  await events.done;
  await unsubscribed(server);
});

Deno.test("subscribePrefix() covers whole segments: app sees app/x, not apple or app", async () => {
  await using server = await startTestServer();
  using client = new Client(server.url);
  const bare = new Collector(client.subscribePrefix("app"));
  const slashed = new Collector(client.subscribePrefix("app/"));
  await subscribed(server, 2);
  // Writes outside the prefix sit between the matching ones: had they been delivered, they
  // would come before the second matching event.
  for (const key of ["apple", "app/x", "app", "apple/y", "application/z", "app/y/z"]) {
    await client.set(key, "1");
  }
  for (const collector of [bare, slashed]) {
    await collector.count(2);
    assert.deepEqual(collector.keys().slice(0, 2), ["create app/x", "create app/y/z"]);
  }
  client.close();
  await Promise.all([bare.done, slashed.done]);
  await unsubscribed(server);
});

Deno.test("subscribePrefix() delivers 10,000 events in the server's order, none lost", async () => {
  await using server = await startTestServer();
  using client = new Client(server.url);
  const applied: string[] = [];
  const unlisten = server.store.onChange((change) =>
    applied.push(`${change.action} ${change.key}`)
  );
  using subscription = client.subscribePrefix("bulk");
  const received: string[] = [];
  const total = 10_000;
  const done = (async () => {
    for await (const event of subscription) {
      received.push(plain(event));
      if (received.length === total) break;
    }
  })();
  await subscribed(server);
  // Eight writers at a time; the server's order of application is the expected order.
  let next = 0;
  const writer = async () => {
    while (next < total) {
      const i = next++;
      await client.set(`bulk/${String(i).padStart(5, "0")}`, String(i));
    }
  };
  await within(Promise.all(Array.from({ length: 8 }, writer)), "10,000 writes", 180_000);
  await within(done, "10,000 events", 60_000);
  unlisten();
  assert.equal(applied.length, total);
  assert.equal(new Set(applied).size, total);
  assert.deepEqual(received, applied);
  assert.equal(subscription.malformedEvents, 0);
  await unsubscribed(server);
});

Deno.test("chunked and CRLF server modes deliver the same events as whole LF events", async () => {
  await using server = await startTestServer();
  using client = new Client(server.url);
  using subscription = client.subscribePrefix("wire");
  const events = new Collector(subscription);
  await subscribed(server);
  const modes = [
    { chunkSize: 0, lineEnding: "\n" },
    { chunkSize: 1, lineEnding: "\n" },
    { chunkSize: 5, lineEnding: "\n" },
    { chunkSize: 0, lineEnding: "\r\n" },
    // One byte at a time: every CR ends a chunk and its LF starts the next.
    { chunkSize: 1, lineEnding: "\r\n" },
    { chunkSize: 3, lineEnding: "\r\n" },
    { chunkSize: 0, lineEnding: "\r" },
    { chunkSize: 2, lineEnding: "\r" },
  ] as const;
  const expected: string[] = [];
  for (const [i, mode] of modes.entries()) {
    server.sse.configure(mode);
    const key = `wire/mode-${i}/ключ`;
    await client.set(key, "1");
    await client.set(key, "2");
    await client.delete(key);
    expected.push(`create ${key}`, `update ${key}`, `delete ${key}`);
    await events.count(expected.length);
    assert.deepEqual(events.keys(), expected, JSON.stringify(mode));
  }
  assert.equal(subscription.malformedEvents, 0);
  subscription.close();
  await events.done;
  await unsubscribed(server);
});

for (
  const [how, end] of [
    ["its stream is dropped", (server: TestServer) => server.sse.dropStreams()],
    ["the server ends its stream cleanly", (server: TestServer) => server.sse.endStreams()],
  ] as const
) {
  Deno.test(`subscribe() reconnects after ${how} and keeps receiving`, async () => {
    await using server = await startTestServer();
    using client = new Client(server.url);
    const states = new StateLog();
    using subscription = client.subscribe("k", { ...FAST, onStateChange: states.listener });
    const events = new Collector(subscription);
    await subscribed(server);
    await client.set("k", "1");
    await events.count(1);
    assert.equal(end(server), 1);
    await states.until((s) => s.some((x) => x.state === "reconnecting"), "reconnecting");
    await subscribed(server);
    await client.set("k", "2");
    await events.count(2);
    assert.deepEqual(events.keys(), ["create k", "update k"]);
    assert.deepEqual(states.names(), [
      "connecting",
      "connected",
      "reconnecting",
      "connecting",
      "connected",
    ]);
    subscription.close();
    await events.done;
    await unsubscribed(server);
  });
}

Deno.test("a dropped stream's reconnection reports why", async () => {
  await using server = await startTestServer();
  using client = new Client(server.url);
  const states = new StateLog();
  using subscription = client.subscribe("k", { ...FAST, onStateChange: states.listener });
  const events = new Collector(subscription);
  await subscribed(server);
  await client.set("k", "1");
  await events.count(1);
  server.sse.dropStreams();
  await states.until((s) => s.some((x) => x.state === "reconnecting"), "reconnecting");
  const reconnecting = states.items[2] as Extract<SubscriptionState, { state: "reconnecting" }>;
  assert.ok(reconnecting.error !== undefined, "the reconnection reports why");
  subscription.close();
  await events.done;
  await unsubscribed(server);
});

Deno.test("subscribe() survives a server restart on the same port", async () => {
  await using server = await startTestServer();
  using client = new Client(server.url);
  const states = new StateLog();
  using subscription = client.subscribePrefix("app", {
    ...FAST,
    onStateChange: states.listener,
  });
  const events = new Collector(subscription);
  await subscribed(server);
  await client.set("app/a", "1");
  await events.count(1);
  await server.stop();
  // Attempts while the server is down are refused and retried with backoff.
  await states.until(
    (s) => s.filter((x) => x.state === "reconnecting").length >= 2,
    "two reconnection attempts",
  );
  await server.start();
  await subscribed(server);
  await client.set("app/b", "1");
  await events.count(2);
  assert.deepEqual(events.keys(), ["create app/a", "create app/b"]);
  assert.equal(states.names().at(-1), "connected");
  subscription.close();
  await events.done;
  await unsubscribed(server);
});

Deno.test("a server retry: field replaces the reconnection delay over HTTP", async () => {
  await using server = await startTestServer({ sse: { retry: 1 } });
  using client = new Client(server.url);
  // Without the server's "retry: 1", this subscription would wait a minute to reconnect.
  using subscription = client.subscribe("k", { reconnectDelay: 60_000 });
  const events = new Collector(subscription);
  await subscribed(server);
  await client.set("k", "1");
  await events.count(1);
  server.sse.dropStreams();
  await subscribed(server);
  await client.set("k", "2");
  await events.count(2);
  subscription.close();
  await events.done;
  await unsubscribed(server);
});

const AUTH: AuthConfig = {
  tokens: [
    { token: "admin", admin: true },
    { token: "reader", permissions: [{ prefix: "app/*", access: "r" }] },
    { token: "everything", permissions: [{ prefix: "*", access: "r" }] },
  ],
};

/** A server with auth whose subscription requests are counted. */
async function authServer() {
  let requests = 0;
  const server = await startTestServer({
    auth: AUTH,
    wrap: (handler) => (request) => {
      if (new URL(request.url).pathname.startsWith("/kv/subscribe/")) requests++;
      return handler(request);
    },
  });
  return { server, requests: () => requests };
}

const refusals: [string, string | undefined, (c: Client) => Subscription, unknown][] = [
  ["no token", undefined, (c) => c.subscribe("app/x"), UnauthorizedError],
  ["an unknown token", "nope", (c) => c.subscribePrefix("app"), UnauthorizedError],
  ["a token without permission", "reader", (c) => c.subscribe("other/x"), ForbiddenError],
  // v0.19 checks the literal path subscribe/app/*: a token scoped to app/* may not subscribe.
  ["a token scoped to app/* (v0.19)", "reader", (c) => c.subscribePrefix("app"), ForbiddenError],
];
for (const [who, token, open, type] of refusals) {
  Deno.test(`subscribe with ${who} throws ${(type as { name: string }).name} and does not retry`, async () => {
    const { server, requests } = await authServer();
    await using _server = server;
    using client = new Client(server.url, { token, retries: 0 });
    const subscription = open(client);
    // The first connection is already under way; a fast reconnect would show up in the count.
    const events = new Collector(subscription);
    await events.done;
    assert.ok(events.error instanceof (type as typeof Error), String(events.error));
    assert.equal((events.error as UnauthorizedError).status, type === ForbiddenError ? 403 : 401);
    assert.equal(events.items.length, 0);
    assert.equal(subscription.closed, true);
    const state = subscription.state;
    assert.equal(state.state, "closed");
    assert.equal((state as { error?: unknown }).error, events.error);
    assert.equal(requests(), 1);
  });
}

Deno.test("subscribe with a * read token or an admin token is allowed", async () => {
  const { server } = await authServer();
  await using _server = server;
  using admin = new Client(server.url, { token: "admin" });
  using everything = new Client(server.url, { token: "everything" });
  const all = new Collector(everything.subscribeAll());
  const prefix = new Collector(everything.subscribePrefix("app"));
  await subscribed(server, 2);
  await admin.set("app/x", "1");
  await all.count(1);
  await prefix.count(1);
  assert.deepEqual(all.keys(), ["create app/x"]);
  assert.deepEqual(prefix.keys(), ["create app/x"]);
  everything.close();
  await Promise.all([all.done, prefix.done]);
  await unsubscribed(server);
});

Deno.test("refuseSubscriptions(401/403) reaches the iterator as the typed error", async () => {
  await using server = await startTestServer();
  using client = new Client(server.url);
  for (const [status, type] of [[401, UnauthorizedError], [403, ForbiddenError]] as const) {
    server.sse.refuseSubscriptions(status);
    const events = new Collector(client.subscribe("k", FAST));
    await events.done;
    assert.ok(events.error instanceof type, String(events.error));
  }
  server.sse.refuseSubscriptions(null);
});

Deno.test("subscribe() retries 503 refusals and recovers when the server accepts again", async () => {
  await using server = await startTestServer();
  using client = new Client(server.url);
  server.sse.refuseSubscriptions(503);
  const states = new StateLog();
  using subscription = client.subscribe("k", { ...FAST, onStateChange: states.listener });
  const events = new Collector(subscription);
  await states.until(
    (s) => s.filter((x) => x.state === "reconnecting").length >= 3,
    "three refused attempts",
  );
  for (const state of states.items.filter((x) => x.state === "reconnecting")) {
    const error = (state as { error?: unknown }).error;
    assert.ok(error instanceof ResponseError && error.status === 503, String(error));
  }
  server.sse.refuseSubscriptions(null);
  await subscribed(server);
  await client.set("k", "1");
  await events.count(1);
  assert.deepEqual(events.keys(), ["create k"]);
  subscription.close();
  await events.done;
  await unsubscribed(server);
});

Deno.test("break out of for await closes the server-side stream", async () => {
  await using server = await startTestServer();
  using client = new Client(server.url);
  const subscription = client.subscribe("k");
  await subscribed(server);
  await client.set("k", "1");
  for await (const event of subscription) {
    assert.equal(event.key, "k");
    break;
  }
  assert.equal(subscription.closed, true);
  assert.equal(subscription.state.state, "closed");
  await unsubscribed(server);
});

Deno.test("close() ends the stream while the server still holds back its headers", async () => {
  await using server = await startTestServer();
  using client = new Client(server.url);
  const subscription = client.subscribe("k");
  const events = new Collector(subscription);
  await subscribed(server);
  subscription.close();
  subscription.close(); // idempotent
  await events.done;
  assert.equal(events.error, undefined);
  assert.deepEqual(events.items, []);
  await unsubscribed(server);
});

Deno.test("close() ends the stream in the middle of reading it", async () => {
  await using server = await startTestServer();
  using client = new Client(server.url);
  const subscription = client.subscribe("k");
  const events = new Collector(subscription);
  await subscribed(server);
  await client.set("k", "1");
  await events.count(1);
  subscription.close();
  await events.done;
  assert.equal(events.error, undefined);
  await unsubscribed(server);
});

Deno.test("an abort signal ends the stream", async () => {
  await using server = await startTestServer();
  using client = new Client(server.url);
  const controller = new AbortController();
  const subscription = client.subscribePrefix("app", { signal: controller.signal });
  const events = new Collector(subscription);
  await subscribed(server);
  await client.set("app/x", "1");
  await events.count(1);
  controller.abort();
  assert.equal(subscription.closed, true);
  await events.done;
  assert.equal(events.error, undefined);
  await unsubscribed(server);
});

Deno.test("an already aborted signal never opens a stream", async () => {
  await using server = await startTestServer();
  using client = new Client(server.url);
  const subscription = client.subscribe("k", { signal: AbortSignal.abort() });
  assert.equal(subscription.closed, true);
  const events = new Collector(subscription);
  await events.done;
  assert.deepEqual(events.items, []);
  await subscription[Symbol.asyncDispose]();
  assert.equal(server.sse.subscriberCount, 0);
});

Deno.test("leaving a using or await using block ends the stream", async () => {
  await using server = await startTestServer();
  using client = new Client(server.url);
  let events: Collector;
  {
    using subscription = client.subscribe("k");
    events = new Collector(subscription);
    await subscribed(server);
  }
  await events.done;
  await unsubscribed(server);
  {
    await using subscription = client.subscribeAll();
    events = new Collector(subscription);
    await subscribed(server);
    await client.set("k", "1");
    await events.count(1);
  }
  await events.done;
  await unsubscribed(server);
});

Deno.test("client.close() ends every subscription and its stream", async () => {
  await using server = await startTestServer();
  const client = new Client(server.url);
  const subscriptions = [client.subscribe("a"), client.subscribePrefix("b"), client.subscribeAll()];
  const collectors = subscriptions.map((subscription) => new Collector(subscription));
  await subscribed(server, 3);
  client.close();
  await Promise.all(collectors.map((collector) => collector.done));
  assert.ok(subscriptions.every((subscription) => subscription.closed));
  assert.ok(collectors.every((collector) => collector.error === undefined));
  await unsubscribed(server);
});

Deno.test("invalid subscription options throw TypeError or RangeError naming the option", async () => {
  await using server = await startTestServer();
  using client = new Client(server.url);
  assert.throws(() => client.subscribe("k", { reconnectDelay: 0 }), /reconnectDelay/);
  assert.throws(() => client.subscribe("k", { reconnectDelay: -5 }), RangeError);
  assert.throws(() => client.subscribe("k", { maxReconnectDelay: NaN }), RangeError);
  assert.throws(() => client.subscribe("k", { maxReconnectDelay: 2 ** 31 }), RangeError);
  assert.throws(
    () => client.subscribe("k", { reconnectDelay: "5" as unknown as number }),
    TypeError,
  );
  assert.equal(server.sse.subscriberCount, 0);
});
