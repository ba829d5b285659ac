import assert from "node:assert/strict";
import {
  Client,
  ClientClosedError,
  DecodeError,
  ForbiddenError,
  FORMATS,
  NotFoundError,
  ResponseError,
  UnauthorizedError,
  UnreadableKeyError,
} from "../mod.ts";
import { startTestServer } from "../testing.ts";
import { rejection } from "./helpers/assert.ts";

Deno.test("set() then get() round-trips text, and set() reports created vs replaced", async () => {
  await using server = await startTestServer();
  using client = new Client(server.url);
  assert.deepEqual(await client.set("app/greeting", "hello 🌍"), { created: true });
  assert.equal(await client.get("app/greeting"), "hello 🌍");
  assert.deepEqual(await client.set("app/greeting", "bye"), { created: false });
  assert.equal(await client.get("app/greeting"), "bye");
});

Deno.test("getBytes() returns binary values byte for byte, including empty values", async () => {
  await using server = await startTestServer();
  using client = new Client(server.url);
  const bytes = Uint8Array.from({ length: 256 }, (_, i) => i);
  await client.set("bin", bytes);
  assert.deepEqual(await client.getBytes("bin"), bytes);
  await client.set("empty", "");
  assert.equal(await client.get("empty"), "");
  assert.deepEqual(await client.getBytes("empty"), new Uint8Array(0));
});

Deno.test("get() of a value that is not UTF-8 is a DecodeError pointing to getBytes()", async () => {
  await using server = await startTestServer();
  using client = new Client(server.url);
  await client.set("bin", new Uint8Array([0xff, 0xfe, 0x00]));
  const error = await rejection(client.get("bin"), DecodeError);
  assert.match(error.message, /not valid UTF-8; read it with getBytes\(\)/);
  assert.equal(error.key, "bin");
});

Deno.test("get() of a missing key is a NotFoundError with the key; getOrDefault() falls back only then", async () => {
  await using server = await startTestServer();
  using client = new Client(server.url);
  const error = await rejection(client.get("app/missing"), NotFoundError);
  assert.equal(error.key, "app/missing");
  assert.equal(error.status, 404);
  assert.equal(error.method, "GET");
  assert.equal(await client.getOrDefault("app/missing", "fallback"), "fallback");
  assert.equal(await client.getOrDefault("app/missing", null), null);
  await client.set("app/present", "v");
  assert.equal(await client.getOrDefault("app/present", "fallback"), "v");
  using denied = new Client(server.url, {
    fetch: () => Promise.resolve(new Response("Forbidden", { status: 403 })),
  });
  await rejection(denied.getOrDefault("app/missing", "fallback"), ForbiddenError);
});

Deno.test("setJSON() stores JSON with format json; getJSON() parses it, DecodeError when not JSON", async () => {
  await using server = await startTestServer();
  using client = new Client(server.url);
  await client.setJSON("app/config", { debug: true, level: 3, tags: ["a"] });
  assert.deepEqual(await client.getJSON("app/config"), { debug: true, level: 3, tags: ["a"] });
  assert.equal((await client.info("app/config")).format, "json");
  await client.set("app/text", "not json");
  const error = await rejection(client.getJSON("app/text"), DecodeError);
  assert.equal(error.message, 'value of key "app/text" is not valid JSON');
  assert.equal(error.cause, undefined);
});

Deno.test("every format is stored as given and served with its content type", async () => {
  await using server = await startTestServer();
  using client = new Client(server.url);
  const types: Record<string, string> = {
    text: "text/plain",
    json: "application/json",
    yaml: "application/yaml",
    xml: "application/xml",
    toml: "application/toml",
    ini: "text/plain",
    hcl: "text/plain",
    shell: "text/x-shellscript",
  };
  for (const format of FORMATS) {
    await client.set(`f/${format}`, "x", { format });
    assert.equal((await client.info(`f/${format}`)).format, format);
    const response = await fetch(`${server.url}/kv/f/${format}`);
    await response.body?.cancel();
    assert.ok(response.headers.get("content-type")?.startsWith(types[format]), format);
  }
});

Deno.test("delete() removes a key; deleting a missing key is a NotFoundError", async () => {
  await using server = await startTestServer();
  using client = new Client(server.url);
  await client.set("k", "v");
  await client.delete("k");
  assert.equal(await client.has("k"), false);
  const error = await rejection(client.delete("k"), NotFoundError);
  assert.equal(error.method, "DELETE");
});

