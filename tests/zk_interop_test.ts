/**
 * Byte compatibility with the other Stash clients, from the shared interop data that CI lays
 * beside the checkout (`../shared/interop/`). Without that folder these tests are skipped.
 */
import assert from "node:assert/strict";
import { compileHashWasmModules } from "../scripts/extract_wasm.ts";
import { configureArgon2, deriveKeyBytes, encryptWith, ZkCodec } from "../src/zk/codec.ts";
import { argon2Path, kdfStats, resetCapturedArgon2, resetKdfStats } from "../src/zk/kdf.ts";

const INTEROP = new URL("../../shared/interop/", import.meta.url);
const KNOWN_ANSWERS = new URL("zk-known-answers.json", INTEROP);
const ENVELOPES = new URL("zk-envelopes.json", INTEROP);

interface KnownAnswer {
  passphrase: string;
  passphraseBytes: number;
  passphraseChars: number;
  saltHex: string;
  nonceHex: string;
  keyHex: string;
  plaintext: string;
  envelope: string;
}

interface WrittenEnvelope {
  writer: string;
  envelope: string;
  plaintext: string;
}

function exists(url: URL): boolean {
  try {
    return Deno.statSync(url).isFile;
  } catch {
    return false;
  }
}

const available = exists(KNOWN_ANSWERS) && exists(ENVELOPES);
const SKIPPED = available ? "" : " [skipped: ../shared/interop/ is not beside this checkout]";

function readJson<T>(url: URL): T {
  return JSON.parse(Deno.readTextFileSync(url)) as T;
}

const knownAnswers = () => readJson<{ vectors: KnownAnswer[] }>(KNOWN_ANSWERS).vectors;
const written = () => readJson<{ passphrase: string; envelopes: WrittenEnvelope[] }>(ENVELOPES);

const utf8 = (text: string) => new TextEncoder().encode(text);
const text = (bytes: Uint8Array) => new TextDecoder("utf-8", { fatal: true }).decode(bytes);
const fromHex = (hex: string) => Uint8Array.from(hex.match(/../g) ?? [], (h) => parseInt(h, 16));
const toHex = (bytes: Uint8Array) =>
  Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");

/** The vectors with distinct (passphrase, salt), so each key is derived once. */
function distinctKeys(vectors: KnownAnswer[]): KnownAnswer[] {
  const seen = new Map<string, KnownAnswer>();
  for (const v of vectors) seen.set(`${v.passphrase}\u0000${v.saltHex}`, v);
  return [...seen.values()];
}

async function withEngineModules(fn: () => Promise<void>): Promise<void> {
  configureArgon2(await compileHashWasmModules());
  try {
    await fn();
  } finally {
    configureArgon2(null);
  }
}

Deno.test({
  name: `deriveKeyBytes() gives every known-answer keyHex through hash-wasm's argon2id${SKIPPED}`,
  ignore: !available,
  async fn() {
    configureArgon2(null);
    resetCapturedArgon2(() => Promise.resolve(undefined)); // the fall-back: nothing captured
    try {
      resetKdfStats();
      for (const v of distinctKeys(knownAnswers())) {
        const key = await deriveKeyBytes(utf8(v.passphrase), fromHex(v.saltHex));
        assert.equal(toHex(key), v.keyHex, `passphrase of ${v.passphraseBytes} bytes`);
      }
      assert.equal(kdfStats().lastPath, "hash-wasm");
      assert.equal(argon2Path(), "hash-wasm");
    } finally {
      resetCapturedArgon2();
    }
  },
});

Deno.test({
  name: `deriveKeyBytes() gives every known-answer keyHex by default, on hash-wasm's captured ` +
    `modules${SKIPPED}`,
  ignore: !available,
  async fn() {
    configureArgon2(null);
    resetCapturedArgon2();
    assert.equal(argon2Path(), "hash-wasm", "nothing captured before the first derivation");
    resetKdfStats();
    for (const v of distinctKeys(knownAnswers())) {
      const key = await deriveKeyBytes(utf8(v.passphrase), fromHex(v.saltHex));
      assert.equal(toHex(key), v.keyHex, `passphrase of ${v.passphraseBytes} bytes`);
    }
    assert.equal(kdfStats().lastPath, "captured-engine");
    assert.equal(argon2Path(), "captured-engine");
  },
});

Deno.test({
  name: `deriveKeyBytes() gives every known-answer keyHex through precompiled modules${SKIPPED}`,
  ignore: !available,
  async fn() {
    await withEngineModules(async () => {
      assert.equal(argon2Path(), "wasm-engine");
      resetKdfStats();
      for (const v of distinctKeys(knownAnswers())) {
        const key = await deriveKeyBytes(utf8(v.passphrase), fromHex(v.saltHex));
        assert.equal(toHex(key), v.keyHex, `passphrase of ${v.passphraseBytes} bytes`);
      }
      assert.equal(kdfStats().lastPath, "wasm-engine");
    });
  },
});

Deno.test({
  name: `encryptWith() produces every known-answer envelope byte for byte${SKIPPED}`,
  ignore: !available,
  async fn() {
    for (const v of knownAnswers()) {
      const stored = await encryptWith(
        fromHex(v.keyHex),
        fromHex(v.saltHex),
        fromHex(v.nonceHex),
        utf8(v.plaintext),
      );
      assert.equal(text(stored), v.envelope, JSON.stringify(v.plaintext));
    }
  },
});

Deno.test({
  name: `ZkCodec.decrypt() opens every known-answer envelope${SKIPPED}`,
  ignore: !available,
  async fn() {
    await withEngineModules(async () => {
      const codecs = new Map<string, ZkCodec>();
      try {
        for (const v of knownAnswers()) {
          let codec = codecs.get(v.passphrase);
          if (!codec) codecs.set(v.passphrase, codec = new ZkCodec(v.passphrase));
          assert.equal(text(await codec.decrypt(utf8(v.envelope))), v.plaintext);
        }
      } finally {
        for (const codec of codecs.values()) codec.close();
      }
    });
  },
});

Deno.test({
  name: `ZkCodec.decrypt() opens every envelope written by the Go, Python, Rust and TS clients, ` +
    `without zkWasm${SKIPPED}`,
  ignore: !available,
  async fn() {
    configureArgon2(null);
    const data = written();
    using codec = new ZkCodec(data.passphrase);
    const writers = new Set<string>();
    for (const { writer, envelope, plaintext } of data.envelopes) {
      assert.equal(text(await codec.decrypt(utf8(envelope))), plaintext, writer);
      writers.add(writer);
    }
    assert.deepEqual([...writers].sort(), ["go", "python", "rust", "typescript"]);
    assert.equal(kdfStats().lastPath, "captured-engine");
  },
});
