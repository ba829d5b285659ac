/**
 * Argon2id key derivation for ZK envelopes (version 0x13, t=1, m=64 MiB, p=4, 32-byte key),
 * one derivation at a time per process.
 *
 * Derivations run on one reused engine ({@link Argon2Engine}), whose 64 MiB is allocated once and
 * zeroed after each use, on hash-wasm's Argon2 and BLAKE2b WebAssembly modules, which come from:
 * - {@link configureArgon2} (the `zkWasm` option), as modules or bytes, when it was called;
 * - otherwise hash-wasm itself: the first derivation captures the modules hash-wasm compiled
 *   from the bytes bundled in its JavaScript ({@link captureHashWasmModules}).
 *
 * The engine keeps its 64 MiB (zeroed between derivations) while the process derives keys on
 * one source; {@link configureArgon2} switching sources releases it.
 *
 * Where that capture finds nothing, derivations fall back to hash-wasm's `argon2id()`, which
 * computes the same bytes but takes a fresh 64 MiB per call, released only when the garbage
 * collector gets to it (50 derivations were seen to peak at 700 MiB on Deno).
 *
 * Every derivation, on any path, waits its turn in one module-level queue, so at most one
 * 64 MiB Argon2 memory is being filled at any moment.
 *
 * @module
 */

import { argon2id } from "hash-wasm";
import { StashError } from "../errors.ts";
import { Argon2Engine, checkModuleExports } from "./argon2_engine.ts";
import { captureHashWasmModules, type HashWasmModules } from "./capture.ts";

/** The Argon2id parameters every Stash client uses. */
export const ARGON2ID_PARAMS = {
  /** Argon2 version 1.3. */
  version: 0x13,
  /** Passes over memory (t). */
  iterations: 1,
  /** Memory in KiB (m): 64 MiB. */
  memoryKiB: 65536,
  /** Lanes (p). */
  parallelism: 4,
  /** Derived key length in bytes: an AES-256 key. */
  hashLength: 32,
} as const;

/** Bytes of the salt an envelope carries. */
export const KDF_SALT_LENGTH = 16;

/**
 * hash-wasm's Argon2 and BLAKE2b WebAssembly, each as a precompiled `WebAssembly.Module`
 * (required on Cloudflare Workers, which refuse to compile bytes at run time) or as the bytes
 * of the `.wasm` file (compiled once, on first use). `scripts/extract_wasm.ts` writes both files.
 */
export interface Argon2Wasm {
  /** hash-wasm's Argon2 module (`argon2.wasm`). */
  argon2: WebAssembly.Module | BufferSource;
  /** hash-wasm's BLAKE2b module (`blake2b.wasm`). */
  blake2b: WebAssembly.Module | BufferSource;
}

/**
 * Which implementation runs a derivation: the reused engine on the configured modules
 * (`"wasm-engine"`) or on the modules captured from hash-wasm (`"captured-engine"`), or
 * hash-wasm's own `argon2id()` (`"hash-wasm"`, a fresh 64 MiB per call).
 */
export type Argon2Path = "wasm-engine" | "captured-engine" | "hash-wasm";

/** Counters for tests and diagnostics. */
export interface KdfStats {
  /** Derivations started since the last reset. */
  derivations: number;
  /** Derivations running right now (0 or 1). */
  active: number;
  /** Most derivations ever running at once since the last reset (1 when serialised). */
  maxActive: number;
  /** The path the last derivation took. */
  lastPath: Argon2Path | undefined;
}

/** Options of {@link deriveKeyBytes}. */
export interface DeriveOptions {
  /** Cancels the derivation while it waits for its turn. @default {undefined} */
  signal?: AbortSignal;
}

interface WasmSources {
  argon2: WebAssembly.Module | Uint8Array<ArrayBuffer>;
  blake2b: WebAssembly.Module | Uint8Array<ArrayBuffer>;
  /** What the caller passed, to recognise the same configuration again. */
  given: Argon2Wasm;
}

/** What {@link configureArgon2} set, if anything. */
let sources: WasmSources | undefined;
/**
 * hash-wasm's modules for the default path: `undefined` until the first unconfigured derivation
 * tries to capture them, `null` once that found nothing (hash-wasm's `argon2id()` from then on).
 */
let captured: HashWasmModules | null | undefined;
let capture: () => Promise<HashWasmModules | undefined> = captureHashWasmModules;
/** The one engine, and the sources or captured modules it was built from. */
let engine: { from: object; ready: Promise<Argon2Engine> } | undefined;
let queueTail: Promise<unknown> = Promise.resolve();
const stats: KdfStats = { derivations: 0, active: 0, maxActive: 0, lastPath: undefined };

/**
 * Sets, process-wide, the WebAssembly that Argon2id runs on; `null` or `undefined` goes back to
 * the modules of the installed hash-wasm (captured on first use). Calling it again with the same
 * two objects, or with `null` when nothing is configured, does nothing.
 *
 * Throws `TypeError` when either entry is neither a `WebAssembly.Module` nor bytes, is not
 * valid WebAssembly, or lacks an export of the hash-wasm module it stands for.
 *
 * @example Cloudflare Workers (wrangler imports `.wasm` files as modules)
 * ```ts ignore
 * import argon2 from "./wasm/argon2.wasm";
 * import blake2b from "./wasm/blake2b.wasm";
 * configureArgon2({ argon2, blake2b });
 * ```
 */
