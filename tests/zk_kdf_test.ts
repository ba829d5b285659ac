import assert from "node:assert/strict";
import { argon2id } from "hash-wasm";
import { StashError } from "../src/errors.ts";
import { compileHashWasmModules, readHashWasmBinaries } from "../scripts/extract_wasm.ts";
import {
  argon2EngineWiped,
  argon2Path,
  configureArgon2,
  deriveKeyBytes,
  kdfStats,
  resetCapturedArgon2,
  resetKdfStats,
} from "../src/zk/kdf.ts";
import { ZkCodec } from "../src/zk/codec.ts";

const binaries = await readHashWasmBinaries();
const modules = await compileHashWasmModules();
const passphrase = new TextEncoder().encode("kdf-test-passphrase");
const randomSalt = () => crypto.getRandomValues(new Uint8Array(16));

function hashWasmArgon2id(password: Uint8Array, salt: Uint8Array): Promise<Uint8Array> {
  return argon2id({
    password,
    salt,
    iterations: 1,
    memorySize: 65536,
    parallelism: 4,
    hashLength: 32,
    outputType: "binary",
  });
}

Deno.test("extract_wasm reads hash-wasm's Argon2 and BLAKE2b binaries", () => {
  assert.match(binaries.version, /^4\./);
  for (const bytes of [binaries.argon2, binaries.blake2b]) {
    assert.deepEqual([...bytes.subarray(0, 4)], [0x00, 0x61, 0x73, 0x6d]); // "\0asm"
    assert.ok(WebAssembly.validate(bytes));
  }
});

Deno.test("deriveKeyBytes() on precompiled modules matches hash-wasm's argon2id", async () => {
  configureArgon2(modules);
  try {
    assert.equal(argon2Path(), "wasm-engine");
    for (const salt of [randomSalt(), randomSalt()]) {
      const expected = await hashWasmArgon2id(passphrase, salt);
      assert.deepEqual(await deriveKeyBytes(passphrase, salt), expected);
    }
    assert.equal(kdfStats().lastPath, "wasm-engine");
  } finally {
    configureArgon2(null);
  }
  assert.notEqual(argon2Path(), "wasm-engine");
});

Deno.test("deriveKeyBytes() on .wasm bytes matches the precompiled modules", async () => {
  const salt = randomSalt();
  configureArgon2(modules);
  const fromModules = await deriveKeyBytes(passphrase, salt);
  configureArgon2({ argon2: binaries.argon2, blake2b: binaries.blake2b.buffer });
  try {
    assert.deepEqual(await deriveKeyBytes(passphrase, salt), fromModules);
    assert.equal(kdfStats().lastPath, "wasm-engine");
  } finally {
    configureArgon2(null);
  }
});

Deno.test("the Argon2 engine leaves nothing of a derivation in WebAssembly memory", async () => {
  configureArgon2(modules);
  try {
    await deriveKeyBytes(passphrase, randomSalt());
    assert.equal(await argon2EngineWiped(), true);
  } finally {
    configureArgon2(null);
  }
  assert.equal(await argon2EngineWiped(), undefined, "configureArgon2(null) drops the engine");
  await deriveKeyBytes(passphrase, randomSalt()); // the default path: hash-wasm's captured modules
  assert.equal(kdfStats().lastPath, "captured-engine");
  assert.equal(await argon2EngineWiped(), true);
});

Deno.test("deriveKeyBytes() runs one derivation at a time on every path", async () => {
  const paths = [
    { wasm: modules, path: "wasm-engine" },
    { wasm: null, path: "captured-engine" },
    { wasm: null, path: "hash-wasm", capture: () => Promise.resolve(undefined) },
  ] as const;
  for (const { wasm, path, ...rest } of paths) {
    configureArgon2(wasm);
    if ("capture" in rest) resetCapturedArgon2(rest.capture);
    try {
      resetKdfStats();
      const salts = [randomSalt(), randomSalt()];
      const keys = await Promise.all(salts.map((salt) => deriveKeyBytes(passphrase, salt)));
      assert.notDeepEqual(keys[0], keys[1]);
      const stats = kdfStats();
      assert.equal(stats.lastPath, path);
      assert.equal(stats.derivations, 2);
      assert.equal(stats.maxActive, 1, `path ${stats.lastPath}`);
      assert.equal(stats.active, 0);
    } finally {
      configureArgon2(null);
      resetCapturedArgon2();
    }
  }
});

