import assert from "node:assert/strict";
import {
  formatEnvelope,
  isEnvelope,
  MIN_PAYLOAD_LENGTH,
  parseEnvelope,
} from "../src/zk/envelope.ts";

const ascii = (text: string) => new TextEncoder().encode(text);

Deno.test("isEnvelope() needs $ZK$ and at least one more byte", () => {
  assert.equal(isEnvelope(ascii("$ZK$")), false);
  assert.equal(isEnvelope(ascii("$ZK$A")), true);
  assert.equal(isEnvelope(ascii("$ZK")), false);
  assert.equal(isEnvelope(ascii("")), false);
  assert.equal(isEnvelope(ascii("$zk$AAAA")), false);
  assert.equal(isEnvelope(ascii(" $ZK$AAAA")), false);
  assert.equal(isEnvelope(ascii("hello")), false);
});

Deno.test("formatEnvelope() and parseEnvelope() round-trip salt, nonce and sealed bytes", () => {
  const salt = Uint8Array.from({ length: 16 }, (_, i) => i);
  const nonce = Uint8Array.from({ length: 12 }, (_, i) => 100 + i);
  const sealed = Uint8Array.from({ length: 21 }, (_, i) => 200 + i);
  const stored = formatEnvelope(salt, nonce, sealed);
  assert.equal(new TextDecoder().decode(stored.subarray(0, 4)), "$ZK$");
  const parsed = parseEnvelope(stored);
  assert.ok(parsed.ok);
  assert.deepEqual(parsed.parts.salt, salt);
  assert.deepEqual(parsed.parts.nonce, nonce);
  assert.deepEqual(parsed.parts.sealed, sealed);
});

Deno.test("parseEnvelope() reports a payload under 44 bytes as too-short", () => {
  const encode = (n: number) => ascii("$ZK$" + btoa("x".repeat(n)));
  assert.deepEqual(parseEnvelope(encode(43)), {
    ok: false,
    defect: "too-short",
    decodedLength: 43,
  });
  assert.deepEqual(parseEnvelope(encode(1)), { ok: false, defect: "too-short", decodedLength: 1 });
  assert.equal(parseEnvelope(encode(MIN_PAYLOAD_LENGTH)).ok, true);
});

Deno.test("parseEnvelope() reports malformed base64 before length", () => {
  const good = "$ZK$" + btoa("y".repeat(50));
  const cases = [
    good.replace(/=+$/, ""), // padding removed
    good.slice(0, 10) + " " + good.slice(10),
    good + "\n",
    good.replaceAll("+", "-").replaceAll("/", "_") + "-_==",
    "$ZK$AB",
    "$ZK$=",
  ];
  for (const text of cases) {
    assert.deepEqual(parseEnvelope(ascii(text)), { ok: false, defect: "base64" }, text);
  }
  const withBom = new Uint8Array([...ascii("$ZK$"), 0xef, 0xbb, 0xbf, ...ascii(good.slice(4))]);
  assert.deepEqual(parseEnvelope(withBom), { ok: false, defect: "base64" });
  const highByte = new Uint8Array([...ascii(good)]);
  highByte[8] = 0xc1;
  assert.deepEqual(parseEnvelope(highByte), { ok: false, defect: "base64" });
});