export function configureArgon2(wasm?: Argon2Wasm | null): void {
  if (wasm === undefined || wasm === null) {
    if (sources) replaceSources(undefined);
    return;
  }
  if (typeof wasm !== "object") {
    throw new TypeError(`zkWasm must be { argon2, blake2b }, received ${typeof wasm}`);
  }
  if (sources?.given.argon2 === wasm.argon2 && sources.given.blake2b === wasm.blake2b) return;
  replaceSources({
    argon2: checkSource(wasm.argon2, "argon2"),
    blake2b: checkSource(wasm.blake2b, "blake2b"),
    given: { argon2: wasm.argon2, blake2b: wasm.blake2b },
  });
}

function checkSource(
  source: unknown,
  kind: "argon2" | "blake2b",
): WebAssembly.Module | Uint8Array<ArrayBuffer> {
  const option = `zkWasm.${kind}`;
  if (source instanceof WebAssembly.Module) {
    checkModuleExports(source, kind, option);
    return source;
  }
  let bytes: Uint8Array<ArrayBuffer>;
  if (source instanceof ArrayBuffer) bytes = new Uint8Array(source.slice(0));
  else if (ArrayBuffer.isView(source)) {
    bytes = new Uint8Array(source.byteLength);
    bytes.set(new Uint8Array(source.buffer, source.byteOffset, source.byteLength));
  } else {
    const what = source === null ? "null" : typeof source;
    throw new TypeError(`${option} must be a WebAssembly.Module or bytes, received ${what}`);
  }
  if (!WebAssembly.validate(bytes)) {
    throw new TypeError(`${option} is not valid WebAssembly (${bytes.length} bytes)`);
  }
  return bytes;
}

function replaceSources(next: WasmSources | undefined): void {
  sources = next;
  dropEngine(); // frees its 64 MiB now; the next derivation builds one on the new modules
}

/** Forgets the engine and disposes it in the queue, after any derivation still running on it. */
function dropEngine(): void {
  const previous = engine;
  engine = undefined;
  if (previous) void enqueue(async () => (await previous.ready).dispose()).catch(noop);
}

/**
 * The path derivations take now: `"wasm-engine"` when modules are configured; otherwise
 * `"captured-engine"` once the first derivation captured hash-wasm's modules, and `"hash-wasm"`
 * before that, or for good when the capture found nothing.
 */
export function argon2Path(): Argon2Path {
  if (sources) return "wasm-engine";
  return captured ? "captured-engine" : "hash-wasm";
}

/**
 * For tests: forgets the captured modules and drops their engine, so that the next unconfigured
 * derivation captures again, with `replacement` instead of {@link captureHashWasmModules} when
 * given (`async () => undefined` forces the fall-back to hash-wasm's `argon2id()`).
 */
export function resetCapturedArgon2(
  replacement: () => Promise<HashWasmModules | undefined> = captureHashWasmModules,
): void {
  capture = replacement;
  if (captured && engine?.from === captured) dropEngine();
  captured = undefined;
}

function enqueue<T>(task: () => Promise<T>): Promise<T> {
  const run = queueTail.then(task, task);
  queueTail = run.then(noop, noop);
  return run;
}

function noop(): void {}

/**
 * Derives the 32-byte AES key for `salt` from the passphrase bytes with Argon2id (version 0x13,
 * t=1, m=65536 KiB, p=4), after every derivation queued before it. The caller owns the result
 * and should zero it once used. `passphrase` is read only when the derivation starts.
 *
 * @example
 * ```ts ignore
 * const key = await deriveKeyBytes(new TextEncoder().encode("sixteen+ bytes!!"), salt);
 * ```
 */
export function deriveKeyBytes(
  passphrase: Uint8Array,
  salt: Uint8Array,
  options: DeriveOptions = {},
): Promise<Uint8Array<ArrayBuffer>> {
  if (!(passphrase instanceof Uint8Array) || passphrase.length === 0) {
    return Promise.reject(new TypeError("passphrase must be a non-empty Uint8Array"));
  }
  if (!(salt instanceof Uint8Array) || salt.length !== KDF_SALT_LENGTH) {
    return Promise.reject(new RangeError(`salt must be ${KDF_SALT_LENGTH} bytes`));
  }
  const { signal } = options;
  return enqueue(async () => {
    signal?.throwIfAborted();
    stats.derivations++;
    stats.active++;
    stats.maxActive = Math.max(stats.maxActive, stats.active);
    try {
      const params = { password: passphrase, salt, ...ARGON2ID_PARAMS };
      if (sources) {
        stats.lastPath = "wasm-engine";
        return (await configuredEngine(sources)).hash(params);
      }
      const own = await capturedEngine();
      if (own) {
        stats.lastPath = "captured-engine";
        return own.hash(params);
      }
      stats.lastPath = "hash-wasm";
      return await deriveWithHashWasm(passphrase, salt);
    } finally {
      stats.active--;
    }
  });
}

