import assert from "node:assert/strict";
import {
  createStashHandler,
  MemoryStore,
  startTestServer,
  type StoreChange,
  type TestServer,
} from "../testing.ts";

async function put(base: string, key: string, body: string): Promise<number> {
  const response = await fetch(`${base}/kv/${key}`, { method: "PUT", body });
  await response.body?.cancel();
  return response.status;
}

async function get(base: string, key: string): Promise<string> {
  return await (await fetch(`${base}/kv/${key}`)).text();
}

Deno.test("startTestServer listens on a free port of 127.0.0.1 by default", async () => {
  await using server = await startTestServer();
  assert.match(server.url, /^http:\/\/127\.0\.0\.1:\d+$/);
  assert.equal(server.origin, server.url);
  assert.ok(server.port > 0);
  assert.equal(server.url, `http://127.0.0.1:${server.port}`);
  assert.equal(server.listening, true);
  assert.equal(server.store, server.handler.store);
  assert.equal(server.sse, server.handler.sse);
  assert.equal(await (await fetch(`${server.url}/ping`)).text(), "pong");
});

Deno.test("close() is idempotent and the server refuses connections afterwards", async () => {
  const server = await startTestServer();
  await server.close();
  await server.close();
  assert.equal(server.listening, false);
  await assert.rejects(fetch(`${server.url}/ping`));
  await assert.rejects(server.start(), /closed/);
});

Deno.test("await using closes the server at the end of the block", async () => {
  let kept: TestServer | undefined;
  {
    await using server = await startTestServer();
    kept = server;
    assert.equal(kept.listening, true);
  }
  assert.equal(kept.listening, false);
});

Deno.test("close() ends open subscription streams so the server shuts down promptly", async () => {
  const server = await startTestServer();
  const waiting = fetch(`${server.url}/kv/subscribe/never`);
  const active = fetch(`${server.url}/kv/subscribe/k`);
  await server.sse.waitForSubscribers(2);
  await put(server.url, "k", "1");
  const reader = (await active).body!.getReader();
  await reader.read();
  await server.close();
  assert.equal(server.sse.subscriberCount, 0);
  await assert.rejects(reader.read());
  const response = await waiting;
  await assert.rejects(response.body!.getReader().read());
});

Deno.test("stop() refuses connections, start() listens again on the same port with the same store", async () => {
  await using server = await startTestServer();
  const port = server.port;
  assert.equal(await put(server.url, "k", "kept"), 201);
  await server.stop();
  assert.equal(server.listening, false);
  await assert.rejects(fetch(`${server.url}/ping`));
  await server.start();
  await server.start();
  assert.equal(server.listening, true);
  assert.equal(server.port, port);
  assert.equal(await get(server.url, "k"), "kept");
  await server.restart();
  assert.equal(await get(server.url, "k"), "kept");
  assert.equal(await put(server.url, "k", "again"), 200);
});

Deno.test("wrap composes another handler around the server's", async () => {
  const seen: string[] = [];
  await using server = await startTestServer({
    wrap: (handler) => async (request) => {
      seen.push(`${request.method} ${new URL(request.url).pathname}`);
      if (request.headers.get("x-fail")) return new Response(null, { status: 502 });
      const response = await handler(request);
      response.headers.set("X-Wrapped", "yes");
      return response;
    },
  });
  const ok = await fetch(`${server.url}/kv/a`, { method: "PUT", body: "1" });
  await ok.body?.cancel();
  assert.equal(ok.status, 201);
  assert.equal(ok.headers.get("x-wrapped"), "yes");
  const failed = await fetch(`${server.url}/kv/a`, { headers: { "X-Fail": "1" } });
  await failed.body?.cancel();
  assert.equal(failed.status, 502);
  assert.deepEqual(seen, ["PUT /kv/a", "GET /kv/a"]);
});

Deno.test("options are checked, naming the option and the value", async () => {
  await assert.rejects(startTestServer({ port: -1 }), { name: "RangeError", message: /port/ });
  await assert.rejects(startTestServer({ port: 70000 }), RangeError);
  await assert.rejects(startTestServer({ hostname: "" }), TypeError);
  const bad: [Parameters<typeof createStashHandler>[0], ErrorConstructor, RegExp][] = [
    [{ bodyLimit: -1 }, RangeError, /bodyLimit.*-1/],
    [{ bodyLimit: 1.5 }, RangeError, /bodyLimit/],
    [{ basePath: "stash" }, TypeError, /basePath.*stash/],
    [{ secrets: "yes" as unknown as boolean }, TypeError, /secrets/],
    [{ cors: 1 as unknown as boolean }, TypeError, /cors/],
    [{ now: () => 1, store: new MemoryStore() }, TypeError, /now/],
    [{ sse: { chunkSize: -1 } }, RangeError, /chunkSize.*-1/],
    [{ sse: { lineEnding: "x" as "\n" } }, RangeError, /lineEnding/],
    [{ sse: { queueLimit: 0 } }, RangeError, /queueLimit.*0/],
    [{ sse: { retry: -5 } }, RangeError, /retry/],
  ];
  for (const [options, type, message] of bad) {
    assert.throws(() => createStashHandler(options), { name: type.name, message });
  }
  const handler = createStashHandler();
  assert.throws(() => handler.sse.configure({ chunkSize: 0.5 }), RangeError);
  assert.throws(() => handler.sse.waitForSubscribers(-1), RangeError);
});