Deno.test("has() answers with HEAD and downloads no value", async () => {
  const methods: string[] = [];
  await using server = await startTestServer({
    wrap: (handler) => (request) => {
      methods.push(request.method);
      return handler(request);
    },
  });
  using client = new Client(server.url);
  await client.set("k", "x".repeat(100_000));
  assert.equal(await client.has("k"), true);
  assert.equal(await client.has("nope"), false);
  assert.deepEqual(methods, ["PUT", "HEAD", "HEAD"]);
});

Deno.test("list() returns typed metadata, newest first; null and empty results are []", async () => {
  await using server = await startTestServer({ secrets: true });
  using client = new Client(server.url);
  assert.deepEqual(await client.list(), []);
  assert.deepEqual(await client.list("nothing"), []);
  await client.set("app/a", "1");
  await client.set("apple", "22", { format: "yaml" });
  await client.set("app/secrets/db", "333");
  const all = await client.list();
  assert.deepEqual(all.map((item) => item.key), ["app/secrets/db", "apple", "app/a"]);
  const apple = all[1];
  assert.equal(apple.size, 2);
  assert.equal(apple.format, "yaml");
  assert.equal(apple.secret, false);
  assert.equal(apple.zkEncrypted, false);
  assert.ok(apple.createdAt instanceof Date && apple.updatedAt >= apple.createdAt);
  assert.equal(all[0].secret, true);
  // A plain string prefix: "app" matches "apple" too.
  assert.deepEqual((await client.list("app")).map((item) => item.key).sort(), [
    "app/a",
    "app/secrets/db",
    "apple",
  ]);
  assert.deepEqual((await client.list("app/")).map((item) => item.key).sort(), [
    "app/a",
    "app/secrets/db",
  ]);
});

Deno.test("info() returns one key's metadata and NotFoundError for a missing key", async () => {
  await using server = await startTestServer();
  using client = new Client(server.url);
  await client.set("app/x", "12345", { format: "toml" });
  await client.set("app/xy", "1");
  const info = await client.info("app/x");
  assert.equal(info.key, "app/x");
  assert.equal(info.size, 5);
  assert.equal(info.format, "toml");
  await rejection(client.info("app/none"), NotFoundError);
  // Normalised like writes.
  assert.equal((await client.info(" app/x ")).key, "app/x");
});

Deno.test("keys with spaces, unicode and ? # % + round-trip as the protocol says", async () => {
  await using server = await startTestServer();
  using client = new Client(server.url);
  const cases: [string, string][] = [
    ["app/my key", "app/my_key"],
    ["  padded/key  ", "padded/key"],
    ["q?x#y%z+w", "q?x#y%z+w"],
    ["ключ/значение/🔑", "ключ/значение/🔑"],
    ["a&b=c;d", "a&b=c;d"],
  ];
  for (const [key, stored] of cases) {
    await client.set(key, `value of ${stored}`);
    assert.equal(await client.get(key), `value of ${stored}`, key);
    assert.equal(await client.get(stored), `value of ${stored}`, stored);
    assert.equal((await client.info(key)).key, stored);
    assert.ok(server.store.has(stored), stored);
  }
});

Deno.test("keys that would address another key are refused before any request", async () => {
  let requests = 0;
  await using server = await startTestServer({
    wrap: (handler) => (request) => {
      requests++;
      return handler(request);
    },
  });
  using client = new Client(server.url);
  for (const key of ["", "a//b", "../etc", "a/./b", "a/..", "/"]) {
    await assert.rejects(client.get(key), TypeError, key);
    await assert.rejects(client.set(key, "v"), TypeError, key);
    await assert.rejects(client.delete(key), TypeError, key);
  }
  assert.equal(requests, 0);
});

Deno.test("reads of keys another route answers for are refused; writes still work", async () => {
  await using server = await startTestServer();
  using client = new Client(server.url);
  for (const key of ["ping", "app/ping", "app/PING", "history/app", "subscribe/app"]) {
    await client.set(key, "v");
    assert.ok(server.store.has(key), key);
    await rejection(client.get(key), UnreadableKeyError);
    await rejection(client.has(key), UnreadableKeyError);
    assert.equal((await client.info(key)).key, key);
    await client.delete(key);
  }
});

