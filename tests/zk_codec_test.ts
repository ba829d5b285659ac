import assert from "node:assert/strict";
import { DecryptionError } from "../src/errors.ts";
import { compileHashWasmModules } from "../scripts/extract_wasm.ts";
import {
  configureArgon2,
  DEFAULT_CACHE_SIZE,
  isEnvelope,
  secretsWiped,
  ZkCodec,
} from "../src/zk/codec.ts";
import { decodeBase64, encodeBase64 } from "../src/zk/base64.ts";
import { kdfStats, resetKdfStats } from "../src/zk/kdf.ts";

// The reused engine is ~2x faster than hash-wasm's argon2id: keeps this file quick.
configureArgon2(await compileHashWasmModules());

const PASSPHRASE = "codec-test-passphrase-1";
const OTHER_PASSPHRASE = "another-passphrase-16";
const utf8 = (text: string) => new TextEncoder().encode(text);
const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes);

/** Derivations that `fn` caused. */
async function countDerivations(fn: () => Promise<unknown>): Promise<number> {
  const before = kdfStats().derivations;
  await fn();
  return kdfStats().derivations - before;
}

/** Rewrites the decoded payload of an envelope. */
function tamper(stored: Uint8Array, edit: (payload: Uint8Array) => void): Uint8Array {
  const payload = decodeBase64(text(stored).slice(4));
  assert.ok(payload);
  edit(payload);
  return utf8("$ZK$" + encodeBase64(payload));
}

async function rejectsWith(
  promise: Promise<unknown>,
  reason: DecryptionError["reason"],
): Promise<DecryptionError> {
  let caught: unknown;
  await assert.rejects(promise, (error) => {
    caught = error;
    return error instanceof DecryptionError && error.reason === reason;
  });
  return caught as DecryptionError;
}

// One writer shared by the tests below: its key is derived once.
const writer = new ZkCodec(PASSPHRASE);
const hello = await writer.encrypt(utf8("hello world"));

Deno.test("ZkCodec round-trips empty, ASCII, unicode, binary, offset-view and 1 MiB values", async () => {
  const values = [
    new Uint8Array(0),
    utf8("plain ASCII value"),
    utf8('{"name": "ünïcødé ✓", "emoji": "🔐"}'),
    Uint8Array.from({ length: 256 }, (_, i) => i),
    crypto.getRandomValues(new Uint8Array(1000)).subarray(10, 500), // a view at an offset
    (() => {
      const big = new Uint8Array(1024 * 1024);
      for (let i = 0; i < big.length; i += 65536) {
        crypto.getRandomValues(big.subarray(i, i + 65536));
      }
      return big;
    })(),
  ];
  const derivations = await countDerivations(async () => {
    for (const value of values) {
      const stored = await writer.encrypt(value);
      assert.ok(isEnvelope(stored));
      assert.match(text(stored.subarray(0, 64)), /^\$ZK\$[A-Za-z0-9+/]+/);
      assert.deepEqual(await writer.decrypt(stored), value);
    }
  });
  assert.equal(derivations, 0, "the write key is derived once per codec");
});

Deno.test("ZkCodec.encrypt() keeps its salt and draws a fresh nonce for every value", async () => {
  const a = decodeBase64(text(await writer.encrypt(utf8("same"))).slice(4));
  const b = decodeBase64(text(await writer.encrypt(utf8("same"))).slice(4));
  assert.ok(a && b);
  assert.deepEqual(a.subarray(0, 16), b.subarray(0, 16), "one salt per codec");
  assert.notDeepEqual(a.subarray(16, 28), b.subarray(16, 28), "a nonce per value");
  assert.notDeepEqual(a.subarray(28), b.subarray(28));
});

Deno.test("ZkCodec.decrypt() opens values of another codec with the same passphrase", async () => {
  using reader = new ZkCodec(PASSPHRASE);
  assert.equal(text(await reader.decrypt(hello)), "hello world");
});

Deno.test("ZkCodec.decrypt() returns values that are not envelopes unchanged", async () => {
  using codec = new ZkCodec(PASSPHRASE);
  const plain = [
    "",
    "hello",
    "$ZK$",
    "$ZK",
    "$zk$AAAA",
    " $ZK$AAAA",
    '{"a":1}',
    "ZK$AAAA",
  ].map(utf8);
  plain.push(new Uint8Array([0xff, 0x00, 0x24]));
  const derivations = await countDerivations(async () => {
    for (const value of plain) assert.equal(await codec.decrypt(value), value);
  });
  assert.equal(derivations, 0);
});

Deno.test("ZkCodec.decrypt() rejects a wrong passphrase as authentication", async () => {
  using other = new ZkCodec(OTHER_PASSPHRASE);
  const error = await rejectsWith(
    other.decrypt(hello, { key: "app/db", method: "GET" }),
    "authentication",
  );
  assert.equal(error.key, "app/db");
  assert.equal(error.method, "GET");
  assert.match(error.message, /wrong passphrase/);
});

