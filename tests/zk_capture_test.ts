/**
 * The default path (no `zkWasm`): hash-wasm's own modules, captured by briefly observing
 * `WebAssembly.instantiate`, run the reused engine; the capture leaves every other caller of
 * WebAssembly alone and the globals as they were; when it finds nothing, derivations fall back
 * to hash-wasm's `argon2id()`.
 */
import assert from "node:assert/strict";
import { argon2id, createSHA256, createSHA512, scrypt } from "hash-wasm";
import { StashError } from "../src/errors.ts";
import { Argon2Engine } from "../src/zk/argon2_engine.ts";
import { captureHashWasmModules, type HashWasmModules, warmUpHashWasm } from "../src/zk/capture.ts";
import {
  argon2EngineWiped,
  argon2Path,
  configureArgon2,
  deriveKeyBytes,
  kdfStats,
  resetCapturedArgon2,
  resetKdfStats,
} from "../src/zk/kdf.ts";

const ORIGINAL_INSTANTIATE = WebAssembly.instantiate;
const ORIGINAL_COMPILE = WebAssembly.compile;

/** The first known answer of `../shared/interop/zk-known-answers.json`. */
const KNOWN = {
  passphrase: new TextEncoder().encode("cross-compat-key-16"),
  salt: Uint8Array.from({ length: 16 }, (_, i) => i),
  keyHex: "594d298f78ae85e6ee591044caa309681478c7a99b595acca6fa50f58c416f0a",
};

/** `(module (func (export "add") (param i32 i32) (result i32) local.get 0 local.get 1 i32.add))` */
const ADD_WASM = new Uint8Array([
  0x00,
  0x61,
  0x73,
  0x6d,
  0x01,
  0x00,
  0x00,
  0x00, // "\0asm", version 1
  0x01,
  0x07,
  0x01,
  0x60,
  0x02,
  0x7f,
  0x7f,
  0x01,
  0x7f, // type: (i32, i32) -> i32
  0x03,
  0x02,
  0x01,
  0x00, // function 0 has type 0
  0x07,
  0x07,
  0x01,
  0x03,
  0x61,
  0x64,
  0x64,
  0x00,
  0x00, // export "add" = function 0
  0x0a,
  0x09,
  0x01,
  0x07,
  0x00,
  0x20,
  0x00,
  0x20,
  0x01,
  0x6a,
  0x0b, // local.get 0 1, i32.add
]);
/** `(module (import "env" "f" (func (result i32))) (func (export "g") (result i32) call 0))` */
const IMPORTING_WASM = new Uint8Array([
  0x00,
  0x61,
  0x73,
  0x6d,
  0x01,
  0x00,
  0x00,
  0x00,
  0x01,
  0x05,
  0x01,
  0x60,
  0x00,
  0x01,
  0x7f, // type: () -> i32
  0x02,
  0x09,
  0x01,
  0x03,
  0x65,
  0x6e,
  0x76,
  0x01,
  0x66,
  0x00,
  0x00, // import env.f: type 0
  0x03,
  0x02,
  0x01,
  0x00, // function 1 has type 0
  0x07,
  0x05,
  0x01,
  0x01,
  0x67,
  0x00,
  0x01, // export "g" = function 1
  0x0a,
  0x06,
  0x01,
  0x04,
  0x00,
  0x10,
  0x00,
  0x0b, // call 0
]);
/** A valid header, then a section id that does not exist. */
const BAD_WASM = new Uint8Array([0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, 0xff]);

const toHex = (bytes: Uint8Array) =>
  Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");

function assertGlobalsRestored(): void {
  assert.equal(WebAssembly.instantiate, ORIGINAL_INSTANTIATE, "WebAssembly.instantiate restored");
  assert.equal(WebAssembly.compile, ORIGINAL_COMPILE, "WebAssembly.compile untouched");
}

/** True while a capture has its pass-through in place. */
const observing = () => WebAssembly.instantiate !== ORIGINAL_INSTANTIATE;

type Add = (a: number, b: number) => number;

/**
 * hash-wasm calls whose modules look like BLAKE2b (SHA-512 and SHA-256 have exactly its
 * exports) or like Argon2 (scrypt's has `Hash_SetMemorySize`).
 */