/** The engine on the configured modules or bytes; a failure lets a later call try again. */
function configuredEngine(current: WasmSources): Promise<Argon2Engine> {
  return engineFrom(current, async () => {
    const [argon2, blake2b] = await Promise.allSettled([
      toModule(current.argon2, "argon2"),
      toModule(current.blake2b, "blake2b"),
    ]);
    // Both compile at once; when both fail, report argon2's error whichever settled first.
    if (argon2.status === "rejected") throw argon2.reason;
    if (blake2b.status === "rejected") throw blake2b.reason;
    return { argon2: argon2.value, blake2b: blake2b.value };
  });
}

/**
 * The engine on hash-wasm's own modules, capturing them first if no derivation has yet; or
 * `undefined` when they cannot be had, and derivations fall back to hash-wasm's `argon2id()`.
 * Runs in the queue, so two captures never overlap.
 */
async function capturedEngine(): Promise<Argon2Engine | undefined> {
  if (captured === undefined) {
    try {
      captured = (await capture()) ?? null;
    } catch (cause) {
      const failure = compileFailure(cause);
      // A runtime that will not compile WebAssembly could not run the fall-back either: say
      // so, and leave `captured` unset so that a later call (after `zkWasm`) starts afresh.
      if (failure instanceof StashError) throw failure;
      captured = null; // any other failure of the warm-up: fall back, and do not retry
    }
  }
  if (captured === null) return undefined;
  const modules = captured;
  try {
    return await engineFrom(modules, () => Promise.resolve(modules));
  } catch {
    // The modules passed the self-test when captured, so this is most likely a memory that
    // could not grow to 64 MiB; hash-wasm's own call will report that in its own words.
    if (captured === modules) captured = null;
    return undefined;
  }
}

/** The engine built from `from` (reused while `from` is current); a failure is not kept. */
function engineFrom(
  from: object,
  load: () => Promise<HashWasmModules>,
): Promise<Argon2Engine> {
  if (engine?.from === from) return engine.ready;
  dropEngine();
  const ready = load().then(({ argon2, blake2b }) =>
    Argon2Engine.create(argon2, blake2b, ARGON2ID_PARAMS.memoryKiB)
  );
  const slot = { from, ready };
  engine = slot;
  ready.catch(() => {
    if (engine === slot) engine = undefined; // let a later call try again
  });
  return ready;
}

async function toModule(
  source: WebAssembly.Module | Uint8Array<ArrayBuffer>,
  kind: "argon2" | "blake2b",
): Promise<WebAssembly.Module> {
  if (source instanceof WebAssembly.Module) return source;
  let module: WebAssembly.Module;
  try {
    module = await WebAssembly.compile(source);
  } catch (cause) {
    throw compileFailure(cause);
  }
  checkModuleExports(module, kind, `zkWasm.${kind}`);
  return module;
}

async function deriveWithHashWasm(
  passphrase: Uint8Array,
  salt: Uint8Array,
): Promise<Uint8Array<ArrayBuffer>> {
  try {
    const key = await argon2id({
      password: passphrase,
      salt,
      iterations: ARGON2ID_PARAMS.iterations,
      memorySize: ARGON2ID_PARAMS.memoryKiB,
      parallelism: ARGON2ID_PARAMS.parallelism,
      hashLength: ARGON2ID_PARAMS.hashLength,
      outputType: "binary",
    });
    if (key.buffer instanceof ArrayBuffer) return key as Uint8Array<ArrayBuffer>;
    const copy = new Uint8Array(key);
    key.fill(0);
    return copy;
  } catch (cause) {
    throw compileFailure(cause);
  }
}

/**
 * A runtime that refuses to compile WebAssembly (Cloudflare Workers: "Wasm code generation
 * disallowed by embedder") gets an error that says what to do; other errors pass unchanged.
 */
function compileFailure(cause: unknown): unknown {
  const name = cause instanceof Error ? cause.name : "";
  const message = cause instanceof Error ? cause.message : "";
  if (
    name === "CompileError" || name === "EvalError" || /code generation|disallowed/i.test(message)
  ) {
    return new StashError(
      "Argon2id needs WebAssembly, and this runtime would not compile it from bytes " +
        "(Cloudflare Workers forbid that): pass precompiled modules as the zkWasm option " +
        "(see scripts/extract_wasm.ts)",
      { cause },
    );
  }
  return cause;
}

/** A copy of the derivation counters. */
export function kdfStats(): KdfStats {
  return { ...stats };
}

/** Zeroes the counters (not `active`). For tests. */
export function resetKdfStats(): void {
  stats.derivations = 0;
  stats.maxActive = stats.active;
  stats.lastPath = undefined;
}

/**
 * For tests: after every queued derivation, whether the engine's memories hold nothing of any
 * derivation; `undefined` when no engine is kept.
 */
export function argon2EngineWiped(): Promise<boolean | undefined> {
  return enqueue(async () => {
    if (!engine) return undefined;
    return (await engine.ready).isWiped();
  });
}