Deno.test("ZkCodec.decrypt() rejects tampered ciphertext, tag, nonce and salt", async () => {
  using reader = new ZkCodec(PASSPHRASE);
  const last = (p: Uint8Array) => p.length - 1;
  const edits: [string, (p: Uint8Array) => void][] = [
    ["ciphertext", (p) => p[28] ^= 0x01],
    ["tag", (p) => p[last(p)] ^= 0x80],
    ["nonce", (p) => p[16] ^= 0x01],
    ["salt", (p) => p[0] ^= 0x01],
    ["truncated tag", (p) => p.fill(0, last(p))],
  ];
  for (const [what, edit] of edits) {
    const error = await rejectsWith(reader.decrypt(tamper(hello, edit)), "authentication");
    assert.match(error.message, /altered/, what);
  }
  const cut = decodeBase64(text(hello).slice(4));
  assert.ok(cut);
  const shortened = utf8("$ZK$" + encodeBase64(cut.subarray(0, cut.length - 1)));
  await rejectsWith(reader.decrypt(shortened), "authentication");
});

Deno.test("ZkCodec.decrypt() rejects malformed base64 without deriving a key", async () => {
  using codec = new ZkCodec(PASSPHRASE);
  const good = text(hello);
  const bad = [
    good.replace(/=+$/, ""), // missing padding
    good.slice(0, 12) + "!" + good.slice(13),
    good.slice(0, 12) + " " + good.slice(12),
    good + "\n",
    "$ZK$\t" + good.slice(4),
    good.replaceAll("+", "-").replaceAll("/", "_"),
    "$ZK$-_-_" + good.slice(8),
    "$ZK$=",
  ].filter((candidate) => candidate !== good);
  assert.ok(bad.length >= 7);
  const derivations = await countDerivations(async () => {
    for (const value of bad) {
      const error = await rejectsWith(codec.decrypt(utf8(value), { key: "k" }), "base64");
      assert.match(error.message, /base64/);
      assert.equal(error.key, "k");
    }
  });
  assert.equal(derivations, 0);
});

Deno.test("ZkCodec.decrypt() rejects a payload under 44 bytes as too-short", async () => {
  using codec = new ZkCodec(PASSPHRASE);
  for (const length of [1, 16, 28, 43]) {
    const value = utf8("$ZK$" + encodeBase64(new Uint8Array(length)));
    const error = await rejectsWith(codec.decrypt(value), "too-short");
    assert.match(error.message, new RegExp(`${length} bytes`));
  }
});

Deno.test("ZkCodec counts the passphrase minimum in UTF-8 bytes", () => {
  const fifteen = "fifteen-bytes!!";
  assert.equal(utf8(fifteen).length, 15);
  assert.throws(() => new ZkCodec(fifteen), (error) => {
    assert.ok(error instanceof RangeError);
    assert.match(error.message, /zkKey/);
    assert.match(error.message, /received 15\b/);
    assert.ok(!error.message.includes(fifteen));
    return true;
  });
  assert.throws(() => new ZkCodec(utf8(fifteen)), RangeError);
  assert.throws(() => new ZkCodec(""), /received 0\b/);
  const cyrillic = "ключ-шифрования"; // 15 characters, 29 bytes
  assert.equal(cyrillic.length, 15);
  new ZkCodec(cyrillic).close();
  new ZkCodec(utf8("sixteen-bytes!!!")).close();
  // deno-lint-ignore no-explicit-any
  assert.throws(() => new ZkCodec(42 as any), TypeError);
});

Deno.test("ZkCodec validates cacheSize", () => {
  for (const cacheSize of [0, -1, 1.5, NaN, Infinity]) {
    assert.throws(() => new ZkCodec(PASSPHRASE, { cacheSize }), (error) => {
      assert.ok(error instanceof RangeError);
      assert.match(error.message, /cacheSize/);
      return true;
    });
  }
  assert.equal(DEFAULT_CACHE_SIZE, 64);
});

Deno.test("ZkCodec derives once for concurrent decrypts of one salt (single flight)", async () => {
  using reader = new ZkCodec(PASSPHRASE);
  const derivations = await countDerivations(async () => {
    const results = await Promise.all(Array.from({ length: 8 }, () => reader.decrypt(hello)));
    for (const result of results) assert.equal(text(result), "hello world");
  });
  assert.equal(derivations, 1);
  assert.equal(await countDerivations(() => reader.decrypt(hello)), 0, "then cached");
});

