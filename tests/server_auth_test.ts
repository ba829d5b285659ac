import assert from "node:assert/strict";
import {
  type AuthConfig,
  createStashHandler,
  startTestServer,
  type TestServer,
} from "../testing.ts";

const AUTH: AuthConfig = {
  tokens: [
    { token: "admin", admin: true },
    { token: "reader", permissions: [{ prefix: "*", access: "r" }] },
    { token: "writer", permissions: [{ prefix: "*", access: "w" }] },
    {
      token: "app",
      permissions: [{ prefix: "app/*", access: "rw" }, { prefix: "app/locked/*", access: "read" }],
    },
    { token: "exact", permissions: [{ prefix: "app/one", access: "readwrite" }] },
    {
      token: "vault",
      permissions: [{ prefix: "*", access: "read-write" }, {
        prefix: "app/secrets/*",
        access: "r",
      }],
    },
    { token: "*", permissions: [{ prefix: "public/*", access: "read" }] },
  ],
};

async function call(
  server: TestServer,
  method: string,
  path: string,
  token?: string,
  extra: Record<string, string> = {},
): Promise<{ status: number; text: string }> {
  const headers: Record<string, string> = { ...extra };
  if (token !== undefined) headers["Authorization"] = `Bearer ${token}`;
  const response = await fetch(server.url + path, {
    method,
    headers,
    body: method === "PUT" ? "value" : undefined,
  });
  return { status: response.status, text: await response.text() };
}

async function authServer(secrets = false): Promise<TestServer> {
  const server = await startTestServer({ auth: AUTH, secrets });
  for (const key of ["app/x", "app/one", "app/locked/x", "other/y", "public/p"]) {
    server.store.set(key, "stored");
  }
  return server;
}

const UNAUTHORIZED = { status: 401, text: "Unauthorized\n" };
const FORBIDDEN = { status: 403, text: "Forbidden\n" };

Deno.test("auth: a missing or unknown token answers 401 Unauthorized in plain text", async () => {
  await using server = await authServer();
  assert.deepEqual(await call(server, "GET", "/kv/app/x"), UNAUTHORIZED);
  assert.deepEqual(await call(server, "GET", "/kv/app/x", "nope"), UNAUTHORIZED);
  assert.deepEqual(await call(server, "PUT", "/kv/app/x", "nope"), UNAUTHORIZED);
  const response = await fetch(`${server.url}/kv/app/x`);
  assert.equal(response.headers.get("content-type"), "text/plain; charset=utf-8");
  await response.body?.cancel();
});

Deno.test("auth: a read-only token may read but gets 403 Forbidden on writes", async () => {
  await using server = await authServer();
  assert.deepEqual(await call(server, "GET", "/kv/app/x", "reader"), {
    status: 200,
    text: "stored",
  });
  assert.equal((await call(server, "GET", "/kv/missing", "reader")).status, 404);
  assert.deepEqual(await call(server, "PUT", "/kv/app/x", "reader"), FORBIDDEN);
  assert.deepEqual(await call(server, "DELETE", "/kv/app/x", "reader"), FORBIDDEN);
  assert.deepEqual(await call(server, "HEAD", "/kv/app/x", "reader"), { status: 200, text: "" });
});

Deno.test("auth: in v0.19 a w token may write but not read", async () => {
  await using server = await authServer();
  assert.equal((await call(server, "PUT", "/kv/new", "writer")).status, 201);
  assert.equal((await call(server, "DELETE", "/kv/new", "writer")).status, 204);
  assert.deepEqual(await call(server, "GET", "/kv/app/x", "writer"), FORBIDDEN);
  assert.equal((await call(server, "HEAD", "/kv/app/x", "writer")).status, 403);
});

Deno.test("auth: X-Auth-Token wins over Authorization: Bearer", async () => {
  await using server = await authServer();
  const asReader = await call(server, "PUT", "/kv/app/x", "writer", { "X-Auth-Token": "reader" });
  assert.deepEqual(asReader, FORBIDDEN);
  const asWriter = await call(server, "PUT", "/kv/app/x", "reader", { "X-Auth-Token": "writer" });
  assert.equal(asWriter.status, 200);
  const onlyHeader = await call(server, "GET", "/kv/app/x", undefined, {
    "X-Auth-Token": "reader",
  });
  assert.equal(onlyHeader.status, 200);
  const badScheme = await call(server, "GET", "/kv/app/x", undefined, {
    Authorization: "Basic reader",
  });
  assert.deepEqual(badScheme, UNAUTHORIZED);
});

Deno.test("auth: the longest matching pattern wins; app/* is a prefix, others exact", async () => {
  await using server = await authServer();
  assert.equal((await call(server, "PUT", "/kv/app/new", "app")).status, 201);
  assert.deepEqual(await call(server, "PUT", "/kv/app/locked/x", "app"), FORBIDDEN);
  assert.equal((await call(server, "GET", "/kv/app/locked/x", "app")).status, 200);
  assert.deepEqual(await call(server, "GET", "/kv/other/y", "app"), FORBIDDEN);
  assert.deepEqual(await call(server, "GET", "/kv/app", "app"), FORBIDDEN);
  assert.equal((await call(server, "PUT", "/kv/app/one", "exact")).status, 200);
  assert.deepEqual(await call(server, "PUT", "/kv/app/one/two", "exact"), FORBIDDEN);
  assert.deepEqual(await call(server, "PUT", "/kv/app/on", "exact"), FORBIDDEN);
});

Deno.test("auth: the permission check uses the normalised key", async () => {
  await using server = await authServer();
  assert.equal((await call(server, "PUT", "/kv/%20app/my%20key", "app")).status, 201);
  assert.equal(server.store.has("app/my_key"), true);
});

