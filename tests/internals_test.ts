import assert from "node:assert/strict";
import { Client, DecryptionError } from "../mod.ts";
import { errorForStatus, serverMessage } from "../src/status.ts";
import { follow } from "../src/transport.ts";
import { looksEncrypted, ValueCipher } from "../src/value_cipher.ts";
import { fakeFetch } from "./helpers/fake_fetch.ts";
import { rejection } from "./helpers/assert.ts";

Deno.test("serverMessage() reads Stash's JSON error, else the first line of text, shortened", () => {
  assert.equal(serverMessage('{"error":"key not found"}\n'), "key not found");
  assert.equal(serverMessage("Unauthorized\n"), "Unauthorized");
  assert.equal(serverMessage("{oops, not json\nsecond line"), "{oops, not json");
  assert.equal(serverMessage('{"message":"other shape"}'), '{"message":"other shape"}');
  assert.equal(serverMessage("x".repeat(500)), `${"x".repeat(200)}…`);
  assert.equal(serverMessage(""), "");
});

Deno.test("errorForStatus() names the verb and the key in a ForbiddenError", () => {
  assert.match(
    errorForStatus(403, "", { method: "PUT", key: "a" }).message,
    /may not write key "a"/,
  );
  assert.match(errorForStatus(403, "", { method: "GET" }).message, /may not read this resource/);
  assert.equal(errorForStatus(404, "", { method: "GET" }).constructor.name, "ResponseError");
});

Deno.test("follow() aborts at once for an already-aborted signal and unlinks the others", () => {
  const live = new AbortController();
  const controller = new AbortController();
  const unlink = follow(controller, undefined, AbortSignal.abort("gone"), live.signal);
  assert.equal(controller.signal.reason, "gone");
  unlink();
  const other = new AbortController();
  const unlinkOther = follow(other, live.signal);
  unlinkOther();
  live.abort();
  assert.equal(other.signal.aborted, false);
});

Deno.test("a body without Content-Length arriving in several chunks is read whole", async () => {
  const parts = ["hello ", "chunked ", "world"].map((part) => new TextEncoder().encode(part));
  const fake = fakeFetch(() =>
    new Response(
      new ReadableStream({
        start(controller) {
          for (const part of parts) controller.enqueue(part);
          controller.close();
        },
      }),
    )
  );
  using client = new Client("http://stash.test", { fetch: fake.fetch });
  assert.equal(await client.get("k"), "hello chunked world");
});

Deno.test("ValueCipher refuses work once closed, and close() is idempotent", async () => {
  const cipher = new ValueCipher("a passphrase of enough bytes");
  cipher.close();
  cipher.close();
  const context = { method: "PUT", key: "k" };
  const error = await rejection(cipher.encrypt(new Uint8Array([1]), context), DecryptionError);
  assert.equal(error.reason, "closed");
  // Plain values never need the key, even after close.
  assert.deepEqual(await cipher.decrypt(new Uint8Array([1, 2]), context), new Uint8Array([1, 2]));
});

Deno.test("ValueCipher copies a Uint8Array passphrase and wipes only its own copy", () => {
  const passphrase = new TextEncoder().encode("sixteen bytes ok");
  const cipher = new ValueCipher(passphrase);
  cipher.close();
  assert.equal(new TextDecoder().decode(passphrase), "sixteen bytes ok");
  assert.throws(() => new ValueCipher(new Uint8Array(15)), RangeError);
});

Deno.test("looksEncrypted() needs $ZK$ and at least one more byte", () => {
  const bytes = (text: string) => new TextEncoder().encode(text);
  assert.equal(looksEncrypted(bytes("$ZK$")), false);
  assert.equal(looksEncrypted(bytes("$ZK$x")), true);
  assert.equal(looksEncrypted(bytes("$zk$x")), false);
  assert.equal(looksEncrypted(bytes("")), false);
});

Deno.test("options: null means defaults; zkWasm must hold two modules or byte buffers", () => {
  using plain = new Client("http://stash.test", null as unknown as undefined);
  assert.equal(plain.encrypted, false);
  for (const zkWasm of [{}, { argon2: "x", blake2b: "y" }, { argon2: new Uint8Array(1) }]) {
    assert.throws(
      () => new Client("http://stash.test", { zkWasm } as never),
      /zkWasm must be \{ argon2, blake2b \}/,
    );
  }
  using bytes = new Client("http://stash.test", {
    zkKey: "a passphrase of enough bytes",
    zkWasm: { argon2: new Uint8Array(8), blake2b: new ArrayBuffer(8) },
  });
  assert.equal(bytes.encrypted, true);
});

Deno.test("defineDisposeSymbols() adds the registry symbols only where they are missing", async () => {
  const { defineDisposeSymbols } = await import("../src/dispose.ts");
  const old: Record<string, unknown> = {};
  defineDisposeSymbols(old);
  assert.equal(old.dispose, Symbol.for("Symbol.dispose"));
  assert.equal(old.asyncDispose, Symbol.for("Symbol.asyncDispose"));
  const modern = { dispose: Symbol.dispose, asyncDispose: Symbol.asyncDispose };
  defineDisposeSymbols(modern);
  assert.equal(modern.dispose, Symbol.dispose);
});
