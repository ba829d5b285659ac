/**
 * `Client.watch` over real HTTP against the embedded server: the snapshot, live updates,
 * convergence after changes it could not see, resyncs, fetch concurrency and coalescing,
 * decryption, errors and closing.
 */

import assert from "node:assert/strict";
import {
  Client,
  ForbiddenError,
  type SubscriptionState,
  type Watch,
  type WatchEvent,
} from "../mod.ts";
import { startTestServer, type StashHandler, type TestServer } from "../testing.ts";
import { Recorder, within } from "./helpers/recorder.ts";

/** Iterates a watch in the background, recording its events. */
class Collector extends Recorder<WatchEvent> {
  error: unknown;
  ended = false;
  readonly done: Promise<void>;

  constructor(view: AsyncIterable<WatchEvent>) {
    super();
    this.done = (async () => {
      try {
        for await (const event of view) this.add(event);
      } catch (error) {
        this.error = error;
      } finally {
        this.ended = true;
        this.notify();
      }
    })();
  }

  /** Waits until an event matching `event` (a subset of its fields) has arrived. */
  seen(event: Partial<WatchEvent>): Promise<void> {
    const matches = (e: WatchEvent) =>
      Object.entries(event).every(([field, value]) => e[field as keyof WatchEvent] === value);
    return this.until((items) => items.some(matches), JSON.stringify(event), () => this.ended);
  }

  /** Waits until `count` events arrived in total. */
  count(count: number): Promise<void> {
    return this.until((items) => items.length >= count, `${count} events`, () => this.ended);
  }

  summary(from = 0): string[] {
    return this.items.slice(from).map((e) =>
      `${e.synthetic ? "~" : ""}${e.action} ${e.key}${e.value === undefined ? "" : `=${e.value}`}`
    );
  }
}

/** Records states; waits on them. */
class StateLog extends Recorder<SubscriptionState> {
  readonly listener = (state: SubscriptionState) => this.add(state);

  count(name: SubscriptionState["state"]): number {
    return this.items.filter((state) => state.state === name).length;
  }
}

const decoder = new TextDecoder();

/** The server's keys and values under `prefix/`, as the view should hold them. */
function serverState(server: TestServer, prefix: string): Record<string, string> {
  const state: Record<string, string> = {};
  for (const item of server.store.list(`${prefix}/`)) {
    state[item.key] = decoder.decode(server.store.get(item.key)!.value);
  }
  return state;
}

function viewState(view: Watch): Record<string, string> {
  return Object.fromEntries(view.entries());
}

async function subscribed(server: TestServer, count = 1): Promise<void> {
  await within(server.sse.waitForSubscribers(count), `${count} subscriber(s)`);
}

async function unsubscribed(server: TestServer): Promise<void> {
  await within(server.sse.waitForSubscribers(0), "the server-side streams to close");
}

/** The key of a value GET (`/kv/<key>`), or undefined for lists, subscriptions and others. */
function valueKey(request: Request): string | undefined {
  const path = decodeURIComponent(new URL(request.url).pathname);
  if (request.method !== "GET" || !path.startsWith("/kv/") || path === "/kv/") return undefined;
  if (path.startsWith("/kv/subscribe/")) return undefined;
  return path.slice("/kv/".length);
}

function isList(request: Request): boolean {
  return new URL(request.url).pathname === "/kv/";
}

/** Fast reconnection for tests. */
const FAST = { reconnectDelay: 5, maxReconnectDelay: 50 };

Deno.test("watch() starts with a snapshot equal to the store, announced as synthetic creates", async () => {
  await using server = await startTestServer();
  for (const [key, value] of Object.entries({ "app/a": "1", "app/b/c": "2", "app/d": "" })) {
    server.store.set(key, value);
  }
  server.store.set("apple", "no");
  server.store.set("app", "no");
  server.store.set("other/x", "no");
  using client = new Client(server.url);
  await using view = client.watch("app");
  await within(view.ready, "the first listing");
  assert.deepEqual(viewState(view), serverState(server, "app"));
  assert.deepEqual(viewState(view), { "app/a": "1", "app/b/c": "2", "app/d": "" });
  assert.equal(view.get("app/a"), "1");
  assert.equal(view.get("app/d"), "");
  assert.equal(view.has("app/d"), true);
  assert.equal(view.get(" /app/a/ "), "1", "keys are normalised like the server's");
  assert.equal(view.get("apple"), undefined);
  assert.equal(view.get("app"), undefined);
  assert.equal(view.size, 3);
  const events = new Collector(view);
  await events.count(3);
  assert.deepEqual(events.summary().sort(), [
    "~create app/a=1",
    "~create app/b/c=2",
    "~create app/d=",
  ]);
  view.close();
  await within(events.done, "the iteration to end");
  await unsubscribed(server);
});

