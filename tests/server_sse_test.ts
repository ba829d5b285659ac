import assert from "node:assert/strict";
import { createStashHandler, startTestServer, type TestServer } from "../testing.ts";

const T0 = Date.UTC(2026, 0, 4, 10, 30, 0, 500);
const decoder = new TextDecoder();

function event(key: string, action: string, timestamp = "2026-01-04T10:30:00Z"): string {
  return `event: change\ndata: {"key":"${key}","action":"${action}","timestamp":"${timestamp}"}\n\n`;
}

async function send(server: TestServer, method: string, key: string, body?: string) {
  const response = await fetch(`${server.url}/kv/${key}`, { method, body });
  await response.body?.cancel();
  return response.status;
}

/** Reads until `count` complete events (blank-line separated) have arrived. */
async function readEvents(
  reader: ReadableStreamDefaultReader<Uint8Array>,
  count: number,
): Promise<string> {
  let text = "";
  while (text.split("\n\n").length - 1 < count) {
    const { done, value } = await reader.read();
    if (done) throw new Error(`stream ended after ${JSON.stringify(text)}`);
    text += decoder.decode(value, { stream: true });
  }
  return text;
}

/** Opens a subscription and waits until the server has registered it. */
async function subscribe(
  server: TestServer,
  path: string,
  init: RequestInit = {},
): Promise<{ response: Promise<Response> }> {
  const before = server.sse.subscriberCount;
  const response = fetch(`${server.url}/kv/subscribe/${path}`, init);
  await server.sse.waitForSubscribers(before + 1);
  return { response };
}

async function closeReader(server: TestServer, reader: ReadableStreamDefaultReader<Uint8Array>) {
  await reader.cancel();
  await server.sse.waitForSubscribers(0);
}

Deno.test("subscribe: an exact key gets create, update and delete events, byte for byte", async () => {
  await using server = await startTestServer({ now: () => T0 });
  const pending = (await subscribe(server, "app/config")).response;
  assert.equal(await send(server, "PUT", "app/config", "1"), 201);
  assert.equal(await send(server, "PUT", "app/config2", "x"), 201);
  assert.equal(await send(server, "PUT", "app/config", "2"), 200);
  assert.equal(await send(server, "DELETE", "app/config"), 204);
  const response = await pending;
  assert.equal(response.status, 200);
  assert.equal(response.headers.get("content-type"), "text/event-stream");
  assert.ok(response.headers.get("x-request-id"));
  const reader = response.body!.getReader();
  assert.equal(
    await readEvents(reader, 3),
    event("app/config", "create") + event("app/config", "update") +
      event("app/config", "delete"),
  );
  await closeReader(server, reader);
});

Deno.test("subscribe: the response headers are held back until the first event", async () => {
  await using server = await startTestServer();
  let settled = false;
  const pending = (await subscribe(server, "app/x")).response.finally(() => settled = true);
  // A full round trip on another connection, plus a change the topic does not match.
  const marker = Symbol("round trip done");
  const roundTrip = send(server, "PUT", "app/y", "1").then(() => fetch(`${server.url}/ping`))
    .then((r) => r.text()).then(() => marker);
  assert.equal(await Promise.race([pending, roundTrip]), marker);
  assert.equal(settled, false);
  await send(server, "PUT", "app/x", "1");
  const response = await pending;
  assert.equal(settled, true);
  const reader = response.body!.getReader();
  assert.match(await readEvents(reader, 1), /"key":"app\/x","action":"create"/);
  await closeReader(server, reader);
});