Deno.test("a format the server does not know is refused instead of silently stored as text", async () => {
  await using server = await startTestServer();
  using client = new Client(server.url);
  await assert.rejects(client.set("k", "v", { format: "markdown" as "text" }), TypeError);
  assert.equal(server.store.has("k"), false);
});

Deno.test("a base path is honoured", async () => {
  await using server = await startTestServer({ basePath: "/stash" });
  using client = new Client(server.url);
  assert.ok(server.url.endsWith("/stash"));
  await client.set("k", "v");
  assert.equal(await client.get("k"), "v");
  await client.ping();
});

Deno.test("ping() resolves against the server", async () => {
  await using server = await startTestServer();
  using client = new Client(server.url);
  await client.ping();
});

Deno.test("a body over the server's limit is a ResponseError 413, not retried", async () => {
  await using server = await startTestServer({ bodyLimit: 1024 });
  using client = new Client(server.url);
  const error = await rejection(client.set("big", "x".repeat(2048)), ResponseError);
  assert.equal(error.status, 413);
  assert.equal(error.method, "PUT");
  assert.equal(error.key, "big");
});

Deno.test("secret paths without a server master key are a ResponseError 400 with the server's message", async () => {
  await using server = await startTestServer({ secrets: false });
  using client = new Client(server.url);
  const error = await rejection(client.set("app/secrets/db", "v"), ResponseError);
  assert.equal(error.status, 400);
  assert.equal(error.serverMessage, "secrets not configured");
});

const AUTH = {
  tokens: [
    { token: "admin-token", admin: true, permissions: [{ prefix: "*", access: "rw" as const }] },
    { token: "reader", permissions: [{ prefix: "app/*", access: "r" as const }] },
    { token: "writer", permissions: [{ prefix: "app/*", access: "w" as const }] },
  ],
};

Deno.test("auth: a token with rights works; none or an unknown one is Unauthorized", async () => {
  await using server = await startTestServer({ auth: AUTH });
  using admin = new Client(server.url, { token: "admin-token" });
  await admin.set("app/x", "v");
  assert.equal(await admin.get("app/x"), "v");
  using anonymous = new Client(server.url);
  await rejection(anonymous.get("app/x"), UnauthorizedError);
  using unknown = new Client(server.url, { token: "who-knows" });
  const error = await rejection(unknown.set("app/x", "v"), UnauthorizedError);
  assert.equal(error.status, 401);
});

Deno.test("auth: a token without the permission is Forbidden, read and write separately", async () => {
  await using server = await startTestServer({ auth: AUTH });
  using admin = new Client(server.url, { token: "admin-token" });
  await admin.set("app/x", "v");
  await admin.set("other", "v");
  using reader = new Client(server.url, { token: "reader" });
  assert.equal(await reader.get("app/x"), "v");
  await rejection(reader.set("app/x", "w"), ForbiddenError);
  await rejection(reader.get("other"), ForbiddenError);
  using writer = new Client(server.url, { token: "writer" });
  await writer.set("app/y", "w");
  // v0.19: write does not imply read.
  const error = await rejection(writer.get("app/y"), ForbiddenError);
  assert.match(error.message, /may not read key "app\/y"/);
});

Deno.test("auth: list() filters unreadable keys, and the 401-for-empty quirk reads as []", async () => {
  await using server = await startTestServer({ auth: AUTH });
  using admin = new Client(server.url, { token: "admin-token" });
  using reader = new Client(server.url, { token: "reader" });
  // An empty database answers 401 to a valid token: the client still reports [].
  assert.deepEqual(await reader.list(), []);
  await admin.set("other", "v");
  assert.deepEqual(await reader.list(), []);
  await admin.set("app/x", "v");
  assert.deepEqual((await reader.list()).map((item) => item.key), ["app/x"]);
  await rejection(reader.info("other"), NotFoundError);
  using stranger = new Client(server.url, { token: "who-knows" });
  await rejection(stranger.list(), UnauthorizedError);
  await rejection(stranger.info("app/x"), UnauthorizedError);
});

Deno.test("the client is disposable with using and await using; close() is idempotent", async () => {
  await using server = await startTestServer();
  let outer: Client;
  {
    using client = new Client(server.url);
    outer = client;
    await client.set("k", "v");
  }
  assert.equal(outer.closed, true);
  await rejection(outer.get("k"), ClientClosedError);
  let other: Client;
  {
    await using client = new Client(server.url);
    other = client;
  }
  assert.equal(other.closed, true);
  other.close();
  await rejection(other.ping(), ClientClosedError);
});
