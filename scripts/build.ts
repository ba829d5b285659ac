/**
 * Builds the JavaScript ESM distribution of the module into `dist/` (build output: never
 * committed), for runtimes that do not run TypeScript (Node, browsers) and for bundlers
 * (Cloudflare Workers):
 *
 * ```sh
 * deno run -A scripts/build.ts
 * ```
 *
 * - `dist/mod.js`, `dist/testing.js` and their chunks: ES2022, so Node 20 runs them (`using`
 *   is down-levelled); the zero-knowledge code stays in a chunk of its own, loaded by dynamic
 *   `import()` only when a client has a `zkKey`.
 * - `dist/wasm/argon2.wasm`, `dist/wasm/blake2b.wasm`: the Argon2id WebAssembly, for runtimes
 *   that only accept precompiled modules (see `scripts/extract_wasm.ts`).
 * - `dist/sizes.json`: minified and gzipped sizes of the core (what `import { Client }` loads)
 *   and of the full module (with the zero-knowledge chunk, whose JavaScript embeds the
 *   Argon2id WebAssembly as base64).
 *
 * Deno resolves the module graph (`deno bundle`, so the import map in `deno.json` applies);
 * esbuild then lowers the syntax and measures the minified size.
 *
 * @module
 */

// A build tool, not a dependency of the module: pinned here rather than in the import map.
// deno-lint-ignore no-import-prefix
import * as esbuild from "npm:esbuild@0.28.2";
import { readHashWasmBinaries } from "./extract_wasm.ts";

/** The JavaScript language level of the build: Node 20, Chromium 120, Safari 16, workerd. */
export const TARGET = "es2022";

const root = new URL("../", import.meta.url);
const fromRoot = (path: string) => new URL(path, root).pathname;

/** Minified and gzipped byte counts of one entry point. */
export interface EntrySize {
  /** Files loaded by a static import of the entry point. */
  core: { files: string[]; minified: number; gzipped: number };
  /** The core plus every chunk it loads with a dynamic `import()`. */
  full: { files: string[]; minified: number; gzipped: number };
}

async function main(): Promise<void> {
  const dist = fromRoot("dist");
  const staging = fromRoot("dist/.bundle");
  await Deno.remove(dist, { recursive: true }).catch((error) => {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  });

  const entries = ["mod.ts", "testing.ts"].filter((path) => exists(fromRoot(path)));
  await denoBundle(entries, staging);
  const stagedEntries = entries.map((path) => `${staging}/${path.replace(/\.ts$/, ".js")}`);

  const common: esbuild.BuildOptions = {
    entryPoints: stagedEntries,
    bundle: true,
    splitting: true,
    format: "esm",
    target: TARGET,
    platform: "neutral",
    absWorkingDir: fromRoot("."),
    outdir: "dist",
    chunkNames: "chunks/[name]-[hash]",
    legalComments: "none",
    logLevel: "warning",
  };
  await esbuild.build(common);
  // Sizes as an application bundling `import { Client } from "…/mod.js"` would see them: mod.ts
  // alone (no chunks shared with testing.ts), minified, the zero-knowledge code split off.
  const minified = await esbuild.build({
    ...common,
    entryPoints: [stagedEntries[0]],
    minify: true,
    write: false,
    metafile: true,
  });
  await esbuild.stop();
  await Deno.remove(staging, { recursive: true });

  const binaries = await readHashWasmBinaries();
  await Deno.mkdir(`${dist}/wasm`, { recursive: true });
  await Deno.writeFile(`${dist}/wasm/argon2.wasm`, binaries.argon2);
  await Deno.writeFile(`${dist}/wasm/blake2b.wasm`, binaries.blake2b);

  const sizes = await measure(minified, "dist", "mod.js");
  const wasm = {
    argon2: binaries.argon2.byteLength,
    blake2b: binaries.blake2b.byteLength,
  };
  await Deno.writeTextFile(
    `${dist}/sizes.json`,
    JSON.stringify({ target: TARGET, "mod.js": sizes, wasm }, null, 2) + "\n",
  );
  const kb = (n: number) => `${(n / 1024).toFixed(1)} KB`;
  console.log(`built ${entries.join(", ")} into dist/ (${TARGET})`);
  console.log(
    `core (mod.js, static imports): ${kb(sizes.core.minified)} minified, ` +
      `${kb(sizes.core.gzipped)} gzipped`,
  );
  console.log(
    `full (with the zero-knowledge chunk and its embedded WebAssembly): ` +
      `${kb(sizes.full.minified)} minified, ${kb(sizes.full.gzipped)} gzipped`,
  );
}

function exists(path: string): boolean {
  try {
    return Deno.statSync(path).isFile;
  } catch {
    return false;
  }
}

/** Bundles the entry points with Deno's own resolver, keeping dynamic imports as chunks. */
async function denoBundle(entries: string[], outdir: string): Promise<void> {
  const { success, stderr } = await new Deno.Command(Deno.execPath(), {
    args: [
      "bundle",
      "--quiet",
      "--platform=browser",
      "--code-splitting",
      `--outdir=${outdir}`,
      ...entries,
    ],
    cwd: fromRoot("."),
    stdout: "inherit",
    stderr: "piped",
  }).output();
  if (!success) {
    throw new Error(`deno bundle failed:\n${new TextDecoder().decode(stderr)}`);
  }
}

/** Sizes of an entry's static closure and of everything it can load, from esbuild's metafile. */
async function measure(
  result: esbuild.BuildResult & {
    metafile: esbuild.Metafile;
    outputFiles: esbuild.OutputFile[];
  },
  outdir: string,
  entry: string,
): Promise<EntrySize> {
  // Output files carry absolute paths, the metafile paths relative to the working directory.
  const relative = (path: string) => {
    const at = path.lastIndexOf(`${outdir}/`);
    return at === -1 ? path : path.slice(at + outdir.length + 1);
  };
  const contents = new Map(
    result.outputFiles.map((file) => [relative(file.path), file.contents]),
  );
  const outputs = new Map(
    Object.entries(result.metafile.outputs).map((
      [path, output],
    ) => [relative(path), output]),
  );
  const reach = (start: string, kinds: string[]): string[] => {
    const seen = new Set<string>();
    const visit = (file: string) => {
      if (seen.has(file)) return;
      seen.add(file);
      for (const imported of outputs.get(file)?.imports ?? []) {
        if (!imported.external && kinds.includes(imported.kind)) {
          visit(relative(imported.path));
        }
      }
    };
    visit(start);
    return [...seen].filter((file) => file.endsWith(".js"));
  };
  const total = async (files: string[]) => {
    let minified = 0;
    let gzipped = 0;
    for (const file of files) {
      const bytes = contents.get(file)!;
      minified += bytes.byteLength;
      gzipped += await gzipSize(bytes);
    }
    return { files, minified, gzipped };
  };
  return {
    core: await total(reach(entry, ["import-statement"])),
    full: await total(reach(entry, ["import-statement", "dynamic-import"])),
  };
}

async function gzipSize(bytes: Uint8Array): Promise<number> {
  const stream = new Blob([bytes as Uint8Array<ArrayBuffer>]).stream()
    .pipeThrough(new CompressionStream("gzip"));
  return (await new Response(stream).arrayBuffer()).byteLength;
}

if (import.meta.main) await main();