Deno.test("subscribe: app/* and app/ match whole segments only; * matches every key", async () => {
  await using server = await startTestServer({ now: () => T0 });
  const star = (await subscribe(server, "app/*")).response;
  const slash = (await subscribe(server, "app/")).response;
  const all = (await subscribe(server, "*")).response;
  for (const key of ["apple", "app", "app/x", "app/y/z"]) await send(server, "PUT", key, "1");
  const expected = event("app/x", "create") + event("app/y/z", "create");
  const readers = [];
  for (const pending of [star, slash]) {
    const reader = (await pending).body!.getReader();
    readers.push(reader);
    assert.equal(await readEvents(reader, 2), expected);
  }
  const allReader = (await all).body!.getReader();
  assert.equal(
    await readEvents(allReader, 4),
    event("apple", "create") + event("app", "create") + expected,
  );
  for (const reader of [...readers, allReader]) await reader.cancel();
  await server.sse.waitForSubscribers(0);
});

Deno.test("subscribe: an exact key is not space-normalised", async () => {
  await using server = await startTestServer();
  let spacedSettled = false;
  const spaced = (await subscribe(server, "app/my%20key")).response.finally(() =>
    spacedSettled = true
  );
  const normalised = (await subscribe(server, "app/my_key")).response;
  await send(server, "PUT", "app/my%20key", "1");
  const reader = (await normalised).body!.getReader();
  assert.match(await readEvents(reader, 1), /"key":"app\/my_key"/);
  const marker = Symbol("round trip done");
  const roundTrip = fetch(`${server.url}/ping`).then((r) => r.text()).then(() => marker);
  assert.equal(await Promise.race([spaced, roundTrip]), marker);
  assert.equal(spacedSettled, false);
  server.sse.endStreams();
  await (await spaced).body?.cancel();
  await reader.cancel();
  await server.sse.waitForSubscribers(0);
});

Deno.test("subscribe: /kv/subscribe/ alone answers 400 key path required", async () => {
  await using server = await startTestServer();
  const response = await fetch(`${server.url}/kv/subscribe/`);
  assert.equal(response.status, 400);
  assert.equal(await response.text(), "key path required\n");
  assert.equal(server.sse.subscriberCount, 0);
});

Deno.test("subscribe: event JSON escapes HTML characters and U+2028 like Go", async () => {
  await using server = await startTestServer({ now: () => T0 });
  const pending = (await subscribe(server, "*")).response;
  await send(server, "PUT", encodeURIComponent("a<b>&c\u2028d"), "1");
  const reader = (await pending).body!.getReader();
  assert.equal(
    await readEvents(reader, 1),
    'event: change\ndata: {"key":"a\\u003cb\\u003e\\u0026c\\u2028d","action":"create",' +
      '"timestamp":"2026-01-04T10:30:00Z"}\n\n',
  );
  await closeReader(server, reader);
});

Deno.test("subscribe: changes made directly on the store are published too", async () => {
  await using server = await startTestServer({ now: () => T0 });
  const pending = (await subscribe(server, "cfg/*")).response;
  server.store.set("cfg/a", "1");
  server.store.delete("cfg/a");
  const reader = (await pending).body!.getReader();
  assert.equal(await readEvents(reader, 2), event("cfg/a", "create") + event("cfg/a", "delete"));
  await closeReader(server, reader);
});

Deno.test("subscribe: subscriberCount returns to zero when a client breaks out", async () => {
  await using server = await startTestServer();
  const pending = (await subscribe(server, "k")).response;
  assert.equal(server.sse.subscriberCount, 1);
  await send(server, "PUT", "k", "1");
  const response = await pending;
  for await (const chunk of response.body!) {
    assert.match(decoder.decode(chunk), /"key":"k"/);
    break; // cancels the body
  }
  await server.sse.waitForSubscribers(0);
  assert.equal(server.sse.subscriberCount, 0);
});

Deno.test("subscribe: aborting before the first event removes the subscriber", async () => {
  await using server = await startTestServer();
  const controller = new AbortController();
  const pending = (await subscribe(server, "k", { signal: controller.signal })).response;
  controller.abort();
  await assert.rejects(pending, { name: "AbortError" });
  await server.sse.waitForSubscribers(0);
  await send(server, "PUT", "k", "1"); // nothing left to deliver to
});