Deno.test("watch() follows live creates, updates and deletes, and serves them synchronously", async () => {
  await using server = await startTestServer();
  using client = new Client(server.url);
  await using view = client.watch("app", FAST);
  const events = new Collector(view);
  await within(view.ready, "the first listing");
  await subscribed(server);
  await client.set("app/x", "1");
  await events.seen({ key: "app/x", action: "create", value: "1" });
  assert.equal(view.get("app/x"), "1");
  await client.set("app/x", "2");
  await events.seen({ key: "app/x", action: "update", value: "2" });
  assert.equal(view.get("app/x"), "2");
  await client.delete("app/x");
  await events.seen({ key: "app/x", action: "delete" });
  assert.equal(view.get("app/x"), undefined);
  assert.equal(view.has("app/x"), false);
  assert.deepEqual(events.summary(), ["create app/x=1", "update app/x=2", "delete app/x"]);
  view.close();
  await within(events.done, "the iteration to end");
  await unsubscribed(server);
});

Deno.test("watch() covers whole segments: apple and app itself stay out of the view", async () => {
  await using server = await startTestServer();
  using client = new Client(server.url);
  await using view = client.watch("app", FAST);
  const events = new Collector(view);
  await within(view.ready, "the first listing");
  await subscribed(server);
  for (const key of ["apple", "app", "apple/x", "app/in"]) await client.set(key, "1");
  await events.seen({ key: "app/in" });
  assert.deepEqual(events.summary(), ["create app/in=1"]);
  assert.deepEqual(viewState(view), { "app/in": "1" });
  view.close();
  await within(events.done, "the iteration to end");
});

/** Seeds the changes a watch will have to find by itself. */
function changeWhileAway(server: TestServer): void {
  server.store.set("app/changed", "new"); // update
  server.store.delete("app/deleted"); // delete
  server.store.set("app/created", "1"); // create
  server.store.set("app/twice", "a"); // two updates, seen as one
  server.store.set("app/twice", "b");
  server.store.set("app/gone-and-back", "2"); // delete and re-create, seen as an update
  server.store.delete("app/gone-and-back");
  server.store.set("app/gone-and-back", "3");
  server.store.set("apple", "outside");
}

function seed(server: TestServer): void {
  for (const key of ["app/changed", "app/deleted", "app/same", "app/twice", "app/gone-and-back"]) {
    server.store.set(key, "old");
  }
}

const AWAY = [
  "~create app/created=1",
  "~delete app/deleted",
  "~update app/changed=new",
  "~update app/gone-and-back=3",
  "~update app/twice=b",
];

Deno.test("watch() converges after changes made while the server was down", async () => {
  await using server = await startTestServer();
  seed(server);
  using client = new Client(server.url);
  const states = new StateLog();
  await using view = client.watch("app", { ...FAST, onStateChange: states.listener });
  const events = new Collector(view);
  await within(view.ready, "the first listing");
  await subscribed(server);
  await client.set("app/live", "1");
  await events.seen({ key: "app/live", synthetic: false });
  const before = events.items.length;

  await server.stop();
  await states.until(() => states.count("reconnecting") >= 1, "a reconnection attempt");
  changeWhileAway(server);
  await server.start();

  // No new event is needed: the view lists again as soon as it reconnects.
  await events.until(
    () => events.items.length - before >= AWAY.length,
    "the changes made while away",
    () => events.ended,
  );
  assert.deepEqual(events.summary(before).sort(), AWAY);
  assert.deepEqual(viewState(view), serverState(server, "app"));
  // Still live afterwards.
  await subscribed(server);
  await client.set("app/after", "1");
  await events.seen({ key: "app/after", value: "1" });
  assert.deepEqual(viewState(view), serverState(server, "app"));
  view.close();
  await within(events.done, "the iteration to end");
  await unsubscribed(server);
});

