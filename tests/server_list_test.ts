import assert from "node:assert/strict";
import { startTestServer, type TestServer } from "../testing.ts";

async function list(server: TestServer, query = ""): Promise<{ status: number; text: string }> {
  const response = await fetch(`${server.url}/kv/${query}`);
  return { status: response.status, text: await response.text() };
}

async function put(server: TestServer, key: string, body: string, format?: string) {
  const headers: Record<string, string> = format ? { "X-Stash-Format": format } : {};
  const response = await fetch(`${server.url}/kv/${key}`, { method: "PUT", body, headers });
  await response.body?.cancel();
  assert.ok(response.ok, `PUT ${key}: ${response.status}`);
}

const T0 = Date.UTC(2026, 0, 4, 10, 30, 0, 123);

Deno.test("list answers [] without a prefix and null for a prefix that matches nothing", async () => {
  await using server = await startTestServer();
  const empty = await list(server);
  assert.equal(empty.status, 200);
  assert.equal(empty.text, "[]\n");
  await put(server, "app/x", "1");
  const none = await list(server, "?prefix=zzz");
  assert.equal(none.status, 200);
  assert.equal(none.text, "null\n");
  assert.equal((await list(server, "?prefix=")).text.startsWith('[{"key":"app/x"'), true);
});

Deno.test("list items carry every field in the server's order with exact values", async () => {
  let clock = T0;
  await using server = await startTestServer({ now: () => clock, secrets: true });
  await put(server, "app/config", '{"a":1}', "json");
  clock += 1000;
  await put(server, "app/config", '{"a":22}', "json");
  const response = await fetch(`${server.url}/kv/?prefix=app/config`);
  assert.equal(response.headers.get("content-type"), "application/json; charset=utf-8");
  assert.equal(
    await response.text(),
    '[{"key":"app/config","size":8,"format":"json","secret":false,"zk_encrypted":false,' +
      '"created_at":"2026-01-04T10:30:00.123Z","updated_at":"2026-01-04T10:30:01.123Z"}]\n',
  );
});

Deno.test("list timestamps are strictly increasing with up to 9 fractional digits", async () => {
  await using server = await startTestServer({ now: () => Date.UTC(2026, 0, 4, 10, 30, 0) });
  await put(server, "a", "1");
  await put(server, "b", "1");
  await put(server, "c", "1");
  const items = JSON.parse((await list(server)).text);
  assert.deepEqual(
    items.map((i: { key: string; updated_at: string }) => [i.key, i.updated_at]),
    [
      ["c", "2026-01-04T10:30:00.000000002Z"],
      ["b", "2026-01-04T10:30:00.000000001Z"],
      ["a", "2026-01-04T10:30:00Z"],
    ],
  );
});

Deno.test("list is sorted by updated_at, newest first, and an update moves a key up", async () => {
  let clock = T0;
  await using server = await startTestServer({ now: () => clock });
  for (const key of ["one", "two", "three"]) {
    await put(server, key, key);
    clock += 1000;
  }
  await put(server, "one", "again");
  const items = JSON.parse((await list(server)).text);
  assert.deepEqual(
    items.map((i: Record<string, string>) => [i.key, i.created_at, i.updated_at]),
    [
      ["one", "2026-01-04T10:30:00.123Z", "2026-01-04T10:30:03.123Z"],
      ["three", "2026-01-04T10:30:02.123Z", "2026-01-04T10:30:02.123Z"],
      ["two", "2026-01-04T10:30:01.123Z", "2026-01-04T10:30:01.123Z"],
    ],
  );
});

Deno.test("list prefix is a plain string prefix: app matches apple", async () => {
  await using server = await startTestServer();
  for (const key of ["app/a", "apple", "ap", "b/app"]) await put(server, key, "x");
  const keys = (query: string) =>
    list(server, query).then((r) => JSON.parse(r.text).map((i: { key: string }) => i.key).sort());
  assert.deepEqual(await keys("?prefix=app"), ["app/a", "apple"]);
  assert.deepEqual(await keys("?prefix=app/"), ["app/a"]);
  assert.deepEqual(await keys("?prefix=ap"), ["ap", "app/a", "apple"]);
});

Deno.test("list prefix is a query value: %2B is +, a bare + is a space", async () => {
  await using server = await startTestServer();
  await put(server, "a+b", "x");
  assert.equal(JSON.parse((await list(server, "?prefix=a%2B")).text)[0].key, "a+b");
  assert.equal((await list(server, "?prefix=a+")).text, "null\n");
});

Deno.test("list filter selects secrets or plain keys, and rejects unknown values", async () => {
  await using server = await startTestServer({ secrets: true });
  await put(server, "app/secrets/db", "pw");
  await put(server, "app/name", "n");
  await put(server, "secrets", "s");
  const keys = (filter: string) =>
    list(server, `?filter=${filter}`).then((r) =>
      JSON.parse(r.text).map((i: { key: string }) => i.key).sort()
    );
  const all = ["app/name", "app/secrets/db", "secrets"];
  const secrets = ["app/secrets/db", "secrets"];
  assert.deepEqual(await keys("all"), all);
  assert.deepEqual(await keys(""), all);
  for (const f of ["secrets", "secretsonly", "true"]) assert.deepEqual(await keys(f), secrets, f);
  for (const f of ["keys", "keysonly", "false"]) assert.deepEqual(await keys(f), ["app/name"], f);
  const bad = await list(server, "?filter=Secrets");
  assert.equal(bad.status, 400);
  assert.equal(JSON.parse(bad.text).error.startsWith("invalid filter"), true);
});

Deno.test("list flags secret keys and ZK values, and sizes a ZK value by its text", async () => {
  await using server = await startTestServer({ secrets: true });
  const envelope = "$ZK$" + btoa("k".repeat(44));
  await put(server, "app/secrets/token", envelope);
  await put(server, "app/zk", "$ZK$x");
  await put(server, "app/short", "$ZK$");
  await put(server, "a/my-secrets/x", "plain");
  const items = Object.fromEntries(
    JSON.parse((await list(server)).text).map((i: Record<string, unknown>) => [i.key, i]),
  );
  assert.equal(items["app/secrets/token"].secret, true);
  assert.equal(items["app/secrets/token"].zk_encrypted, true);
  assert.equal(items["app/secrets/token"].size, envelope.length);
  assert.equal(items["app/zk"].zk_encrypted, true);
  assert.equal(items["app/zk"].secret, false);
  assert.equal(items["app/short"].zk_encrypted, false);
  assert.equal(items["a/my-secrets/x"].secret, false);
});

Deno.test("list escapes HTML characters in keys as Go does", async () => {
  await using server = await startTestServer();
  await put(server, encodeURIComponent("a<b>&c"), "x");
  const text = (await list(server)).text;
  assert.ok(text.startsWith('[{"key":"a\\u003cb\\u003e\\u0026c",'), text);
  assert.equal(JSON.parse(text)[0].key, "a<b>&c");
});