Deno.test("subscribe: dropStreams breaks open streams abruptly", async () => {
  await using server = await startTestServer();
  const pending = (await subscribe(server, "k")).response;
  await send(server, "PUT", "k", "1");
  const reader = (await pending).body!.getReader();
  await readEvents(reader, 1);
  const waiting = (await subscribe(server, "other")).response;
  assert.equal(server.sse.dropStreams(), 2);
  assert.equal(server.sse.subscriberCount, 0);
  await assert.rejects(reader.read());
  // A stream dropped before its first event answers 200 with a body that fails.
  const response = await waiting;
  assert.equal(response.status, 200);
  await assert.rejects(response.body!.getReader().read());
});

Deno.test("subscribe: endStreams ends open streams cleanly after queued events", async () => {
  await using server = await startTestServer();
  const pending = (await subscribe(server, "k")).response;
  await send(server, "PUT", "k", "1");
  await send(server, "PUT", "k", "2");
  assert.equal(server.sse.endStreams(), 1);
  assert.equal(server.sse.subscriberCount, 0);
  const text = await (await pending).text();
  assert.equal(text.split("\n\n").length - 1, 2);
});

Deno.test("subscribe: CRLF line endings and a retry field on request", async () => {
  await using server = await startTestServer({ now: () => T0, sse: { lineEnding: "\r\n" } });
  const pending = (await subscribe(server, "k")).response;
  await send(server, "PUT", "k", "1");
  server.sse.configure({ retry: 2500, lineEnding: "\n" });
  await send(server, "PUT", "k", "2");
  const reader = (await pending).body!.getReader();
  const expected =
    'event: change\r\ndata: {"key":"k","action":"create","timestamp":"2026-01-04T10:30:00Z"}\r\n\r\n' +
    "retry: 2500\n" + event("k", "update");
  let text = "";
  while (text.length < expected.length) {
    const { done, value } = await reader.read();
    if (done) break;
    text += decoder.decode(value, { stream: true });
  }
  assert.equal(text, expected);
  await closeReader(server, reader);
});

Deno.test("subscribe: chunkSize hands each event over in pieces of that size", async () => {
  const handler = createStashHandler({ now: () => T0, sse: { chunkSize: 7 } });
  const pending = handler(new Request("http://stash.test/kv/subscribe/k"));
  await handler.sse.waitForSubscribers(1);
  handler.store.set("k", "1");
  const reader = (await pending).body!.getReader();
  const expected = event("k", "create");
  let text = "";
  while (text.length < expected.length) {
    const { value } = await reader.read();
    assert.ok(value && value.length <= 7 && value.length > 0);
    text += decoder.decode(value);
  }
  assert.equal(text, expected);
  await reader.cancel();
  assert.equal(handler.sse.subscriberCount, 0);
});

Deno.test("subscribe: chunked events arrive intact over HTTP", async () => {
  await using server = await startTestServer({ now: () => T0, sse: { chunkSize: 1 } });
  const pending = (await subscribe(server, "k")).response;
  await send(server, "PUT", "k", "1");
  await send(server, "DELETE", "k");
  const reader = (await pending).body!.getReader();
  assert.equal(await readEvents(reader, 2), event("k", "create") + event("k", "delete"));
  await closeReader(server, reader);
});

Deno.test("subscribe: a reader that falls behind the queue limit is dropped", async () => {
  const size = new TextEncoder().encode(event("k", "update")).length;
  const handler = createStashHandler({ now: () => T0, sse: { queueLimit: 3 * size } });
  const pending = handler(new Request("http://stash.test/kv/subscribe/k"));
  await handler.sse.waitForSubscribers(1);
  handler.store.set("k", "first");
  const response = await pending; // nobody reads its body
  handler.store.set("k", "2");
  handler.store.set("k", "3");
  assert.equal(handler.sse.subscriberCount, 1); // exactly at the limit
  handler.store.set("k", "over");
  assert.equal(handler.sse.subscriberCount, 0);
  await assert.rejects(response.body!.getReader().read(), { name: "StreamDroppedError" });
});

