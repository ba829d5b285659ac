/**
 * Argon2id on one reused pair of WebAssembly instances: hash-wasm's Argon2 memory-filling
 * module and its BLAKE2b module, instantiated from precompiled `WebAssembly.Module`s.
 *
 * hash-wasm's own `argon2id()` instantiates a fresh module with a fresh 64 MiB memory on every
 * call and leaves the old ones to the garbage collector, so memory piles up when many salts are
 * derived. This engine grows one memory once, reuses it for every derivation, and zeroes it
 * after each one, which keeps the resident size bounded and leaves no key material behind.
 *
 * The orchestration (H0, the first two blocks of each lane, the final variable-length hash)
 * follows RFC 9106; the memory filling is hash-wasm's compiled `Hash_Calculate`. The engine
 * checks itself against the RFC 9106 Argon2id test vector when it is created.
 *
 * This module imports nothing: it runs wherever WebAssembly instances can be created from
 * modules, including Cloudflare Workers.
 *
 * @module
 */

/** Argon2id inputs (RFC 9106 §3.1). */
export interface Argon2Params {
  /** The password bytes (P). */
  password: Uint8Array;
  /** The salt (S). */
  salt: Uint8Array;
  /** Optional secret (K). */
  secret?: Uint8Array;
  /** Optional associated data (X). */
  associatedData?: Uint8Array;
  /** Passes over memory (t). */
  iterations: number;
  /** Memory in KiB (m). */
  memoryKiB: number;
  /** Lanes (p). */
  parallelism: number;
  /** Tag length in bytes (T). */
  hashLength: number;
}

interface Argon2Exports {
  memory: WebAssembly.Memory;
  Hash_SetMemorySize(totalBytes: number): number;
  Hash_GetBuffer(): number;
  Hash_Calculate(length: number, memoryKiB: number): void;
}

interface Blake2bExports {
  memory: WebAssembly.Memory;
  Hash_GetBuffer(): number;
  Hash_Init(bits: number): void;
  Hash_Update(length: number): void;
  Hash_Final(): void;
  Hash_Calculate(length: number, bits: number): void;
}

/** The exports each hash-wasm module must have for the engine to drive it. */
export const REQUIRED_EXPORTS = {
  argon2: ["memory", "Hash_SetMemorySize", "Hash_GetBuffer", "Hash_Calculate"],
  blake2b: ["memory", "Hash_GetBuffer", "Hash_Init", "Hash_Update", "Hash_Final", "Hash_Calculate"],
} as const;

/** The exports the engine needs that `module` lacks (none: it has the shape of `kind`). */
export function missingExports(
  module: WebAssembly.Module,
  kind: keyof typeof REQUIRED_EXPORTS,
): string[] {
  const names = new Set(WebAssembly.Module.exports(module).map((e) => e.name));
  return REQUIRED_EXPORTS[kind].filter((name) => !names.has(name));
}

/**
 * Throws a `TypeError` naming `option` when `module` lacks an export the engine needs (for
 * example the two modules were swapped, or a module from another library was passed).
 */
export function checkModuleExports(
  module: WebAssembly.Module,
  kind: keyof typeof REQUIRED_EXPORTS,
  option: string,
): void {
  const missing = missingExports(module, kind);
  if (missing.length > 0) {
    throw new TypeError(
      `${option} is not hash-wasm's ${kind} module: it lacks the export(s) ${missing.join(", ")}`,
    );
  }
}

const ARGON2_VERSION = 0x13;
const ARGON2ID_TYPE = 2;
const BLOCK = 1024;
/** hash-wasm's BLAKE2b input buffer (its MAX_HEAP). */
const BLAKE_BUFFER = 16 * 1024;

/**
 * Capacity of the throwaway engines of {@link Argon2Engine.verify}. hash-wasm's Argon2 starts
 * with 512 KiB of blocks, and its `Hash_SetMemorySize` fails for a total below that (an unsigned
 * subtraction wraps), so the smallest capacity that works is 511 KiB plus the parameter block.
 */
const VERIFY_CAPACITY_KIB = 1024;

/** RFC 9106 §5.3, the Argon2id test vector. */
const SELF_TEST = {
  params: {
    password: new Uint8Array(32).fill(0x01),
    salt: new Uint8Array(16).fill(0x02),
    secret: new Uint8Array(8).fill(0x03),
    associatedData: new Uint8Array(12).fill(0x04),
    iterations: 3,
    memoryKiB: 32,
    parallelism: 4,
    hashLength: 32,
  },
  tag: "0d640df58d78766c08c037a34a8b53c9d01ef0452d75b65eb52520e96b01e659",
};

