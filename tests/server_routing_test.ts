import assert from "node:assert/strict";
import { startTestServer, type TestServer } from "../testing.ts";

async function call(
  server: TestServer,
  method: string,
  path: string,
  init: RequestInit = {},
): Promise<{ status: number; headers: Headers; text: string }> {
  const response = await fetch(server.origin + path, { redirect: "manual", ...init, method });
  return { status: response.status, headers: response.headers, text: await response.text() };
}

/** Sends a request line as is, for paths a URL parser would rewrite (`..`, `.`). */
async function raw(
  server: TestServer,
  method: string,
  target: string,
): Promise<{ status: number; headers: Map<string, string>; body: string }> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: server.port });
  try {
    const request = `${method} ${target} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n`;
    await conn.write(new TextEncoder().encode(request));
    const text = await new Response(conn.readable).text();
    const [head, ...rest] = text.split("\r\n\r\n");
    const [statusLine, ...lines] = head.split("\r\n");
    const headers = new Map(lines.map((l) => {
      const i = l.indexOf(":");
      return [l.slice(0, i).toLowerCase(), l.slice(i + 1).trim()] as [string, string];
    }));
    return { status: Number(statusLine.split(" ")[1]), headers, body: rest.join("\r\n\r\n") };
  } finally {
    try {
      conn.close();
    } catch {
      // Closed by reading to the end.
    }
  }
}

Deno.test("ping: any GET or HEAD whose lowercased path ends in /ping answers pong", async () => {
  await using server = await startTestServer();
  for (const path of ["/ping", "/PING", "/kv/a/PING", "/kv/ping", "/anything/else/Ping"]) {
    const answer = await call(server, "GET", path);
    assert.equal(answer.status, 200, path);
    assert.equal(answer.text, "pong");
    assert.equal(answer.headers.get("content-type"), "text/plain");
  }
  const head = await call(server, "HEAD", "/ping");
  assert.equal(head.status, 200);
  assert.equal(head.text, "");
  assert.equal((await call(server, "GET", "/pingx")).status, 404);
  assert.equal((await call(server, "POST", "/ping")).status, 404);
  assert.equal((await call(server, "PUT", "/kv/ping", { body: "x" })).status, 201);
});

Deno.test("paths with . or .. segments answer 301 to the cleaned path", async () => {
  await using server = await startTestServer();
  const dotdot = await raw(server, "GET", "/kv/a/../b");
  assert.equal(dotdot.status, 301);
  assert.equal(dotdot.headers.get("location"), "/kv/b");
  assert.equal(dotdot.body, '<a href="/kv/b">Moved Permanently</a>.\n\n');
  assert.equal((await raw(server, "GET", "/kv/./x")).headers.get("location"), "/kv/x");
  assert.equal((await raw(server, "GET", "/kv/a/%2E%2E/b")).headers.get("location"), "/kv/b");
  assert.equal((await raw(server, "GET", "/kv/a/.")).headers.get("location"), "/kv/a");
  const put = await raw(server, "PUT", "/kv/x/../y?format=json");
  assert.equal(put.status, 301);
  assert.equal(put.headers.get("location"), "/kv/y?format=json");
  assert.equal(server.store.size, 0);
});

Deno.test("paths with // (literal or %2F) answer 301, query kept", async () => {
  await using server = await startTestServer();
  const double = await call(server, "GET", "/kv/a//b?x=1");
  assert.equal(double.status, 301);
  assert.equal(double.headers.get("location"), "/kv/a/b?x=1");
  const encoded = await call(server, "PUT", "/kv/a%2F%2Fb", { body: "v" });
  assert.equal(encoded.status, 301);
  assert.equal(encoded.headers.get("location"), "/kv/a/b");
  assert.equal(encoded.text, "");
  const escaped = await call(server, "GET", "/kv//%C3%BC%20x");
  assert.equal(escaped.headers.get("location"), "/kv/%C3%BC%20x");
  assert.equal(server.store.size, 0);
});

