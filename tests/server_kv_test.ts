import assert from "node:assert/strict";
import { startTestServer, type TestServer } from "../testing.ts";

interface Answer {
  status: number;
  headers: Headers;
  bytes: Uint8Array;
  text: string;
}

async function call(
  server: TestServer,
  method: string,
  path: string,
  init: RequestInit = {},
): Promise<Answer> {
  const response = await fetch(server.url + path, { ...init, method });
  const bytes = new Uint8Array(await response.arrayBuffer());
  return {
    status: response.status,
    headers: response.headers,
    bytes,
    text: new TextDecoder().decode(bytes),
  };
}

Deno.test("PUT answers 201 for a new key and 200 for an existing one, with an empty body", async () => {
  await using server = await startTestServer();
  const created = await call(server, "PUT", "/kv/app/config", { body: "v1" });
  assert.equal(created.status, 201);
  assert.equal(created.text, "");
  assert.equal(created.headers.get("content-type"), null);
  const updated = await call(server, "PUT", "/kv/app/config", { body: "v2" });
  assert.equal(updated.status, 200);
  assert.equal(updated.text, "");
  const read = await call(server, "GET", "/kv/app/config");
  assert.equal(read.status, 200);
  assert.equal(read.text, "v2");
});

Deno.test("GET of a missing key answers 404 with a JSON error", async () => {
  await using server = await startTestServer();
  const answer = await call(server, "GET", "/kv/nope");
  assert.equal(answer.status, 404);
  assert.equal(answer.headers.get("content-type"), "application/json; charset=utf-8");
  assert.equal(answer.text, '{"error":"key not found"}\n');
  assert.deepEqual(JSON.parse(answer.text), { error: "key not found" });
});

Deno.test("DELETE answers 204, then 404 once the key is gone", async () => {
  await using server = await startTestServer();
  await call(server, "PUT", "/kv/a", { body: "x" });
  const deleted = await call(server, "DELETE", "/kv/a");
  assert.equal(deleted.status, 204);
  assert.equal(deleted.text, "");
  assert.equal(server.store.has("a"), false);
  const again = await call(server, "DELETE", "/kv/a");
  assert.equal(again.status, 404);
  assert.equal(again.text, '{"error":"key not found"}\n');
});

Deno.test("keys are normalised: spaces become _, surrounding space and slashes go", async () => {
  await using server = await startTestServer();
  assert.equal((await call(server, "PUT", "/kv/app/my%20key", { body: "1" })).status, 201);
  assert.deepEqual(server.store.keys(), ["app/my_key"]);
  assert.equal((await call(server, "GET", "/kv/app/my_key")).text, "1");
  assert.equal((await call(server, "GET", "/kv/app/my%20key")).text, "1");
  assert.equal((await call(server, "PUT", "/kv/%20%09app/x%20", { body: "2" })).status, 201);
  assert.equal((await call(server, "PUT", "/kv/app/y/", { body: "3" })).status, 201);
  assert.deepEqual(server.store.keys().sort(), ["app/my_key", "app/x", "app/y"]);
});

Deno.test("an empty key answers 400 key is required", async () => {
  await using server = await startTestServer();
  for (const path of ["/kv/%20", "/kv/", "/kv/%20/"]) {
    for (const method of ["PUT", "DELETE"]) {
      const answer = await call(server, method, path, method === "PUT" ? { body: "x" } : {});
      assert.equal(answer.status, 400, `${method} ${path}`);
      assert.equal(answer.text, '{"error":"key is required"}\n');
    }
  }
  assert.equal((await call(server, "GET", "/kv/%20")).text, '{"error":"key is required"}\n');
});

Deno.test("keys with ? # % + and non-ASCII characters round-trip percent-encoded", async () => {
  await using server = await startTestServer();
  const keys = ["a?b", "c#d", "e%f", "g+h", "ключ/値/🔑", "x/a b+c"];
  for (const key of keys) {
    const path = "/kv/" + key.split("/").map(encodeURIComponent).join("/");
    assert.equal((await call(server, "PUT", path, { body: key })).status, 201, key);
    assert.equal((await call(server, "GET", path)).text, key);
  }
  assert.deepEqual(
    server.store.keys().sort(),
    ["a?b", "c#d", "e%f", "g+h", "x/a_b+c", "ключ/値/🔑"].sort(),
  );
});