Deno.test("auth: only secret patterns grant secret keys; * never does", async () => {
  await using server = await authServer(true);
  server.store.set("app/secrets/db", "pw");
  assert.deepEqual(await call(server, "GET", "/kv/app/secrets/db", "reader"), FORBIDDEN);
  assert.deepEqual(await call(server, "GET", "/kv/app/secrets/db", "app"), FORBIDDEN);
  assert.deepEqual(await call(server, "GET", "/kv/app/secrets/db", "vault"), {
    status: 200,
    text: "pw",
  });
  assert.deepEqual(await call(server, "PUT", "/kv/app/secrets/db", "vault"), FORBIDDEN);
  assert.deepEqual(await call(server, "GET", "/kv/secrets/x", "vault"), FORBIDDEN);
  assert.equal((await call(server, "PUT", "/kv/app/secrets/db", "admin")).status, 200);
});

Deno.test("auth: admin may do everything", async () => {
  await using server = await authServer(true);
  assert.equal((await call(server, "PUT", "/kv/any/key", "admin")).status, 201);
  assert.equal((await call(server, "GET", "/kv/any/key", "admin")).status, 200);
  assert.equal((await call(server, "PUT", "/kv/secrets/k", "admin")).status, 201);
  assert.equal((await call(server, "DELETE", "/kv/secrets/k", "admin")).status, 204);
});

Deno.test("auth: the * token is the anonymous grant for requests without a token", async () => {
  await using server = await authServer();
  assert.deepEqual(await call(server, "GET", "/kv/public/p"), { status: 200, text: "stored" });
  assert.deepEqual(await call(server, "PUT", "/kv/public/p"), UNAUTHORIZED);
  assert.deepEqual(await call(server, "GET", "/kv/app/x"), UNAUTHORIZED);
  // A token that is sent must be known, even where the anonymous grant would allow.
  assert.deepEqual(await call(server, "GET", "/kv/public/p", "nope"), UNAUTHORIZED);
});

function keysOf(text: string): string[] {
  return JSON.parse(text).map((i: { key: string }) => i.key).sort();
}

Deno.test("auth: list is allowed for any valid token and drops unreadable keys", async () => {
  await using server = await authServer(true);
  server.store.set("app/secrets/db", "pw");
  const all = ["app/locked/x", "app/one", "app/x", "other/y", "public/p"];
  assert.deepEqual(keysOf((await call(server, "GET", "/kv/", "reader")).text), all);
  assert.deepEqual(
    keysOf((await call(server, "GET", "/kv/", "admin")).text),
    [...all, "app/secrets/db"].sort(),
  );
  assert.deepEqual(keysOf((await call(server, "GET", "/kv/", "app")).text), all.slice(0, 3));
  assert.deepEqual(keysOf((await call(server, "GET", "/kv/", "exact")).text), ["app/one"]);
  assert.deepEqual(keysOf((await call(server, "GET", "/kv/")).text), ["public/p"]);
  assert.deepEqual(
    keysOf((await call(server, "GET", "/kv/?prefix=app/", "vault")).text),
    ["app/locked/x", "app/one", "app/secrets/db", "app/x"],
  );
  assert.deepEqual(await call(server, "GET", "/kv/", "nope"), UNAUTHORIZED);
});

Deno.test("auth: a list with nothing readable answers 401 JSON (v0.19 quirk)", async () => {
  await using server = await authServer();
  const unauthorized = { status: 401, text: '{"error":"unauthorized"}\n' };
  assert.deepEqual(await call(server, "GET", "/kv/", "writer"), unauthorized);
  assert.deepEqual(await call(server, "GET", "/kv/?prefix=zzz", "reader"), unauthorized);
  assert.deepEqual(await call(server, "GET", "/kv/?prefix=other", "app"), unauthorized);
  server.store.clear();
  assert.deepEqual(await call(server, "GET", "/kv/", "admin"), unauthorized);
});

Deno.test("auth: without an anonymous grant, a list without a token answers 401", async () => {
  await using server = await startTestServer({
    auth: { tokens: [{ token: "t", permissions: [{ prefix: "*", access: "rw" }] }] },
  });
  server.store.set("a", "1");
  assert.deepEqual(await call(server, "GET", "/kv/"), UNAUTHORIZED);
  assert.equal((await call(server, "GET", "/kv/", "t")).status, 200);
});

Deno.test("auth: the auth middleware runs before the handler's own errors", async () => {
  await using server = await authServer();
  assert.deepEqual(await call(server, "GET", "/kv/missing", "app"), FORBIDDEN);
  assert.deepEqual(await call(server, "GET", "/kv/secrets/x", "app"), FORBIDDEN);
  assert.equal((await call(server, "GET", "/kv/history/app/x", "reader")).status, 503);
  assert.deepEqual(await call(server, "GET", "/kv/history/app/x", "app"), FORBIDDEN);
});

Deno.test("auth: ping needs no token", async () => {
  await using server = await authServer();
  assert.deepEqual(await call(server, "GET", "/ping"), { status: 200, text: "pong" });
});

Deno.test("auth: a malformed auth config is rejected with a TypeError naming the field", () => {
  assert.throws(
    () =>
      createStashHandler({
        auth: { tokens: [{ token: "t", permissions: [{ prefix: "*", access: "x" as "r" }] }] },
      }),
    { name: "TypeError", message: /auth\.tokens\[0\]\.permissions\[0\]\.access/ },
  );
  assert.throws(() => createStashHandler({ auth: { tokens: [{ token: "" }] } }), TypeError);
  assert.throws(() => createStashHandler({ auth: {} as AuthConfig }), TypeError);
});