async function lookAlikes() {
  return {
    sha512: (await createSHA512()).update("abc").digest(),
    sha256: (await createSHA256()).update("abc").digest(),
    scrypt: await scrypt({
      password: "p",
      salt: "saltsalt",
      costFactor: 2,
      blockSize: 1,
      parallelism: 1,
      hashLength: 8,
    }),
  };
}

/** Unrelated WebAssembly work: compiling and instantiating, with and without imports, failing. */
async function unrelatedWork() {
  const compiled = WebAssembly.compile(ADD_WASM);
  const fromBytes = WebAssembly.instantiate(ADD_WASM);
  const invalid = WebAssembly.compile(BAD_WASM).then(() => "compiled", (error) => error);
  const invalidInstantiate = WebAssembly.instantiate(BAD_WASM).then(() => "ok", (error) => error);
  const importing = await WebAssembly.compile(IMPORTING_WASM);
  const withImports = WebAssembly.instantiate(importing, { env: { f: () => 7 } });
  const missingImports = WebAssembly.instantiate(importing).then(() => "ok", (error) => error);
  const fromModule = WebAssembly.instantiate(await compiled);
  return {
    moduleExports: WebAssembly.Module.exports(await compiled),
    fromBytes: ((await fromBytes).instance.exports.add as Add)(2, 40),
    fromBytesModule: (await fromBytes).module instanceof WebAssembly.Module,
    fromModule: ((await fromModule).exports.add as Add)(40, 2),
    fromModuleIsInstance: (await fromModule) instanceof WebAssembly.Instance,
    withImports: ((await withImports).exports.g as () => number)(),
    missingImports: describeError(await missingImports),
    invalid: describeError(await invalid),
    invalidInstantiate: describeError(await invalidInstantiate),
  };
}

function describeError(error: unknown): string {
  return error instanceof Error ? `${error.constructor.name}: ${error.message}` : String(error);
}

Deno.test("captureHashWasmModules() finds hash-wasm's modules and restores WebAssembly", async () => {
  await warmUpHashWasm(); // hash-wasm has compiled (and cached) its modules before the capture
  const first = await captureHashWasmModules();
  assertGlobalsRestored();
  assert.ok(first, "modules captured");
  assert.ok(await Argon2Engine.verify(first.argon2, first.blake2b));
  const second = await captureHashWasmModules();
  assert.ok(second);
  assert.equal(second.argon2, first.argon2, "hash-wasm's one cached Argon2 module");
  assert.equal(second.blake2b, first.blake2b, "hash-wasm's one cached BLAKE2b module");
  assertGlobalsRestored();
});

Deno.test("WebAssembly calls other code makes during the capture behave as without it", async () => {
  const expected = { lookAlikes: await lookAlikes(), work: await unrelatedWork() };
  assert.equal(expected.work.fromBytes, 42);
  assert.equal(expected.work.withImports, 7);
  assert.match(expected.work.missingImports, /^TypeError: /);
  assert.match(expected.work.invalid, /^CompileError: /);
  const reference = await captureHashWasmModules();
  assert.ok(reference);

  let during: typeof expected | undefined;
  let passThrough: { name: string; length: number } | undefined;
  const captured = await captureHashWasmModules(async () => {
    if (!observing()) return await warmUpHashWasm(); // the first, unobserved warm-up
    passThrough = { name: WebAssembly.instantiate.name, length: WebAssembly.instantiate.length };
    // The look-alikes are instantiated first, so a capture that took the first module with the
    // right exports would take SHA-512 for BLAKE2b and scrypt for Argon2.
    const alike = await lookAlikes();
    // Then unrelated work, interleaved with hash-wasm's own calls.
    const [work] = await Promise.all([unrelatedWork(), warmUpHashWasm()]);
    during = { lookAlikes: alike, work };
  });
  assertGlobalsRestored();
  assert.deepEqual(during, expected);
  assert.deepEqual(passThrough, {
    name: ORIGINAL_INSTANTIATE.name,
    length: ORIGINAL_INSTANTIATE.length,
  });
  assert.ok(captured, "the self-test told the look-alikes apart");
  assert.equal(captured.blake2b, reference.blake2b);
  assert.equal(captured.argon2, reference.argon2);
});

Deno.test("captureHashWasmModules() restores WebAssembly.instantiate when the warm-up throws", async () => {
  let calls = 0;
  await assert.rejects(
    captureHashWasmModules(async () => {
      if (++calls === 2) {
        assert.ok(observing());
        await warmUpHashWasm();
        throw new Error("warm-up failed");
      }
    }),
    /warm-up failed/,
  );
  assertGlobalsRestored();
});