Deno.test("values are stored byte for byte, binary and empty included", async () => {
  await using server = await startTestServer();
  const bytes = new Uint8Array(256).map((_, i) => i);
  await call(server, "PUT", "/kv/bin", {
    body: bytes,
    headers: { "Content-Type": "application/json" },
  });
  const read = await call(server, "GET", "/kv/bin");
  assert.deepEqual(read.bytes, bytes);
  assert.equal(read.headers.get("content-type"), "text/plain");
  assert.equal(read.headers.get("content-length"), "256");
  assert.equal((await call(server, "PUT", "/kv/empty", { body: "" })).status, 201);
  const empty = await call(server, "GET", "/kv/empty");
  assert.equal(empty.status, 200);
  assert.equal(empty.bytes.length, 0);
});

Deno.test("GET answers the Content-Type of the stored format", async () => {
  await using server = await startTestServer();
  const expected: Record<string, string> = {
    text: "text/plain",
    json: "application/json",
    yaml: "application/yaml",
    xml: "application/xml",
    toml: "application/toml",
    ini: "text/plain",
    hcl: "text/plain",
    shell: "text/x-shellscript",
  };
  for (const [format, contentType] of Object.entries(expected)) {
    await call(server, "PUT", `/kv/f/${format}`, {
      body: "x",
      headers: { "X-Stash-Format": format },
    });
    const read = await call(server, "GET", `/kv/f/${format}`);
    assert.equal(read.headers.get("content-type"), contentType, format);
    assert.equal(server.store.get(`f/${format}`)?.format, format);
  }
});

Deno.test("format: header wins over query, query is used without header, unknown is text", async () => {
  await using server = await startTestServer();
  await call(server, "PUT", "/kv/a?format=yaml", {
    body: "x",
    headers: { "X-Stash-Format": "json" },
  });
  assert.equal(server.store.get("a")?.format, "json");
  await call(server, "PUT", "/kv/b?format=yaml", { body: "x" });
  assert.equal(server.store.get("b")?.format, "yaml");
  await call(server, "PUT", "/kv/c", { body: "x", headers: { "X-Stash-Format": "JSON" } });
  assert.equal(server.store.get("c")?.format, "text");
  await call(server, "PUT", "/kv/d?format=markdown", { body: "x" });
  assert.equal(server.store.get("d")?.format, "text");
  await call(server, "PUT", "/kv/e", { body: "x" });
  assert.equal(server.store.get("e")?.format, "text");
});

Deno.test("a body over the limit answers 413 with an empty body", async () => {
  await using server = await startTestServer({ bodyLimit: 16 });
  const over = await call(server, "PUT", "/kv/a", { body: "x".repeat(17) });
  assert.equal(over.status, 413);
  assert.equal(over.text, "");
  assert.equal(server.store.size, 0);
  assert.equal((await call(server, "PUT", "/kv/a", { body: "x".repeat(16) })).status, 201);
});

Deno.test("a streamed body over the limit (no Content-Length) answers 413", async () => {
  await using server = await startTestServer({ bodyLimit: 16 });
  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      for (let i = 0; i < 4; i++) controller.enqueue(new Uint8Array(8).fill(65));
      controller.close();
    },
  });
  const answer = await call(server, "PUT", "/kv/a", { body, duplex: "half" } as RequestInit);
  assert.equal(answer.status, 413);
  assert.equal(answer.text, "");
  assert.equal(server.store.size, 0);
});

Deno.test("the default body limit is 1 MiB", async () => {
  await using server = await startTestServer();
  const mib = 1024 * 1024;
  assert.equal((await call(server, "PUT", "/kv/big", { body: new Uint8Array(mib) })).status, 201);
  assert.equal(
    (await call(server, "PUT", "/kv/big", { body: new Uint8Array(mib + 1) })).status,
    413,
  );
  assert.equal(server.store.get("big")?.value.length, mib);
});

