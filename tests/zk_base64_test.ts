import assert from "node:assert/strict";
import {
  decodeBase64,
  decodeBase64Fallback,
  encodeBase64,
  encodeBase64Fallback,
  hasNativeBase64,
} from "../src/zk/base64.ts";

const decoders = [
  ["decodeBase64", decodeBase64],
  ["decodeBase64Fallback", decodeBase64Fallback],
] as const;

function pseudoRandomBytes(length: number, seed: number): Uint8Array {
  const out = new Uint8Array(length);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

Deno.test("base64: this runtime has the native fast path", () => {
  assert.equal(hasNativeBase64, true);
});

Deno.test("encodeBase64() matches the RFC 4648 test vectors, native and fallback", () => {
  const vectors: [string, string][] = [
    ["", ""],
    ["f", "Zg=="],
    ["fo", "Zm8="],
    ["foo", "Zm9v"],
    ["foob", "Zm9vYg=="],
    ["fooba", "Zm9vYmE="],
    ["foobar", "Zm9vYmFy"],
  ];
  for (const [plain, encoded] of vectors) {
    const bytes = new TextEncoder().encode(plain);
    assert.equal(encodeBase64(bytes), encoded);
    assert.equal(encodeBase64Fallback(bytes), encoded);
    for (const [name, decode] of decoders) {
      assert.deepEqual(decode(encoded), bytes, `${name}(${JSON.stringify(encoded)})`);
    }
  }
});

Deno.test("base64 fallback gives the same bytes as the native path for every length 0..300", () => {
  for (let length = 0; length <= 300; length++) {
    const bytes = pseudoRandomBytes(length, length + 1);
    const native = encodeBase64(bytes);
    assert.equal(encodeBase64Fallback(bytes), native, `encode, length ${length}`);
    assert.deepEqual(decodeBase64Fallback(native), bytes, `fallback decode, length ${length}`);
    assert.deepEqual(decodeBase64(native), bytes, `native decode, length ${length}`);
  }
});

Deno.test("base64 fallback and native agree on 1 MiB plus a byte, across chunk borders", () => {
  const bytes = pseudoRandomBytes(1024 * 1024 + 1, 7);
  const native = encodeBase64(bytes);
  assert.equal(encodeBase64Fallback(bytes), native);
  assert.deepEqual(decodeBase64Fallback(native), bytes);
});

Deno.test("decodeBase64() rejects everything but strict padded base64", () => {
  const invalid: [string, string][] = [
    ["Zg", "missing padding"],
    ["Zg=", "short padding"],
    ["Zm8", "missing single padding"],
    ["Zg===", "extra padding"],
    ["Z===", "three padding characters"],
    ["====", "padding only"],
    ["Zg==Zm9v", "padding in the middle"],
    ["Zm=v", "padding inside a quad"],
    ["Zm9v ", "trailing space"],
    [" Zm9v", "leading space"],
    ["Zm 9v", "inner space"],
    ["Zm9v\n", "trailing newline"],
    ["Zm9v\r\nYmFy", "CRLF inside"],
    ["Zm\t9v", "tab"],
    ["Zm9v\f", "form feed"],
    ["Zm9v    ", "four trailing spaces (length still a multiple of 4)"],
    ["    Zm9v", "four leading spaces"],
    ["Zm 9v   ", "spaces inside and after"],
    ["Zg==\n\n\n\n", "newlines after the padding"],
    ["Zm9v\r\n\r\nYmFy\r\n\r\n", "CRLF lines"],
    ["Zm9vYg=\t", "tab in place of padding"],
    ["-_-_", "url-safe alphabet"],
    ["Pz8_", "url-safe underscore"],
    ["Pz8-", "url-safe dash"],
    ["Zm9v!", "stray punctuation"],
    ["Zm9v.", "stray dot"],
    ["Zm9\u00e9", "non-ASCII letter"],
    ["Zm9v\u0000", "NUL"],
    ["Zm9\uff56", "full-width letter"],
    ["A", "one character"],
    ["AB", "two characters"],
    ["ABC", "three characters"],
  ];
  for (const [text, why] of invalid) {
    for (const [name, decode] of decoders) {
      assert.equal(
        decode(text),
        undefined,
        `${name} should reject ${why}: ${JSON.stringify(text)}`,
      );
    }
  }
});

Deno.test("decodeBase64() accepts non-zero unused bits in the last character, as Go and Python do", () => {
  for (const [name, decode] of decoders) {
    assert.deepEqual(decode("Zh=="), new Uint8Array([0x66]), name);
    assert.deepEqual(decode("Zm9="), new Uint8Array([0x66, 0x6f]), name);
  }
});

Deno.test("decodeBase64() accepts the empty string and every canonical final quad", () => {
  for (const [name, decode] of decoders) {
    assert.deepEqual(decode(""), new Uint8Array(0), name);
    assert.deepEqual(decode("AA=="), new Uint8Array([0]), name);
    assert.deepEqual(decode("/w=="), new Uint8Array([255]), name);
    assert.deepEqual(decode("//8="), new Uint8Array([255, 255]), name);
    assert.deepEqual(decode("////"), new Uint8Array([255, 255, 255]), name);
    assert.deepEqual(decode("+/+/"), new Uint8Array([0xfb, 0xff, 0xbf]), name);
  }
});

Deno.test("base64 module without native support takes the fallback path with the same results", async () => {
  // deno-lint-ignore no-explicit-any
  const ctor = Uint8Array as any;
  const from = ctor.fromBase64;
  const to = ctor.prototype.toBase64;
  delete ctor.fromBase64;
  delete ctor.prototype.toBase64;
  let forced: typeof import("../src/zk/base64.ts");
  try {
    forced = await import("../src/zk/base64.ts?without-native");
  } finally {
    ctor.fromBase64 = from;
    ctor.prototype.toBase64 = to;
  }
  assert.equal(forced.hasNativeBase64, false);
  for (let length = 0; length <= 64; length++) {
    const bytes = pseudoRandomBytes(length, 99 + length);
    const text = encodeBase64(bytes);
    assert.equal(forced.encodeBase64(bytes), text);
    assert.deepEqual(forced.decodeBase64(text), bytes);
  }
  for (const bad of ["Zg", "Zm9v ", "Zm9v    ", "-_-_", "Zm9v\n"]) {
    assert.equal(forced.decodeBase64(bad), undefined, JSON.stringify(bad));
  }
});
