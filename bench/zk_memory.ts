/**
 * Peak resident memory of 50 decrypts of values with 50 different salts (50 Argon2id
 * derivations of 64 MiB each), on four paths, each in a fresh process:
 *
 * - `hash-wasm-direct`: what the other clients do, hash-wasm's `argon2id()` per value;
 * - `codec-default`: `ZkCodec` without `zkWasm`: the one reused engine, on the modules captured
 *   from hash-wasm at the first derivation;
 * - `codec-engine`: `ZkCodec` with `zkWasm` modules, on the same engine;
 * - `codec-fallback`: `ZkCodec` without `zkWasm` where the capture finds nothing: hash-wasm's
 *   `argon2id()`, one at a time (for reference; the goal applies to `codec-default`).
 *
 * ```sh
 * deno run --allow-read --allow-env --allow-run bench/zk_memory.ts
 * ```
 *
 * The parent writes the 50 envelopes (with the engine, not measured) and hands them to each
 * child on stdin; a child prints one JSON line: baseline and peak RSS (`Deno.memoryUsage().rss`,
 * sampled every 2 ms and after every decrypt), and the time per decrypt.
 */
import { argon2id } from "hash-wasm";
import { compileHashWasmModules } from "../scripts/extract_wasm.ts";
import { configureArgon2, deriveKeyBytes, encryptWith, ZkCodec } from "../src/zk/codec.ts";
import { kdfStats, resetCapturedArgon2 } from "../src/zk/kdf.ts";
import { parseEnvelope } from "../src/zk/envelope.ts";
import { open } from "../src/zk/cipher.ts";

const MODES = ["hash-wasm-direct", "codec-default", "codec-engine", "codec-fallback"] as const;
type Mode = typeof MODES[number];
const COUNT = 50;
const PASSPHRASE = "memory-bench-passphrase";
const GOAL_MIB = 256;

interface Sample {
  text: string;
  envelope: string;
}

interface Result {
  mode: Mode;
  baselineMiB: number;
  peakMiB: number;
  msPerDecrypt: number;
  /** The path the codec's derivations took (`kdfStats().lastPath`). */
  path: string;
}

const MiB = 1024 * 1024;
const utf8 = (text: string) => new TextEncoder().encode(text);

async function makeSamples(): Promise<Sample[]> {
  configureArgon2(await compileHashWasmModules());
  const passphrase = utf8(PASSPHRASE);
  const samples: Sample[] = [];
  for (let i = 0; i < COUNT; i++) {
    const salt = crypto.getRandomValues(new Uint8Array(16));
    const nonce = crypto.getRandomValues(new Uint8Array(12));
    const key = await deriveKeyBytes(passphrase, salt);
    const text = `value number ${i}`;
    const envelope = await encryptWith(key, salt, nonce, utf8(text));
    key.fill(0);
    samples.push({ text, envelope: new TextDecoder().decode(envelope) });
  }
  configureArgon2(null);
  return samples;
}

async function runChild(mode: Mode): Promise<Result> {
  const samples = JSON.parse(await new Response(Deno.stdin.readable).text()) as Sample[];
  let decrypt: (stored: Uint8Array) => Promise<Uint8Array>;
  if (mode === "hash-wasm-direct") {
    const password = utf8(PASSPHRASE);
    decrypt = async (stored) => {
      const parsed = parseEnvelope(stored);
      if (!parsed.ok) throw new Error(parsed.defect);
      const { salt, nonce, sealed } = parsed.parts;
      const raw = await argon2id({
        password,
        salt,
        iterations: 1,
        memorySize: 65536,
        parallelism: 4,
        hashLength: 32,
        outputType: "binary",
      });
      const key = await crypto.subtle.importKey(
        "raw",
        raw as Uint8Array<ArrayBuffer>,
        "AES-GCM",
        false,
        ["decrypt"],
      );
      const plain = await open(key, nonce, sealed);
      if (!plain) throw new Error("authentication");
      return plain;
    };
  } else {
    const wasm = mode === "codec-engine" ? await compileHashWasmModules() : undefined;
    if (mode === "codec-fallback") resetCapturedArgon2(() => Promise.resolve(undefined));
    const codec = new ZkCodec(PASSPHRASE, { wasm });
    decrypt = (stored) => codec.decrypt(stored);
  }
  const baseline = Deno.memoryUsage().rss;
  let peak = baseline;
  const sample = () => {
    peak = Math.max(peak, Deno.memoryUsage().rss);
  };
  const timer = setInterval(sample, 2);
  const started = performance.now();
  for (const { text, envelope } of samples) {
    const plain = new TextDecoder().decode(await decrypt(utf8(envelope)));
    if (plain !== text) throw new Error(`${mode}: wrong plaintext`);
    sample();
  }
  const elapsed = performance.now() - started;
  clearInterval(timer);
  sample();
  return {
    mode,
    baselineMiB: Math.round(baseline / MiB),
    peakMiB: Math.round(peak / MiB),
    msPerDecrypt: Math.round(elapsed / samples.length),
    path: mode === "hash-wasm-direct" ? "-" : String(kdfStats().lastPath),
  };
}

async function runParent(): Promise<void> {
  const samples = await makeSamples();
  const config = new URL("../deno.json", import.meta.url).pathname;
  console.log(`${COUNT} decrypts, ${COUNT} distinct salts, one fresh process per path:`);
  for (const mode of MODES) {
    const child = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--quiet",
        "--allow-read",
        "--allow-env",
        "--config",
        config,
        new URL(import.meta.url).pathname,
        mode,
      ],
      stdin: "piped",
      stdout: "piped",
      stderr: "inherit",
    }).spawn();
    const writer = child.stdin.getWriter();
    await writer.write(utf8(JSON.stringify(samples)));
    await writer.close();
    const output = await child.output();
    if (!output.success) throw new Error(`${mode} failed`);
    const result = JSON.parse(new TextDecoder().decode(output.stdout)) as Result;
    const verdict = result.peakMiB < GOAL_MIB ? "under" : "OVER";
    console.log(
      `  ${mode.padEnd(18)} peak RSS ${String(result.peakMiB).padStart(5)} MiB ` +
        `(baseline ${result.baselineMiB} MiB, ${verdict} the ${GOAL_MIB} MiB goal), ` +
        `${result.msPerDecrypt} ms per decrypt` +
        (result.path === "-" ? "" : `, path ${result.path}`),
    );
  }
}

const mode = Deno.args[0];
if (mode === undefined) {
  await runParent();
} else if ((MODES as readonly string[]).includes(mode)) {
  console.log(JSON.stringify(await runChild(mode as Mode)));
} else {
  throw new Error(`unknown mode ${mode}: expected one of ${MODES.join(", ")}`);
}
