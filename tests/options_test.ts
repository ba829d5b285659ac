import assert from "node:assert/strict";
import { Client } from "../mod.ts";

Deno.test("the constructor refuses a baseUrl that is not an absolute http(s) URL", () => {
  assert.throws(() => new Client("localhost:8080"), {
    name: "TypeError",
    message: /baseUrl must use http or https, received "localhost:"/,
  });
  assert.throws(
    () => new Client("/relative"),
    /baseUrl must be an absolute http\(s\) URL, received "\/relative"/,
  );
  assert.throws(() => new Client("ftp://host"), /baseUrl must use http or https/);
  assert.throws(
    () => new Client(42 as unknown as string),
    /baseUrl must be a string or URL, received number/,
  );
  assert.throws(() => new Client("http://u:p@host"), /must not carry credentials/);
  assert.throws(() => new Client("http://host/?a=1"), /must not have a query/);
});

Deno.test("numeric options are range-checked with the option's name and value", () => {
  const cases: [Record<string, unknown>, RegExp][] = [
    [{ timeout: 0 }, /timeout must be a positive number of milliseconds, received 0/],
    [{ timeout: -5 }, /timeout must be a positive number of milliseconds, received -5/],
    [{ timeout: Infinity }, /timeout must be a positive/],
    [{ timeout: "5" }, /timeout must be a positive number of milliseconds, received 5/],
    [{ retries: -1 }, /retries must be a whole number ≥ 0, received -1/],
    [{ retries: 1.5 }, /retries must be a whole number ≥ 0, received 1.5/],
    [{ retryDelay: NaN }, /retryDelay must be a whole number ≥ 0, received NaN/],
    [{ maxResponseSize: 0 }, /maxResponseSize must be a positive number of bytes, received 0/],
  ];
  for (const [options, message] of cases) {
    assert.throws(() => new Client("http://host", options), { name: "RangeError", message });
  }
});

Deno.test("a bad token is refused without echoing it", () => {
  for (const token of ["", "line\nbreak", 42]) {
    assert.throws(() => new Client("http://host", { token: token as string }), TypeError);
  }
  try {
    new Client("http://host", { token: "sekret\nvalue" });
    assert.fail("expected an error");
  } catch (error) {
    assert.ok(error instanceof TypeError);
    assert.match(
      error.message,
      /token must be a non-empty string without line breaks, received a string of length 12/,
    );
    assert.doesNotMatch(error.message, /sekret/);
  }
});

Deno.test("zkKey shorter than 16 UTF-8 bytes is refused with its length, not its content", () => {
  try {
    new Client("http://host", { zkKey: "short-passphrase".slice(0, 15) });
    assert.fail("expected an error");
  } catch (error) {
    assert.ok(error instanceof RangeError);
    assert.equal(error.message, "zkKey must be at least 16 UTF-8 bytes, received 15");
  }
  // 15 characters but 29 UTF-8 bytes: accepted, as the Go client counts bytes.
  using client = new Client("http://host", { zkKey: "ключ-шифрования" });
  assert.equal(client.encrypted, true);
  assert.throws(
    () => new Client("http://host", { zkKey: 5 as unknown as string }),
    /zkKey must be a string or a Uint8Array, received number/,
  );
});

Deno.test("fetch and headers options are type-checked", () => {
  assert.throws(
    () => new Client("http://host", { fetch: "no" as unknown as typeof fetch }),
    /fetch must be a function, received string/,
  );
  assert.throws(
    () => new Client("http://host", { headers: { "bad header": "x" } }),
    /headers must be valid HTTP headers/,
  );
  assert.throws(
    () => new Client("http://host", "x" as unknown as object),
    /options must be an object, received string/,
  );
});

Deno.test("per-call options are checked too", async () => {
  using client = new Client("http://host", { fetch: () => Promise.resolve(new Response("v")) });
  await assert.rejects(client.get("k", { timeout: -1 }), RangeError);
  await assert.rejects(client.set("k", "v", { format: "JSON" as "json" }), {
    name: "TypeError",
    message: 'format must be one of text, json, yaml, xml, toml, ini, hcl, shell, received "JSON"',
  });
  await assert.rejects(
    client.set("k", 5 as unknown as string),
    /value must be a string or a Uint8Array, received number/,
  );
  await assert.rejects(client.setJSON("k", undefined), /cannot be represented as JSON/);
  await assert.rejects(client.list(5 as unknown as string), /prefix must be a string/);
});

Deno.test("a timeout longer than timers can wait is refused instead of firing at once", async () => {
  assert.throws(() => new Client("http://host", { timeout: 3_000_000_000 }), {
    name: "RangeError",
    message: "timeout must be at most 2147483647 milliseconds, received 3000000000",
  });
  using client = new Client("http://host", { fetch: () => Promise.resolve(new Response("v")) });
  await assert.rejects(client.get("k", { timeout: 2 ** 31 }), RangeError);
  assert.equal(await client.get("k", { timeout: 2 ** 31 - 1 }), "v");
});