Deno.test("watch() converges after its stream was dropped and subscriptions refused", async () => {
  await using server = await startTestServer();
  seed(server);
  using client = new Client(server.url);
  const states = new StateLog();
  await using view = client.watch("app", { ...FAST, onStateChange: states.listener });
  const events = new Collector(view);
  await within(view.ready, "the first listing");
  await subscribed(server);
  await client.set("app/live", "1");
  await events.seen({ key: "app/live", synthetic: false });
  const before = events.items.length;

  server.sse.refuseSubscriptions(503);
  server.sse.dropStreams();
  changeWhileAway(server);
  await events.until(
    () => events.items.length - before >= AWAY.length,
    "the changes made while away",
    () => events.ended,
  );
  assert.deepEqual(events.summary(before).sort(), AWAY);
  assert.deepEqual(viewState(view), serverState(server, "app"));
  assert.ok(states.count("reconnecting") >= 1);

  server.sse.refuseSubscriptions(null);
  await subscribed(server);
  server.store.set("app/after", "1");
  await events.seen({ key: "app/after", value: "1" });
  assert.deepEqual(viewState(view), serverState(server, "app"));
  view.close();
  await within(events.done, "the iteration to end");
  await unsubscribed(server);
});

Deno.test("the resync interval catches changes while the stream waits to reconnect", async () => {
  let subscribes = 0;
  await using server = await startTestServer({
    wrap: (handler) => (request) => {
      if (new URL(request.url).pathname.startsWith("/kv/subscribe/")) subscribes++;
      return handler(request);
    },
  });
  seed(server);
  using client = new Client(server.url);
  const states = new StateLog();
  // The stream waits a minute before reconnecting: only the interval can find the changes.
  await using view = client.watch("app", {
    reconnectDelay: 60_000,
    resyncInterval: 20,
    onStateChange: states.listener,
  });
  const events = new Collector(view);
  await within(view.ready, "the first listing");
  await subscribed(server);
  await client.set("app/live", "1");
  await events.seen({ key: "app/live", synthetic: false });
  const before = events.items.length;
  server.sse.dropStreams();
  await states.until(() => states.count("reconnecting") === 1, "the stream to break");
  changeWhileAway(server);
  await events.until(
    () => events.items.length - before >= AWAY.length,
    "the interval to find the changes",
    () => events.ended,
  );
  assert.deepEqual(events.summary(before).sort(), AWAY);
  assert.deepEqual(viewState(view), serverState(server, "app"));
  assert.equal(states.items.at(-1)?.state, "reconnecting");
  assert.equal(subscribes, 1);
  view.close();
  await within(events.done, "the iteration to end");
});

Deno.test("a listing older than an event does not delete the key the event created", async () => {
  let holdNextList = false;
  let releaseList = () => {};
  const listHeld = Promise.withResolvers<void>();
  await using server = await startTestServer({
    wrap: (handler: StashHandler) => async (request) => {
      const response = await handler(request);
      if (isList(request) && holdNextList) {
        holdNextList = false;
        // The listing is taken now and delivered late, after the key below is created.
        listHeld.resolve();
        await new Promise<void>((resolve) => releaseList = resolve);
      }
      return response;
    },
  });
  using client = new Client(server.url);
  await using view = client.watch("app", FAST);
  const events = new Collector(view);
  await within(view.ready, "the first listing");
  await subscribed(server);
  holdNextList = true;
  server.sse.dropStreams(); // the reconnection lists again
  await within(listHeld.promise, "the listing of the reconnection");
  await subscribed(server);
  await client.set("app/new", "1");
  await events.seen({ key: "app/new", action: "create", synthetic: false });
  releaseList();
  // A later change orders itself after whatever the old listing did.
  await client.set("app/marker", "1");
  await events.seen({ key: "app/marker" });
  assert.equal(view.get("app/new"), "1");
  assert.deepEqual(
    events.summary().filter((line) => line.includes("app/new")),
    ["create app/new=1"],
  );
  view.close();
  await within(events.done, "the iteration to end");
});