Deno.test("subscribe: refuseSubscriptions answers new requests with the given status", async () => {
  await using server = await startTestServer();
  const open = (await subscribe(server, "k")).response;
  const expected: Record<number, string> = {
    401: "Unauthorized\n",
    403: "Forbidden\n",
    500: "",
    503: "",
  };
  for (const [status, body] of Object.entries(expected)) {
    server.sse.refuseSubscriptions(Number(status));
    const response = await fetch(`${server.url}/kv/subscribe/k`);
    assert.equal(response.status, Number(status));
    assert.equal(await response.text(), body);
  }
  assert.equal(server.sse.subscriberCount, 1);
  server.sse.refuseSubscriptions(null);
  const again = (await subscribe(server, "k")).response;
  await send(server, "PUT", "k", "1");
  for (const pending of [open, again]) {
    const reader = (await pending).body!.getReader();
    await readEvents(reader, 1);
    await reader.cancel();
  }
  await server.sse.waitForSubscribers(0);
  assert.throws(() => server.sse.refuseSubscriptions(42), RangeError);
});

Deno.test("subscribe: auth is checked when the stream opens (v0.19 rules)", async () => {
  await using server = await startTestServer({
    secrets: true,
    auth: {
      tokens: [
        { token: "all", permissions: [{ prefix: "*", access: "r" }] },
        { token: "app", permissions: [{ prefix: "app/*", access: "rw" }] },
        {
          token: "mixed",
          permissions: [{ prefix: "*", access: "r" }, { prefix: "app/*", access: "w" }],
        },
        { token: "writer", permissions: [{ prefix: "*", access: "w" }] },
      ],
    },
  });
  const open = async (path: string, token?: string) => {
    const headers: Record<string, string> = token ? { "X-Auth-Token": token } : {};
    const response = await fetch(`${server.url}/kv/subscribe/${path}`, { headers });
    return { status: response.status, text: await response.text() };
  };
  assert.deepEqual(await open("app/x"), { status: 401, text: "Unauthorized\n" });
  // The middleware checks the literal path "subscribe/app/*": a token scoped to app/* fails.
  assert.deepEqual(await open("app/*", "app"), { status: 403, text: "Forbidden\n" });
  assert.deepEqual(await open("app/x", "app"), { status: 403, text: "Forbidden\n" });
  assert.deepEqual(await open("app/x", "writer"), { status: 403, text: "Forbidden\n" });
  assert.deepEqual(await open("app/secrets/*", "all"), { status: 403, text: "Forbidden\n" });
  // Past the middleware, the handler's own read check on the topic.
  assert.deepEqual(await open("app/x", "mixed"), { status: 403, text: "access denied\n" });
  assert.deepEqual(await open("app/*", "mixed"), { status: 403, text: "access denied\n" });
  assert.equal(server.sse.subscriberCount, 0);

  const headers = { Authorization: "Bearer all" };
  const pending = fetch(`${server.url}/kv/subscribe/app/*`, { headers });
  await server.sse.waitForSubscribers(1);
  server.store.set("app/x", "1");
  const response = await pending;
  assert.equal(response.status, 200);
  await response.body!.cancel();
  await server.sse.waitForSubscribers(0);
});

Deno.test("subscribe: a restart breaks streams; resubscribing on the same port works", async () => {
  await using server = await startTestServer({ now: () => T0 });
  const port = server.port;
  const pending = (await subscribe(server, "k")).response;
  await send(server, "PUT", "k", "1");
  const reader = (await pending).body!.getReader();
  await readEvents(reader, 1);
  await server.restart();
  await assert.rejects(reader.read());
  assert.equal(server.port, port);
  const again = (await subscribe(server, "k")).response;
  await send(server, "PUT", "k", "2");
  const reader2 = (await again).body!.getReader();
  assert.equal(await readEvents(reader2, 1), event("k", "update"));
  await closeReader(server, reader2);
});