/** BLAKE2b through hash-wasm's module; results are views valid until the next call. */
class Blake2b {
  readonly #exports: Blake2bExports;
  readonly #buffer: Uint8Array;
  readonly #pristine: Uint8Array;
  readonly #word = new Uint8Array(4);

  constructor(instance: WebAssembly.Instance) {
    this.#exports = instance.exports as unknown as Blake2bExports;
    const memory = this.#exports.memory;
    this.#buffer = new Uint8Array(memory.buffer, this.#exports.Hash_GetBuffer(), BLAKE_BUFFER);
    this.#pristine = new Uint8Array(memory.buffer).slice();
  }

  init(outBytes: number): void {
    this.#exports.Hash_Init(outBytes * 8);
  }

  update(data: Uint8Array): void {
    for (let start = 0; start < data.length; start += BLAKE_BUFFER) {
      const chunk = data.subarray(start, start + BLAKE_BUFFER);
      this.#buffer.set(chunk);
      this.#exports.Hash_Update(chunk.length);
    }
  }

  /** Feeds a 32-bit little-endian integer. */
  updateUint32(value: number): void {
    const w = this.#word;
    w[0] = value & 0xff;
    w[1] = (value >>> 8) & 0xff;
    w[2] = (value >>> 16) & 0xff;
    w[3] = value >>> 24;
    this.update(w);
  }

  /** Feeds `LE32(data.length) || data`, Argon2's length-prefixed input. */
  updateWithLength(data: Uint8Array): void {
    this.updateUint32(data.length);
    this.update(data);
  }

  final(outBytes: number): Uint8Array {
    this.#exports.Hash_Final();
    return this.#buffer.subarray(0, outBytes);
  }

  /**
   * H' of RFC 9106 §3.3, the variable-length hash: writes `length` bytes of
   * H'(input) into `out` at `offset`.
   */
  hashPrime(out: Uint8Array, offset: number, length: number, input: Uint8Array): void {
    if (length <= 64) {
      this.init(length);
      this.updateUint32(length);
      this.update(input);
      out.set(this.final(length), offset);
      return;
    }
    this.init(64);
    this.updateUint32(length);
    this.update(input);
    const v = this.final(64); // V1 sits at the start of the buffer: the next input in place
    out.set(v.subarray(0, 32), offset);
    const r = Math.ceil(length / 32) - 2;
    for (let i = 1; i < r; i++) {
      this.#exports.Hash_Calculate(64, 512);
      out.set(v.subarray(0, 32), offset + i * 32);
    }
    const last = length - 32 * r;
    this.#exports.Hash_Calculate(64, last * 8);
    out.set(v.subarray(0, last), offset + r * 32);
  }