Deno.test("value fetches never exceed the concurrency option", async () => {
  const total = 20;
  let active = 0;
  let most = 0;
  let started = 0;
  const changed = new Recorder<number>();
  await using server = await startTestServer({
    wrap: (handler) => async (request) => {
      if (!valueKey(request)) return await handler(request);
      started++;
      active++;
      most = Math.max(most, active);
      changed.add(active);
      try {
        // Hold each fetch until a second one runs beside it (or it is the last one), so the
        // limit is reached whenever the view allows it.
        await changed.until(() => active >= 2 || started >= total, "a second fetch");
        return await handler(request);
      } finally {
        active--;
        changed.notify();
      }
    },
  });
  for (let i = 0; i < total; i++) server.store.set(`app/k${i}`, String(i));
  using client = new Client(server.url);
  await using view = client.watch("app", { concurrency: 2 });
  await within(view.ready, "the first listing");
  assert.equal(view.size, total);
  assert.equal(started, total);
  assert.equal(most, 2);
});

Deno.test("a burst of 100 updates to one key is coalesced into a few fetches", async () => {
  let hotFetches = 0;
  let release = () => {};
  const released = new Promise<void>((resolve) => release = resolve);
  await using server = await startTestServer({
    wrap: (handler) => async (request) => {
      if (valueKey(request) === "app/hot") {
        hotFetches++;
        await released; // the first fetch waits while the burst arrives
      }
      return await handler(request);
    },
  });
  using client = new Client(server.url);
  await using view = client.watch("app", FAST);
  const events = new Collector(view);
  await within(view.ready, "the first listing");
  await subscribed(server);
  for (let i = 1; i <= 100; i++) server.store.set("app/hot", String(i));
  // Events arrive in order: once the marker is in, the whole burst has been read.
  server.store.set("app/marker", "1");
  await events.seen({ key: "app/marker" });
  release();
  await events.seen({ key: "app/hot", value: "100" });
  assert.equal(view.get("app/hot"), "100");
  assert.ok(hotFetches <= 3, `${hotFetches} fetches for one key`);
  view.close();
  await within(events.done, "the iteration to end");
});

Deno.test("watch() with a zkKey holds decrypted values", async () => {
  await using server = await startTestServer();
  const zkKey = "correct horse battery staple";
  using writer = new Client(server.url, { zkKey });
  await writer.set("app/db/password", "hunter2");
  assert.match(decoder.decode(server.store.get("app/db/password")!.value), /^\$ZK\$/);
  using client = new Client(server.url, { zkKey });
  await using view = client.watch("app", FAST);
  const events = new Collector(view);
  await within(view.ready, "the first listing", 60_000);
  assert.equal(view.get("app/db/password"), "hunter2");
  await subscribed(server);
  await writer.set("app/db/password", "correct");
  await events.seen({ key: "app/db/password", value: "correct" });
  assert.equal(view.get("app/db/password"), "correct");
  view.close();
  await within(events.done, "the iteration to end");
});

Deno.test("watch() with a token that may not subscribe ends with ForbiddenError", async () => {
  await using server = await startTestServer({
    auth: {
      tokens: [{ token: "reader", permissions: [{ prefix: "app/*", access: "r" }] }],
    },
  });
  using client = new Client(server.url, { token: "reader" });
  const view = client.watch("app", FAST);
  const events = new Collector(view);
  await within(events.done, "the iteration to end");
  // v0.19: a token scoped to app/* gets 403 on /kv/subscribe/app/*.
  assert.ok(events.error instanceof ForbiddenError, String(events.error));
  // The listing is allowed, so it may have completed before the refusal arrived.
  await view.ready.catch((error) => assert.ok(error instanceof ForbiddenError, String(error)));
  assert.equal(view.closed, true);
  await view[Symbol.asyncDispose]();
});

Deno.test("maxBufferedEvents drops the oldest events of a slow consumer", async () => {
  await using server = await startTestServer();
  for (let i = 0; i < 5; i++) server.store.set(`app/k${i}`, String(i));
  using client = new Client(server.url);
  await using view = client.watch("app", { maxBufferedEvents: 2 });
  await within(view.ready, "the first listing");
  assert.equal(view.droppedEvents, 3);
  assert.equal(view.size, 5);
  const events = new Collector(view);
  await events.count(2);
  view.close();
  await within(events.done, "the iteration to end");
  assert.equal(events.items.length, 2);
});