Deno.test("captureHashWasmModules() finds nothing when the warm-up instantiates nothing", async () => {
  assert.equal(await captureHashWasmModules(() => Promise.resolve()), undefined);
  assertGlobalsRestored();
});

Deno.test("captureHashWasmModules() changes nothing where WebAssembly.instantiate is read-only", async () => {
  const descriptor = Object.getOwnPropertyDescriptor(WebAssembly, "instantiate")!;
  Object.defineProperty(WebAssembly, "instantiate", { ...descriptor, writable: false });
  try {
    assert.equal(await captureHashWasmModules(), undefined);
    assert.deepEqual(Object.getOwnPropertyDescriptor(WebAssembly, "instantiate"), {
      ...descriptor,
      writable: false,
    });
  } finally {
    Object.defineProperty(WebAssembly, "instantiate", descriptor);
  }
  assertGlobalsRestored();
});

Deno.test("captureHashWasmModules() keeps a wrapper other code put over its own", async () => {
  let viaOther = 0;
  let other: typeof WebAssembly.instantiate | undefined;
  try {
    const captured = await captureHashWasmModules(async () => {
      if (observing() && !other) {
        const inner = WebAssembly.instantiate;
        other = function (this: unknown, ...args: unknown[]) {
          viaOther++;
          return Reflect.apply(inner, this, args);
        } as typeof WebAssembly.instantiate;
        WebAssembly.instantiate = other;
      }
      await warmUpHashWasm();
    });
    assert.ok(captured, "modules seen through the other wrapper");
    assert.equal(WebAssembly.instantiate, other, "the other wrapper was not removed");
    const before = viaOther;
    const { instance } = await WebAssembly.instantiate(ADD_WASM);
    assert.equal((instance.exports.add as Add)(1, 2), 3);
    assert.equal(viaOther, before + 1);
  } finally {
    WebAssembly.instantiate = ORIGINAL_INSTANTIATE;
  }
});

Deno.test("deriveKeyBytes() without zkWasm runs on the captured engine from the first call", async () => {
  configureArgon2(null);
  let captures = 0;
  let found: HashWasmModules | undefined;
  resetCapturedArgon2(async () => {
    captures++;
    return found = await captureHashWasmModules();
  });
  try {
    assert.equal(argon2Path(), "hash-wasm", "nothing captured yet");
    resetKdfStats();
    const key = await deriveKeyBytes(KNOWN.passphrase, KNOWN.salt);
    assert.equal(toHex(key), KNOWN.keyHex);
    assert.equal(kdfStats().lastPath, "captured-engine");
    assert.equal(argon2Path(), "captured-engine");
    assert.ok(found);
    assertGlobalsRestored();
    assert.equal(await argon2EngineWiped(), true, "the engine's memory was wiped");

    const salt = crypto.getRandomValues(new Uint8Array(16));
    const direct = await argon2id({
      password: KNOWN.passphrase,
      salt,
      iterations: 1,
      memorySize: 65536,
      parallelism: 4,
      hashLength: 32,
      outputType: "binary",
    });
    assert.deepEqual(await deriveKeyBytes(KNOWN.passphrase, salt), direct);
    assert.equal(captures, 1, "captured once, then reused");
    assert.equal(kdfStats().derivations, 2);
  } finally {
    resetCapturedArgon2();
  }
});

Deno.test("deriveKeyBytes() falls back to hash-wasm's argon2id() when the capture finds nothing", async () => {
  configureArgon2(null);
  let captures = 0;
  resetCapturedArgon2(async () => {
    captures++;
    return await captureHashWasmModules(() => Promise.resolve()); // instantiates nothing
  });
  try {
    const key = await deriveKeyBytes(KNOWN.passphrase, KNOWN.salt);
    assert.equal(toHex(key), KNOWN.keyHex);
    assert.equal(kdfStats().lastPath, "hash-wasm");
    assert.equal(argon2Path(), "hash-wasm");
    assert.equal(await argon2EngineWiped(), undefined, "no engine was built");
    assertGlobalsRestored();
    // Falling back is for good: the capture is not tried again on every derivation.
    await deriveKeyBytes(KNOWN.passphrase, crypto.getRandomValues(new Uint8Array(16)));
    assert.equal(captures, 1);
  } finally {
    resetCapturedArgon2();
  }
});