  /** Restores the memory as it was at instantiation: no state, input or stack left. */
  wipe(): void {
    new Uint8Array(this.#exports.memory.buffer).set(this.#pristine);
  }

  isWiped(): boolean {
    return equalBytes(new Uint8Array(this.#exports.memory.buffer), this.#pristine);
  }
}

/**
 * One Argon2 instance with its memory grown once to `capacityKiB`, and one BLAKE2b instance.
 * Not reentrant: callers run one {@link Argon2Engine.hash} at a time.
 */
export class Argon2Engine {
  readonly #argon2: Argon2Exports;
  readonly #blake: Blake2b;
  readonly #capacityKiB: number;
  /** Offset of hash-wasm's block area B in the Argon2 memory. */
  readonly #base: number;
  /** The Argon2 memory below B (statics, scratch, stack) as it was before any derivation. */
  readonly #pristineLow: Uint8Array;
  #disposed = false;

  private constructor(
    argon2: WebAssembly.Instance,
    blake: WebAssembly.Instance,
    capacityKiB: number,
  ) {
    this.#argon2 = argon2.exports as unknown as Argon2Exports;
    this.#blake = new Blake2b(blake);
    this.#capacityKiB = capacityKiB;
    this.#base = this.#argon2.Hash_GetBuffer();
    // One extra block after the lanes holds the parameters hash-wasm's fill reads.
    if (this.#argon2.Hash_SetMemorySize(capacityKiB * BLOCK + BLOCK) !== 0) {
      throw new RangeError(`could not grow WebAssembly memory to ${capacityKiB} KiB for Argon2`);
    }
    this.#pristineLow = new Uint8Array(this.#argon2.memory.buffer, 0, this.#base).slice();
  }

  /**
   * Instantiates both modules, grows the Argon2 memory to `capacityKiB` (plus one block), and
   * runs the RFC 9106 self-test.
   */
  static async create(
    argon2: WebAssembly.Module,
    blake2b: WebAssembly.Module,
    capacityKiB: number,
  ): Promise<Argon2Engine> {
    checkModuleExports(argon2, "argon2", "argon2");
    checkModuleExports(blake2b, "blake2b", "blake2b");
    const [a, b] = await Promise.all([
      WebAssembly.instantiate(argon2, {}),
      WebAssembly.instantiate(blake2b, {}),
    ]);
    const engine = new Argon2Engine(a, b, capacityKiB);
    const tag = engine.hash(SELF_TEST.params);
    const ok = toHex(tag) === SELF_TEST.tag;
    tag.fill(0);
    if (!ok) {
      engine.dispose();
      throw new Error("the Argon2 WebAssembly modules failed the RFC 9106 Argon2id self-test");
    }
    return engine;
  }

  /**
   * Whether two modules work together as hash-wasm's Argon2 and BLAKE2b: true when a small
   * throwaway engine (1 MiB, not 64) passes the RFC 9106 self-test. Never throws.
   */
  static async verify(argon2: WebAssembly.Module, blake2b: WebAssembly.Module): Promise<boolean> {
    try {
      (await Argon2Engine.create(argon2, blake2b, VERIFY_CAPACITY_KIB)).dispose();
      return true;
    } catch {
      return false;
    }
  }

  /** Computes an Argon2id (version 0x13) tag, then wipes every byte the computation touched. */
  hash(params: Argon2Params): Uint8Array<ArrayBuffer> {
    if (this.#disposed) throw new Error("the Argon2 engine was disposed");
    const { iterations, memoryKiB, parallelism, hashLength } = params;
    if (memoryKiB > this.#capacityKiB || memoryKiB < 8 * parallelism) {
      throw new RangeError(
        `Argon2 memory must be between ${8 * parallelism} and ${this.#capacityKiB} KiB`,
      );
    }
    const laneLength = Math.floor(memoryKiB / (4 * parallelism)) * 4;
    const memory = new Uint8Array(
      this.#argon2.memory.buffer,
      this.#base,
      memoryKiB * BLOCK + BLOCK,
    );
    const header = new Uint8Array(24);
    const view = new DataView(header.buffer);
    [parallelism, hashLength, memoryKiB, iterations, ARGON2_VERSION, ARGON2ID_TYPE]
      .forEach((value, i) => view.setUint32(i * 4, value, true));
    const seed = new Uint8Array(72); // H0 || LE32(block index) || LE32(lane)
    const blake = this.#blake;
    try {
      blake.init(64);
      blake.update(header);
      blake.updateWithLength(params.password);
      blake.updateWithLength(params.salt);
      blake.updateWithLength(params.secret ?? new Uint8Array(0));
      blake.updateWithLength(params.associatedData ?? new Uint8Array(0));
      seed.set(blake.final(64));
      const seedView = new DataView(seed.buffer);
      for (let lane = 0; lane < parallelism; lane++) {
        seedView.setUint32(68, lane, true);
        for (let index = 0; index < 2; index++) {
          seedView.setUint32(64, index, true);
          blake.hashPrime(memory, (lane * laneLength + index) * BLOCK, BLOCK, seed);
        }
      }
      memory.set(header, memoryKiB * BLOCK); // hash-wasm's fill reads its parameters here
      this.#argon2.Hash_Calculate(0, memoryKiB); // fills, then leaves the final block at B[0]
      const tag = new Uint8Array(hashLength);
      blake.hashPrime(tag, 0, hashLength, memory.subarray(0, BLOCK));
      return tag;
    } finally {
      seed.fill(0);
      this.#wipe(memoryKiB);
    }
  }

  /** True when nothing of any derivation is left in either instance's memory. */
  isWiped(): boolean {
    if (this.#disposed) return true;
    const all = new Uint8Array(this.#argon2.memory.buffer);
    if (!equalBytes(all.subarray(0, this.#base), this.#pristineLow)) return false;
    const words = new BigUint64Array(
      this.#argon2.memory.buffer,
      this.#base,
      (this.#capacityKiB * BLOCK + BLOCK) / 8,
    );
    for (let i = 0; i < words.length; i++) if (words[i] !== 0n) return false;
    return this.#blake.isWiped();
  }

  /** Wipes both memories; the engine cannot be used afterwards. Idempotent. */
  dispose(): void {
    if (this.#disposed) return;
    this.#wipe(this.#capacityKiB);
    this.#disposed = true;
  }

  #wipe(memoryKiB: number): void {
    const buffer = this.#argon2.memory.buffer;
    // Blocks must start at zero: hash-wasm's fill XORs into them even on the first pass.
    new Uint8Array(buffer, this.#base, memoryKiB * BLOCK + BLOCK).fill(0);
    new Uint8Array(buffer, 0, this.#base).set(this.#pristineLow);
    this.#blake.wipe();
  }
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function toHex(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}
