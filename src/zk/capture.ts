/**
 * Finds hash-wasm's own compiled Argon2 and BLAKE2b `WebAssembly.Module`s at run time, so that
 * the default path (no `zkWasm`) runs on the reused, wiped {@link Argon2Engine} as well, without
 * shipping a binary, reading a file or importing anything but `hash-wasm`.
 *
 * hash-wasm exports neither its embedded binaries nor the modules it compiles from them. But
 * every hash-wasm call builds its instance with the global `WebAssembly.instantiate(module, {})`,
 * passing the `Module` it compiled once and cached. So for the span of one tiny hash-wasm call,
 * {@link captureHashWasmModules} puts a pass-through in place of `WebAssembly.instantiate` that
 * notes each `Module` it is given, then puts the original back.
 *
 * Why `instantiate` and not `compile`: hash-wasm compiles each binary once per process, so if
 * anything in the process (the application itself, say) has used its Argon2 before, a compile
 * hook sees nothing; `instantiate` runs on every call. `WebAssembly.compile` is never touched.
 *
 * What makes swapping a global safe here:
 * - The window is short. A first warm-up call, not observed, lets hash-wasm compile and cache its
 *   modules; only the second one is observed, and it merely instantiates them (no compiling):
 *   a few event-loop turns of well under a millisecond each.
 * - Everyone else's calls are untouched. The pass-through forwards `this` and the arguments as
 *   given and returns the original's result itself (the very promise), so values, rejections and
 *   exceptions are those of the original; noting a module cannot throw; it has the original's
 *   `name` and `length`.
 * - Concurrent calls cannot mislead it. Modules that other code instantiates during the window
 *   are noted too, so candidates are first chosen by their exports and then proved by running
 *   the RFC 9106 Argon2id self-test on them (hash-wasm's SHA-2 modules have exactly BLAKE2b's
 *   export names, and scrypt's has Argon2's `Hash_SetMemorySize`: only the self-test tells).
 * - The original is restored in a `finally`, and only if the property still holds the
 *   pass-through: if other code wrapped it in turn meanwhile, that wrapper stays, and the
 *   pass-through inside it stops noting anything (it forwards only, for good).
 * - Where the property cannot be replaced (a frozen `WebAssembly`, a hardened realm), nothing is
 *   changed and nothing is found; likewise if a future hash-wasm builds its instances another
 *   way. The caller then falls back to hash-wasm's `argon2id()`.
 * - A runtime that refuses to compile WebAssembly (Cloudflare Workers) rejects the first,
 *   unobserved warm-up with its `CompileError`, before anything is replaced.
 *
 * The caller must not run two captures at once (`kdf.ts` runs them in its derivation queue).
 *
 * @module
 */

import { argon2id } from "hash-wasm";
import { Argon2Engine, missingExports } from "./argon2_engine.ts";

/** hash-wasm's Argon2 and BLAKE2b modules, proved to work together. */
export interface HashWasmModules {
  /** hash-wasm's Argon2 memory-filling module. */
  argon2: WebAssembly.Module;
  /** hash-wasm's BLAKE2b module. */
  blake2b: WebAssembly.Module;
}

/** Most distinct modules noted in one window; more than a handful means unrelated traffic. */
const MAX_NOTED = 16;

/** Public, constant warm-up inputs: nothing secret ever goes through the observed call. */
const WARM_UP_PASSWORD = new Uint8Array([0x77]);
const WARM_UP_SALT = new Uint8Array(8);

/**
 * The smallest legal Argon2id through hash-wasm (8 KiB, one lane, one pass, a 4-byte tag),
 * which instantiates both its Argon2 and its BLAKE2b modules.
 */
export function warmUpHashWasm(): Promise<unknown> {
  return argon2id({
    password: WARM_UP_PASSWORD,
    salt: WARM_UP_SALT,
    iterations: 1,
    parallelism: 1,
    memorySize: 8,
    hashLength: 4,
    outputType: "binary",
  });
}

/**
 * Runs `warmUp` twice, the second time with `WebAssembly.instantiate` observed, and returns the
 * Argon2 and BLAKE2b modules it instantiated, once they pass the RFC 9106 self-test together.
 *
 * @param warmUp a call into hash-wasm that instantiates both modules; for tests
 * @returns `undefined` when nothing usable was seen, or `WebAssembly.instantiate` could not be
 * replaced
 * @throws what `warmUp` throws: on Cloudflare Workers, a `CompileError`
 */
export async function captureHashWasmModules(
  warmUp: () => Promise<unknown> = warmUpHashWasm,
): Promise<HashWasmModules | undefined> {
  await warmUp(); // not observed: hash-wasm compiles and caches its modules here, the first time
  const noted = await observeInstantiate(warmUp);
  if (!noted) return undefined;
  const argon2 = noted.filter((module) => missingExports(module, "argon2").length === 0);
  const blake2b = noted.filter((module) => missingExports(module, "blake2b").length === 0);
  for (const a of argon2) {
    for (const b of blake2b) {
      if (await Argon2Engine.verify(a, b)) return { argon2: a, blake2b: b };
    }
  }
  return undefined;
}

type Instantiate = (this: unknown, ...args: unknown[]) => unknown;

/**
 * Runs `fn` while a pass-through in place of `WebAssembly.instantiate` notes each distinct
 * `WebAssembly.Module` it is given. Returns those modules, or `undefined` (having changed
 * nothing) when the property is not a writable function.
 */
async function observeInstantiate(
  fn: () => Promise<unknown>,
): Promise<WebAssembly.Module[] | undefined> {
  const namespace = WebAssembly;
  const Module = namespace.Module;
  const descriptor = Object.getOwnPropertyDescriptor(namespace, "instantiate");
  const original: unknown = descriptor?.value;
  if (!descriptor?.writable || typeof original !== "function") return undefined;

  const noted = new Set<WebAssembly.Module>();
  let observing = true;
  const passThrough: Instantiate = function instantiate(this: unknown, ...args: unknown[]) {
    if (observing && noted.size < MAX_NOTED) {
      try {
        if (args[0] instanceof Module) noted.add(args[0]);
      } catch {
        // An exotic argument (a revoked Proxy) makes `instanceof` throw: not ours; the original
        // gets it as it is and answers as it would have.
      }
    }
    return Reflect.apply(original, this, args);
  };
  Object.defineProperty(passThrough, "length", { value: original.length });

  if (!Reflect.set(namespace, "instantiate", passThrough)) return undefined;
  const installed = () => (namespace.instantiate as unknown) === passThrough;
  if (!installed()) return undefined; // a setter-less realm quirk: nothing was replaced
  try {
    await fn();
  } finally {
    observing = false; // from now on, wherever it is still referenced, it only forwards
    if (installed()) Reflect.set(namespace, "instantiate", original);
  }
  const modules = [...noted];
  noted.clear(); // a pass-through still referenced somewhere must not keep modules alive
  return modules;
}