Deno.test("a capture refused by the runtime gives a StashError naming zkWasm, then is retried", async () => {
  configureArgon2(null);
  let captures = 0;
  resetCapturedArgon2(() => {
    captures++;
    return Promise.reject(
      new WebAssembly.CompileError(
        "WebAssembly.compile(): Wasm code generation disallowed by embedder",
      ),
    );
  });
  try {
    for (let attempt = 1; attempt <= 2; attempt++) {
      await assert.rejects(deriveKeyBytes(KNOWN.passphrase, KNOWN.salt), (error) => {
        assert.ok(error instanceof StashError);
        assert.match(error.message, /zkWasm/);
        assert.ok(error.cause instanceof WebAssembly.CompileError);
        return true;
      });
      assert.equal(captures, attempt, "a refusal is not remembered as 'nothing found'");
    }
    assert.equal(kdfStats().active, 0);
  } finally {
    resetCapturedArgon2();
  }
});

/**
 * Runs `body` (JavaScript, with `kdf` and `capture` imported) in a fresh worker, where hash-wasm
 * has compiled nothing yet, and returns what it posts.
 */
async function inFreshRealm(body: string): Promise<unknown> {
  const kdf = new URL("../src/zk/kdf.ts", import.meta.url).href;
  const capture = new URL("../src/zk/capture.ts", import.meta.url).href;
  const code = `
    const originalInstantiate = WebAssembly.instantiate;
    const originalCompile = WebAssembly.compile;
    const compiles = [];
    ${body}
  `.replaceAll("KDF_URL", JSON.stringify(kdf)).replaceAll("CAPTURE_URL", JSON.stringify(capture));
  const url = URL.createObjectURL(new Blob([code], { type: "text/javascript" }));
  const worker = new Worker(url, { type: "module" });
  try {
    return await new Promise((resolve, reject) => {
      worker.onmessage = (event) => resolve(event.data);
      worker.onerror = (event) => {
        event.preventDefault();
        reject(new Error(event.message));
      };
    });
  } finally {
    worker.terminate();
    URL.revokeObjectURL(url);
  }
}

Deno.test("in a fresh realm, the capture sees hash-wasm compile and instantiate its modules", async () => {
  const result = await inFreshRealm(`
    WebAssembly.compile = function compile(...args) {
      compiles.push(args[0]?.byteLength);
      return Reflect.apply(originalCompile, this, args);
    };
    const { captureHashWasmModules } = await import(CAPTURE_URL);
    const modules = await captureHashWasmModules();
    self.postMessage({
      compiles: compiles.length,
      argon2: modules && WebAssembly.Module.exports(modules.argon2).map((e) => e.name),
      restored: WebAssembly.instantiate === originalInstantiate,
    });
  `);
  assert.deepEqual(result, {
    compiles: 2, // hash-wasm compiled Argon2 and BLAKE2b once each, in the unobserved warm-up
    argon2: ["memory", "__stack_pointer", "Hash_SetMemorySize", "Hash_GetBuffer", "Hash_Calculate"],
    restored: true,
  });
});

Deno.test("in a fresh realm that refuses to compile WebAssembly, the default path names zkWasm", async () => {
  const result = await inFreshRealm(`
    WebAssembly.compile = () => Promise.reject(new WebAssembly.CompileError(
      "WebAssembly.compile(): Wasm code generation disallowed by embedder"));
    const refusing = WebAssembly.compile;
    const { deriveKeyBytes, argon2Path } = await import(KDF_URL);
    const { StashError } = await import(${
    JSON.stringify(new URL("../src/errors.ts", import.meta.url).href)
  });
    let error;
    try {
      await deriveKeyBytes(new TextEncoder().encode("sixteen+ bytes!!"), new Uint8Array(16));
    } catch (caught) {
      error = caught;
    }
    self.postMessage({
      stashError: error instanceof StashError,
      namesZkWasm: /zkWasm/.test(error?.message ?? ""),
      cause: error?.cause?.name,
      path: argon2Path(),
      instantiateRestored: WebAssembly.instantiate === originalInstantiate,
      compileUntouched: WebAssembly.compile === refusing,
    });
  `);
  assert.deepEqual(result, {
    stashError: true,
    namesZkWasm: true,
    cause: "CompileError",
    path: "hash-wasm",
    instantiateRestored: true,
    compileUntouched: true,
  });
});