Deno.test("a %2F inside a segment is a / of the key", async () => {
  await using server = await startTestServer();
  assert.equal((await call(server, "PUT", "/kv/a%2Fb", { body: "v" })).status, 201);
  assert.deepEqual(server.store.keys(), ["a/b"]);
});

Deno.test("/kv without a slash answers 301 to /kv/", async () => {
  await using server = await startTestServer();
  const answer = await call(server, "GET", "/kv?prefix=a");
  assert.equal(answer.status, 301);
  assert.equal(answer.headers.get("location"), "/kv/?prefix=a");
});

Deno.test("unknown paths answer 404 and unknown methods 405, like Go's ServeMux", async () => {
  await using server = await startTestServer();
  const missing = await call(server, "GET", "/other");
  assert.equal(missing.status, 404);
  assert.equal(missing.text, "404 page not found\n");
  const method = await call(server, "POST", "/kv/a", { body: "x" });
  assert.equal(method.status, 405);
  assert.equal(method.text, "Method Not Allowed\n");
  assert.equal(method.headers.get("allow"), "DELETE, GET, HEAD, PUT");
  assert.equal((await call(server, "OPTIONS", "/kv/a")).status, 405);
});

Deno.test("a malformed percent escape answers 400", async () => {
  await using server = await startTestServer();
  const answer = await raw(server, "GET", "/kv/%zz");
  assert.equal(answer.status, 400);
});

Deno.test("X-Request-ID is echoed, or generated, on every response", async () => {
  await using server = await startTestServer({ auth: { tokens: [] } });
  const sent = await call(server, "GET", "/kv/a", { headers: { "X-Request-ID": "req-42" } });
  assert.equal(sent.status, 401);
  assert.equal(sent.headers.get("x-request-id"), "req-42");
  const ids = new Set<string>();
  for (const path of ["/ping", "/kv/a", "/nope", "/kv/a//b"]) {
    const id = (await call(server, "GET", path)).headers.get("x-request-id");
    assert.ok(id && id.length > 0, path);
    ids.add(id);
  }
  assert.equal(ids.size, 4);
});

Deno.test("basePath mounts everything under it and url includes it", async () => {
  await using server = await startTestServer({ basePath: "/stash/" });
  assert.match(server.url, /^http:\/\/127\.0\.0\.1:\d+\/stash$/);
  const put = await fetch(`${server.url}/kv/app/x`, { method: "PUT", body: "v" });
  await put.body?.cancel();
  assert.equal(put.status, 201);
  assert.equal(await (await fetch(`${server.url}/kv/app/x`)).text(), "v");
  assert.equal((await call(server, "GET", "/kv/app/x")).status, 404);
  assert.equal((await call(server, "GET", "/stashx/kv/app/x")).status, 404);
  assert.equal((await call(server, "GET", "/stash/kv")).headers.get("location"), "/stash/kv/");
  assert.equal((await call(server, "GET", "/stash/ping")).text, "pong");
});

Deno.test("CORS is off by default and answered, preflight included, when enabled", async () => {
  await using plain = await startTestServer();
  const none = await call(plain, "GET", "/kv/", { headers: { Origin: "http://app.test" } });
  assert.equal(none.headers.get("access-control-allow-origin"), null);

  await using server = await startTestServer({ cors: true });
  const preflight = await call(server, "OPTIONS", "/kv/a", {
    headers: {
      Origin: "http://app.test",
      "Access-Control-Request-Method": "PUT",
      "Access-Control-Request-Headers": "x-stash-format, authorization",
    },
  });
  assert.equal(preflight.status, 204);
  assert.equal(preflight.headers.get("access-control-allow-origin"), "*");
  assert.equal(preflight.headers.get("access-control-allow-methods"), "GET, HEAD, PUT, DELETE");
  assert.equal(
    preflight.headers.get("access-control-allow-headers"),
    "x-stash-format, authorization",
  );
  const get = await call(server, "GET", "/kv/", { headers: { Origin: "http://app.test" } });
  assert.equal(get.headers.get("access-control-allow-origin"), "*");
  assert.equal(get.headers.get("access-control-expose-headers"), "X-Request-ID");
});