Deno.test("deriveKeyBytes() skips a derivation aborted while it waited", async () => {
  configureArgon2(modules);
  try {
    resetKdfStats();
    const controller = new AbortController();
    const first = deriveKeyBytes(passphrase, randomSalt());
    const second = deriveKeyBytes(passphrase, randomSalt(), { signal: controller.signal });
    controller.abort(new Error("gave up"));
    await first;
    await assert.rejects(second, /gave up/);
    assert.equal(kdfStats().derivations, 1);
  } finally {
    configureArgon2(null);
  }
});

Deno.test("deriveKeyBytes() validates the passphrase and the salt", async () => {
  await assert.rejects(deriveKeyBytes(new Uint8Array(0), randomSalt()), TypeError);
  await assert.rejects(deriveKeyBytes(passphrase, new Uint8Array(15)), RangeError);
  await assert.rejects(deriveKeyBytes(passphrase, new Uint8Array(17)), RangeError);
});

Deno.test("configureArgon2() rejects swapped modules, non-modules and invalid bytes", () => {
  const typeError = (pattern: RegExp) => (error: unknown) => {
    assert.ok(error instanceof TypeError);
    assert.match(error.message, pattern);
    return true;
  };
  assert.throws(
    () => configureArgon2({ argon2: modules.blake2b, blake2b: modules.argon2 }),
    typeError(/zkWasm\.argon2 is not hash-wasm's argon2 module.*Hash_SetMemorySize/),
  );
  assert.throws(
    () => configureArgon2({ argon2: modules.argon2, blake2b: modules.argon2 }),
    typeError(/zkWasm\.blake2b is not hash-wasm's blake2b module/),
  );
  assert.throws(
    () => configureArgon2({ argon2: modules.argon2, blake2b: new Uint8Array([1, 2, 3]) }),
    typeError(/zkWasm\.blake2b is not valid WebAssembly \(3 bytes\)/),
  );
  assert.throws(
    // deno-lint-ignore no-explicit-any
    () => configureArgon2({ argon2: "argon2.wasm" as any, blake2b: modules.blake2b }),
    typeError(/zkWasm\.argon2 must be a WebAssembly\.Module or bytes, received string/),
  );
  assert.notEqual(argon2Path(), "wasm-engine", "a rejected configuration changes nothing");
});

Deno.test("configureArgon2() with swapped bytes fails the derivation, then recovers", async () => {
  configureArgon2({ argon2: binaries.blake2b, blake2b: binaries.argon2 });
  try {
    await assert.rejects(
      deriveKeyBytes(passphrase, randomSalt()),
      /zkWasm\.argon2 is not hash-wasm's argon2 module/,
    );
    configureArgon2(modules);
    const salt = randomSalt();
    assert.deepEqual(
      await deriveKeyBytes(passphrase, salt),
      await hashWasmArgon2id(passphrase, salt),
    );
  } finally {
    configureArgon2(null);
  }
});

Deno.test("a runtime that refuses to compile WebAssembly gets a StashError naming zkWasm", async () => {
  const compile = WebAssembly.compile;
  WebAssembly.compile = () =>
    Promise.reject(
      new WebAssembly.CompileError(
        "WebAssembly.compile(): Wasm code generation disallowed by embedder",
      ),
    );
  configureArgon2({ argon2: binaries.argon2, blake2b: binaries.blake2b });
  try {
    await assert.rejects(deriveKeyBytes(passphrase, randomSalt()), (error) => {
      assert.ok(error instanceof StashError);
      assert.match(error.message, /zkWasm/);
      assert.ok(error.cause instanceof WebAssembly.CompileError);
      return true;
    });
  } finally {
    WebAssembly.compile = compile;
    configureArgon2(null);
  }
});

Deno.test("ZkCodec's wasm option configures the engine, and rejects unusable modules", () => {
  configureArgon2(null);
  try {
    new ZkCodec("codec-wasm-option-key", { wasm: modules }).close();
    assert.equal(argon2Path(), "wasm-engine");
    configureArgon2(null);
    assert.throws(
      () =>
        new ZkCodec("codec-wasm-option-key", {
          wasm: { argon2: modules.blake2b, blake2b: modules.argon2 },
        }),
      TypeError,
    );
    assert.notEqual(argon2Path(), "wasm-engine");
  } finally {
    configureArgon2(null);
  }
});
