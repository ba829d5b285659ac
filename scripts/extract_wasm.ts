/**
 * Build step for runtimes that cannot compile WebAssembly from bytes at run time (Cloudflare
 * Workers): copies the Argon2 and BLAKE2b WebAssembly binaries that `hash-wasm` embeds in its
 * JavaScript bundle into plain `.wasm` files, so that a bundler can import them as precompiled
 * `WebAssembly.Module`s and hand them to `configureArgon2()`.
 *
 * ```sh
 * deno run --allow-read --allow-env --allow-write=dist scripts/extract_wasm.ts [outDir]
 * ```
 *
 * `outDir` defaults to `dist/wasm`. The files are build output: never commit them.
 * Each binary is checked against the SHA-1 prefix hash-wasm records for it and validated with
 * `WebAssembly.validate` before it is written.
 *
 * @module
 */

/** The binaries taken from hash-wasm, and where they came from. */
export interface HashWasmBinaries {
  /** hash-wasm's Argon2 memory-filling module. */
  argon2: Uint8Array<ArrayBuffer>;
  /** hash-wasm's BLAKE2b module. */
  blake2b: Uint8Array<ArrayBuffer>;
  /** The hash-wasm version they were read from, or `"unknown"`. */
  version: string;
  /** The bundle file they were read from. */
  source: string;
}

const NAMES = ["argon2", "blake2b"] as const;

/**
 * Finds the installed hash-wasm bundle: first through the project's import map (Deno resolves
 * `hash-wasm` to a file in its npm cache or in `node_modules`), then in the usual cache folders.
 */
export async function locateHashWasmBundle(): Promise<string> {
  const candidates: string[] = [];
  try {
    await import("hash-wasm"); // makes Deno fetch the package into its cache if it has not yet
  } catch {
    // not resolvable from here; look in the usual places
  }
  try {
    const resolved = import.meta.resolve("hash-wasm");
    if (resolved.startsWith("file:")) {
      const bundleDir = new URL("./", resolved);
      candidates.push(new URL("index.esm.js", bundleDir).pathname, new URL(resolved).pathname);
    }
  } catch {
    // not mapped here; fall through to the caches
  }
  candidates.push("node_modules/hash-wasm/dist/index.esm.js");
  for (const root of denoCacheRoots()) {
    const dir = `${root}/npm/registry.npmjs.org/hash-wasm`;
    for (const version of await listVersions(dir)) {
      candidates.push(`${dir}/${version}/dist/index.esm.js`);
    }
  }
  for (const path of candidates) {
    try {
      if ((await Deno.stat(path)).isFile) return path;
    } catch {
      // try the next one
    }
  }
  throw new Error(
    "hash-wasm is not installed: run `deno cache mod.ts` (or `deno install`) first",
  );
}

function denoCacheRoots(): string[] {
  const roots: string[] = [];
  const env = (name: string) => Deno.env.get(name);
  const denoDir = env("DENO_DIR");
  if (denoDir) roots.push(denoDir);
  const home = env("HOME");
  if (env("XDG_CACHE_HOME")) roots.push(`${env("XDG_CACHE_HOME")}/deno`);
  if (home) roots.push(`${home}/.cache/deno`, `${home}/Library/Caches/deno`);
  if (env("LOCALAPPDATA")) roots.push(`${env("LOCALAPPDATA")}/deno`);
  return roots;
}

async function listVersions(dir: string): Promise<string[]> {
  const versions: string[] = [];
  try {
    for await (const entry of Deno.readDir(dir)) {
      if (entry.isDirectory && entry.name.startsWith("4.")) versions.push(entry.name);
    }
  } catch {
    return [];
  }
  const parts = (v: string) => v.split(".").map((n) => parseInt(n, 10) || 0);
  return versions.sort((a, b) => {
    const [x, y] = [parts(a), parts(b)];
    for (let i = 0; i < 3; i++) if (x[i] !== y[i]) return (y[i] ?? 0) - (x[i] ?? 0);
    return 0;
  });
}

/**
 * Pulls one embedded binary out of hash-wasm's bundle text. hash-wasm stores each as
 * `var name$N = "argon2"; var data$N = "<base64>"; var hash$N = "<8 hex digits>";`,
 * where the hash is the first 4 bytes of the binary's SHA-1.
 */
export async function extractEmbeddedWasm(
  bundle: string,
  name: string,
): Promise<Uint8Array<ArrayBuffer>> {
  const pattern = new RegExp(
    String
      .raw`var name(\$\w*)? = "${name}";\s*var data\1 = "([A-Za-z0-9+/=]+)";\s*var hash\1 = "([0-9a-f]{8})";`,
  );
  const match = pattern.exec(bundle);
  if (!match) throw new Error(`hash-wasm bundle has no embedded "${name}" binary`);
  const binary = base64ToBytes(match[2]);
  const sha1 = new Uint8Array(await crypto.subtle.digest("SHA-1", binary));
  const prefix = Array.from(sha1.subarray(0, 4), (b) => b.toString(16).padStart(2, "0")).join("");
  if (prefix !== match[3]) {
    throw new Error(`embedded "${name}" binary does not match its recorded hash`);
  }
  if (!WebAssembly.validate(binary)) {
    throw new Error(`embedded "${name}" binary is not valid WebAssembly`);
  }
  return binary;
}

function base64ToBytes(text: string): Uint8Array<ArrayBuffer> {
  const raw = atob(text);
  const out = new Uint8Array(raw.length);
  for (let i = 0; i < raw.length; i++) out[i] = raw.charCodeAt(i);
  return out;
}

/** Reads the Argon2 and BLAKE2b binaries from the installed hash-wasm, in memory. */
export async function readHashWasmBinaries(bundlePath?: string): Promise<HashWasmBinaries> {
  const source = bundlePath ?? await locateHashWasmBundle();
  const bundle = await Deno.readTextFile(source);
  const [argon2, blake2b] = await Promise.all(NAMES.map((n) => extractEmbeddedWasm(bundle, n)));
  let version = "unknown";
  try {
    const pkg = JSON.parse(await Deno.readTextFile(new URL("../package.json", toFileUrl(source))));
    if (typeof pkg.version === "string") version = pkg.version;
  } catch {
    // keep "unknown"
  }
  return { argon2, blake2b, version, source };
}

/**
 * Compiles the installed hash-wasm's Argon2 and BLAKE2b binaries into `WebAssembly.Module`s,
 * as a bundler's `.wasm` import would provide them. For tests and benchmarks.
 */
export async function compileHashWasmModules(): Promise<
  { argon2: WebAssembly.Module; blake2b: WebAssembly.Module }
> {
  const { argon2, blake2b } = await readHashWasmBinaries();
  const [a, b] = await Promise.all([WebAssembly.compile(argon2), WebAssembly.compile(blake2b)]);
  return { argon2: a, blake2b: b };
}

function toFileUrl(path: string): URL {
  return path.startsWith("/") ? new URL(`file://${path}`) : new URL(path, `file://${Deno.cwd()}/`);
}

if (import.meta.main) {
  const outDir = Deno.args[0] ?? "dist/wasm";
  const binaries = await readHashWasmBinaries();
  await Deno.mkdir(outDir, { recursive: true });
  for (const name of NAMES) {
    const path = `${outDir}/${name}.wasm`;
    await Deno.writeFile(path, binaries[name]);
    console.log(
      `wrote ${path} (${binaries[name].byteLength} bytes, hash-wasm ${binaries.version})`,
    );
  }
}