Deno.test("break, close(), a signal and using each end a watch and its stream", async () => {
  await using server = await startTestServer();
  server.store.set("app/a", "1");
  using client = new Client(server.url);

  const byBreak = client.watch("app");
  for await (const event of byBreak) {
    assert.equal(event.key, "app/a");
    break;
  }
  assert.equal(byBreak.closed, true);
  await unsubscribed(server);

  const byClose = client.watch("app");
  const closeEvents = new Collector(byClose);
  await subscribed(server);
  byClose.close();
  byClose.close(); // idempotent
  await within(closeEvents.done, "the iteration to end");
  assert.equal(closeEvents.error, undefined);
  await unsubscribed(server);

  const controller = new AbortController();
  const bySignal = client.watch("app", { signal: controller.signal });
  const signalEvents = new Collector(bySignal);
  await subscribed(server);
  controller.abort();
  assert.equal(bySignal.closed, true);
  await within(signalEvents.done, "the iteration to end");
  await unsubscribed(server);

  {
    await using _view = client.watch("app");
    await subscribed(server);
  }
  await unsubscribed(server);
});

Deno.test("a watch given an already aborted signal is closed and sends nothing", async () => {
  let requests = 0;
  await using server = await startTestServer({
    wrap: (handler) => (request) => {
      requests++;
      return handler(request);
    },
  });
  using client = new Client(server.url);
  const view = client.watch("app", { signal: AbortSignal.abort() });
  assert.equal(view.closed, true);
  await assert.rejects(view.ready);
  const events = new Collector(view);
  await within(events.done, "the iteration to end");
  assert.deepEqual(events.items, []);
  await view[Symbol.asyncDispose]();
  assert.equal(requests, 0);
});

Deno.test("client.close() ends a watch: its iteration, its stream and its resync timer", async () => {
  await using server = await startTestServer();
  server.store.set("app/a", "1");
  const client = new Client(server.url);
  const view = client.watch("app", { resyncInterval: 10 });
  const events = new Collector(view);
  await within(view.ready, "the first listing");
  await subscribed(server);
  client.close();
  await within(events.done, "the iteration to end");
  assert.equal(events.error, undefined);
  assert.equal(view.closed, true);
  await view[Symbol.asyncDispose]();
  await unsubscribed(server);
  // The sanitizers fail this test if the resync interval is still running.
});

Deno.test("invalid watch options throw TypeError or RangeError naming the option", async () => {
  await using server = await startTestServer();
  using client = new Client(server.url);
  assert.throws(() => client.watch("app", { concurrency: 0 }), /concurrency/);
  assert.throws(() => client.watch("app", { concurrency: 1.5 }), RangeError);
  assert.throws(() => client.watch("app", { resyncInterval: 0 }), /resyncInterval/);
  assert.throws(() => client.watch("app", { resyncInterval: 2 ** 31 }), RangeError);
  assert.throws(() => client.watch("app", { maxBufferedEvents: -1 }), /maxBufferedEvents/);
  assert.throws(() => client.watch("app", { reconnectDelay: 0 }), /reconnectDelay/);
  assert.throws(
    () => client.watch("app", { onError: "log" as unknown as () => void }),
    TypeError,
  );
  assert.equal(server.sse.subscriberCount, 0);
});

Deno.test("a same-size rewrite within one millisecond, unseen by the stream, is still caught", async () => {
  // A frozen clock: every write lands in the same millisecond; only the server's nanosecond
  // updated_at (kept exact by the client) tells the versions apart.
  const frozen = Date.parse("2026-01-04T10:30:00Z");
  await using server = await startTestServer({ now: () => frozen });
  server.store.set("app/flag", "on");
  using client = new Client(server.url);
  const states = new StateLog();
  await using view = client.watch("app", {
    reconnectDelay: 60_000,
    resyncInterval: 20,
    onStateChange: states.listener,
  });
  const events = new Collector(view);
  await within(view.ready, "the first listing");
  await subscribed(server);
  server.sse.dropStreams();
  await states.until(() => states.count("reconnecting") === 1, "the stream to break");
  server.store.set("app/flag", "no");
  await events.until(() => view.get("app/flag") === "no", "the interval to find the rewrite");
  assert.deepEqual(events.summary(1), ["~update app/flag=no"]);
  assert.deepEqual(viewState(view), serverState(server, "app"));
  view.close();
  await within(events.done, "the iteration to end");
});