Deno.test("HEAD answers the GET status and headers without a body", async () => {
  await using server = await startTestServer();
  await call(server, "PUT", "/kv/a", { body: '{"x":1}', headers: { "X-Stash-Format": "json" } });
  const found = await call(server, "HEAD", "/kv/a");
  assert.equal(found.status, 200);
  assert.equal(found.headers.get("content-type"), "application/json");
  assert.equal(found.headers.get("content-length"), "7");
  assert.equal(found.bytes.length, 0);
  const missing = await call(server, "HEAD", "/kv/b");
  assert.equal(missing.status, 404);
  assert.equal(missing.headers.get("content-type"), "application/json; charset=utf-8");
  assert.equal(missing.bytes.length, 0);
  const list = await call(server, "HEAD", "/kv/");
  assert.equal(list.status, 200);
  assert.equal(list.bytes.length, 0);
});

Deno.test("history answers 503 with an empty body (no git)", async () => {
  await using server = await startTestServer();
  await call(server, "PUT", "/kv/app/x", { body: "1" });
  const answer = await call(server, "GET", "/kv/history/app/x");
  assert.equal(answer.status, 503);
  assert.equal(answer.text, "");
});

Deno.test("shadowed keys can be written and deleted but not read back", async () => {
  await using server = await startTestServer();
  for (const key of ["history/x", "subscribe/x", "a/ping", "ping", "a/PING"]) {
    assert.equal((await call(server, "PUT", `/kv/${key}`, { body: "v" })).status, 201, key);
  }
  assert.equal((await call(server, "GET", "/kv/history/x")).status, 503);
  assert.equal((await call(server, "GET", "/kv/a/ping")).text, "pong");
  assert.equal((await call(server, "GET", "/kv/a/PING")).text, "pong");
  assert.equal((await call(server, "GET", "/kv/history")).status, 404);
  assert.equal((await call(server, "DELETE", "/kv/subscribe/x")).status, 204);
  assert.equal(server.store.size, 4);
});

Deno.test("secret paths answer 400 secrets not configured without a master key", async () => {
  await using server = await startTestServer();
  for (
    const [method, path] of [["PUT", "/kv/secrets"], ["PUT", "/kv/a/secrets/x"], [
      "GET",
      "/kv/secrets/x",
    ], ["DELETE", "/kv/a/secrets"]]
  ) {
    const answer = await call(server, method, path, method === "PUT" ? { body: "x" } : {});
    assert.equal(answer.status, 400, `${method} ${path}`);
    assert.equal(answer.text, '{"error":"secrets not configured"}\n');
  }
  assert.equal((await call(server, "PUT", "/kv/my-secrets/x", { body: "x" })).status, 201);
  assert.equal((await call(server, "PUT", "/kv/secretsx/y", { body: "x" })).status, 201);
});

Deno.test("secret paths work with a master key", async () => {
  await using server = await startTestServer({ secrets: true });
  assert.equal((await call(server, "PUT", "/kv/app/secrets/db", { body: "pw" })).status, 201);
  assert.equal((await call(server, "GET", "/kv/app/secrets/db")).text, "pw");
  assert.equal((await call(server, "DELETE", "/kv/app/secrets/db")).status, 204);
});

function zkEnvelope(bytes: number): string {
  return "$ZK$" + btoa(String.fromCharCode(...new Uint8Array(bytes).fill(7)));
}

Deno.test("a $ZK$ value on a secret path must be strict base64 of at least 44 bytes", async () => {
  await using server = await startTestServer({ secrets: true });
  const valid = zkEnvelope(44);
  assert.equal((await call(server, "PUT", "/kv/secrets/ok", { body: valid })).status, 201);
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  const lastIndex = valid.length - 2; // the character before the single "="
  const loose = valid.slice(0, lastIndex) + alphabet[alphabet.indexOf(valid[lastIndex]) | 1] +
    "=";
  assert.notEqual(loose, valid);
  const bad = [zkEnvelope(43), "$ZK$not base64!", "$ZK$" + valid.slice(4, -1), loose];
  for (const body of bad) {
    const answer = await call(server, "PUT", "/kv/secrets/bad", { body });
    assert.equal(answer.status, 400, body);
    assert.equal(answer.text, '{"error":"invalid ZK payload"}\n');
  }
  assert.equal(server.store.has("secrets/bad"), false);
  // Exactly "$ZK$" is not a ZK value, and elsewhere any text is stored as is.
  assert.equal((await call(server, "PUT", "/kv/secrets/short", { body: "$ZK$" })).status, 201);
  assert.equal((await call(server, "PUT", "/kv/plain", { body: "$ZK$junk" })).status, 201);
});