Deno.test("createStashHandler answers web-standard requests without a network", async () => {
  const handler = createStashHandler({ secrets: true });
  const put = await handler(
    new Request("http://stash.test/kv/app/secrets/x", { method: "PUT", body: "v" }),
  );
  assert.equal(put.status, 201);
  const get = await handler(new Request("http://stash.test/kv/app/secrets/x"));
  assert.equal(await get.text(), "v");
  assert.equal(get.headers.get("content-type"), "text/plain");
  assert.ok(get.headers.get("x-request-id"));
});

Deno.test("a handler answers 500 JSON instead of rejecting when a request body fails", async () => {
  const handler = createStashHandler();
  const body = new ReadableStream<Uint8Array>({
    pull(controller) {
      controller.error(new Error("client went away"));
    },
  });
  const response = await handler(
    new Request("http://stash.test/kv/a", { method: "PUT", body, duplex: "half" } as RequestInit),
  );
  assert.equal(response.status, 500);
  assert.equal(await response.text(), '{"error":"failed to handle request"}\n');
});

Deno.test("handlers can share one store; each hub sees its changes", async () => {
  const store = new MemoryStore();
  const open = createStashHandler({ store });
  const locked = createStashHandler({ store, auth: { tokens: [] } });
  const pending = locked(new Request("http://stash.test/kv/subscribe/k"));
  assert.equal(await pending.then((r) => r.status), 401);
  const sub = open(new Request("http://stash.test/kv/subscribe/k"));
  await open.sse.waitForSubscribers(1);
  await locked(new Request("http://stash.test/kv/k", { method: "PUT", body: "1" }));
  assert.equal(store.size, 0); // 401: nothing written
  await open(new Request("http://stash.test/kv/k", { method: "PUT", body: "1" }));
  const response = await sub;
  const reader = response.body!.getReader();
  assert.match(new TextDecoder().decode((await reader.read()).value), /"key":"k"/);
  await reader.cancel();
  assert.equal(open.sse.subscriberCount, 0);
});

Deno.test("waitForSubscribers rejects when its signal aborts", async () => {
  const handler = createStashHandler();
  const controller = new AbortController();
  const waiting = handler.sse.waitForSubscribers(1, { signal: controller.signal });
  controller.abort(new Error("gave up"));
  await assert.rejects(waiting, /gave up/);
});

Deno.test("MemoryStore normalises keys, reports changes and keeps values immutable", () => {
  let clock = Date.UTC(2026, 0, 4, 10, 30, 0);
  const store = new MemoryStore({ now: () => clock });
  const changes: StoreChange[] = [];
  const unsubscribe = store.onChange((c) => changes.push(c));
  assert.equal(store.set(" app/my key/ ", "v1", "json"), "create");
  clock += 1500;
  assert.equal(store.set("app/my_key", new Uint8Array([1, 2])), "update");
  assert.equal(store.set("b", "x"), "create");
  assert.deepEqual(store.keys(), ["b", "app/my_key"]);
  const entry = store.get("app/my key")!;
  assert.deepEqual(entry, {
    key: "app/my_key",
    value: new Uint8Array([1, 2]),
    format: "text",
    createdAt: "2026-01-04T10:30:00Z",
    updatedAt: "2026-01-04T10:30:01.5Z",
  });
  entry.value[0] = 9;
  assert.equal(store.get("app/my_key")!.value[0], 1);
  assert.equal(store.delete("b"), true);
  assert.equal(store.delete("b"), false);
  assert.deepEqual(changes.map((c) => [c.key, c.action]), [
    ["app/my_key", "create"],
    ["app/my_key", "update"],
    ["b", "create"],
    ["b", "delete"],
  ]);
  assert.equal(changes[1].time, clock);
  unsubscribe();
  store.set("c", "x");
  store.clear();
  assert.equal(store.size, 0);
  assert.equal(changes.length, 4);
  assert.throws(() => store.set(" / ", "x"), TypeError);
  assert.throws(() => store.set("k", "x", "markdown" as "text"), TypeError);
});