Deno.test("ZkCodec keeps at most cacheSize keys, dropping the least recently used", async () => {
  using writerB = new ZkCodec(PASSPHRASE);
  using writerC = new ZkCodec(PASSPHRASE);
  const b = await writerB.encrypt(utf8("b"));
  const c = await writerC.encrypt(utf8("c"));
  using reader = new ZkCodec(PASSPHRASE, { cacheSize: 2 });
  assert.equal(await countDerivations(() => reader.decrypt(hello)), 1); // [a]
  assert.equal(await countDerivations(() => reader.decrypt(b)), 1); // [a, b]
  assert.equal(await countDerivations(() => reader.decrypt(hello)), 0); // [b, a]
  assert.equal(await countDerivations(() => reader.decrypt(c)), 1); // [a, c]: b dropped
  assert.equal(await countDerivations(() => reader.decrypt(hello)), 0);
  assert.equal(await countDerivations(() => reader.decrypt(b)), 1, "b was evicted");
});

Deno.test("ZkCodec never evicts its own write key", async () => {
  using codec = new ZkCodec(PASSPHRASE, { cacheSize: 1 });
  const own = await codec.encrypt(utf8("own"));
  assert.equal(await countDerivations(() => codec.decrypt(hello)), 1); // fills the cache
  assert.equal(await countDerivations(() => codec.encrypt(utf8("again"))), 0);
  assert.equal(await countDerivations(() => codec.decrypt(own)), 0);
});

Deno.test("ZkCodec runs one Argon2id derivation at a time across codecs", async () => {
  using writerB = new ZkCodec(PASSPHRASE);
  const b = await writerB.encrypt(utf8("b"));
  using r1 = new ZkCodec(PASSPHRASE);
  using r2 = new ZkCodec(PASSPHRASE);
  resetKdfStats();
  await Promise.all([r1.decrypt(hello), r1.decrypt(b), r2.decrypt(hello), r2.decrypt(b)]);
  const stats = kdfStats();
  assert.equal(stats.derivations, 4);
  assert.equal(stats.maxActive, 1);
});

Deno.test("ZkCodec.close() wipes the passphrase and fails later and pending calls", async () => {
  const passphrase = utf8(PASSPHRASE);
  const codec = new ZkCodec(passphrase);
  const own = await codec.encrypt(utf8("x"));
  assert.equal(secretsWiped(codec), false);
  const pending = codec.decrypt(hello, { key: "pending" }); // its derivation is queued
  const before = kdfStats().derivations;
  codec.close();
  assert.equal(codec.closed, true);
  assert.equal(secretsWiped(codec), true);
  assert.deepEqual(passphrase, utf8(PASSPHRASE), "the caller's buffer is the caller's");
  const error = await rejectsWith(pending, "closed");
  assert.equal(error.key, "pending");
  await rejectsWith(codec.decrypt(own), "closed");
  await rejectsWith(codec.decrypt(utf8("plain")), "closed");
  await rejectsWith(codec.encrypt(utf8("x"), { key: "k", method: "PUT" }), "closed");
  assert.equal(kdfStats().derivations, before, "the queued derivation never ran");
  codec.close(); // idempotent
  const disposed = new ZkCodec(PASSPHRASE);
  {
    using _scope = disposed;
  }
  assert.equal(disposed.closed, true, "using closes the codec");
  assert.equal(secretsWiped(disposed), true);
});

Deno.test("ZkCodec errors never carry the passphrase, the plaintext or the value", async () => {
  const secretText = "top-secret-plaintext-value";
  const stored = await writer.encrypt(utf8(secretText));
  const storedText = text(stored);
  const payload = storedText.slice(4);
  const errors: unknown[] = [];
  const collect = (promise: Promise<unknown>) =>
    promise.then(() => assert.fail(), (e) => errors.push(e));
  using wrong = new ZkCodec(OTHER_PASSPHRASE);
  await collect(wrong.decrypt(stored, { key: "app/secret", method: "GET" }));
  using right = new ZkCodec(PASSPHRASE);
  await collect(right.decrypt(tamper(stored, (p) => p[30] ^= 1)));
  await collect(right.decrypt(utf8(storedText + " ")));
  await collect(right.decrypt(utf8(storedText.slice(0, 20) + "==")));
  await collect(right.decrypt(utf8("$ZK$" + payload.slice(0, 40))));
  const closing = new ZkCodec(PASSPHRASE);
  closing.close();
  await collect(closing.decrypt(stored));
  await collect(closing.encrypt(utf8(secretText)));
  try {
    new ZkCodec("short-secret");
  } catch (error) {
    errors.push(error);
  }
  assert.equal(errors.length, 8);
  const secrets = [
    PASSPHRASE,
    OTHER_PASSPHRASE,
    secretText,
    payload,
    payload.slice(0, 40),
    "short-secret",
  ];
  for (const error of errors) {
    assert.ok(error instanceof Error);
    const exposed = [
      error.message,
      String(error.stack),
      JSON.stringify(error),
      JSON.stringify(Object.entries(error)),
      String(error),
    ].join("\n");
    for (const secret of secrets) {
      assert.ok(!exposed.includes(secret), `${error.name} exposes a secret: ${error.message}`);
    }
    assert.equal(error.cause, undefined, `${error.name} carries a cause`);
  }
});
