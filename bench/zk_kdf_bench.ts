/**
 * Cost of the ZK crypto, each figure a ratio against a baseline in the same process:
 *
 * - one uncached Argon2id derivation (a new salt every run): `deriveKeyBytes()` by default (the
 *   reused engine on the modules captured from hash-wasm), with `zkWasm` modules (the same
 *   engine), and on the fall-back (hash-wasm's `argon2id()`, when the capture finds nothing),
 *   against calling hash-wasm's `argon2id()` directly;
 * - a cached decrypt / encrypt: `ZkCodec` against bare WebCrypto AES-GCM on the same value.
 *
 * ```sh
 * deno bench --allow-read --allow-env bench/zk_kdf_bench.ts
 * ```
 */
import { argon2id } from "hash-wasm";
import { compileHashWasmModules } from "../scripts/extract_wasm.ts";
import { configureArgon2, deriveKeyBytes, ZkCodec } from "../src/zk/codec.ts";
import { decodeBase64 } from "../src/zk/base64.ts";
import { kdfStats, resetCapturedArgon2 } from "../src/zk/kdf.ts";

const modules = await compileHashWasmModules();
const passphrase = new TextEncoder().encode("bench-passphrase-16+");
const salt = () => crypto.getRandomValues(new Uint8Array(16));
const DERIVATIONS = { n: 30, warmup: 3 };

type Path = "default" | "zkWasm" | "fallback";
let current: Path | undefined;

/** Switches the process-wide Argon2 set-up only when the bench changes (not on every run). */
function use(path: Path): void {
  if (path === current) return;
  current = path;
  configureArgon2(path === "zkWasm" ? modules : null);
  resetCapturedArgon2(path === "fallback" ? () => Promise.resolve(undefined) : undefined);
}

async function derive(path: Path, expected: string): Promise<void> {
  use(path);
  (await deriveKeyBytes(passphrase, salt())).fill(0);
  if (kdfStats().lastPath !== expected) throw new Error(`${path}: ran on ${kdfStats().lastPath}`);
}

Deno.bench({
  name: "hash-wasm argon2id() directly",
  group: "argon2id, uncached",
  baseline: true,
  ...DERIVATIONS,
  async fn() {
    await argon2id({
      password: passphrase,
      salt: salt(),
      iterations: 1,
      memorySize: 65536,
      parallelism: 4,
      hashLength: 32,
      outputType: "binary",
    });
  },
});

Deno.bench({
  name: "deriveKeyBytes(), default: engine on hash-wasm's captured modules",
  group: "argon2id, uncached",
  ...DERIVATIONS,
  async fn() {
    await derive("default", "captured-engine"); // an async function: Deno.bench awaits only those
  },
});

Deno.bench({
  name: "deriveKeyBytes(), zkWasm modules: the same engine",
  group: "argon2id, uncached",
  ...DERIVATIONS,
  async fn() {
    await derive("zkWasm", "wasm-engine"); // an async function: Deno.bench awaits only those
  },
});

Deno.bench({
  name: "deriveKeyBytes(), fall-back: hash-wasm's argon2id()",
  group: "argon2id, uncached",
  ...DERIVATIONS,
  async fn() {
    await derive("fallback", "hash-wasm"); // an async function: Deno.bench awaits only those
  },
});

// Cached paths: one codec whose write key is derived before the benches start.
use("zkWasm");
const codec = new ZkCodec(passphrase);

for (const size of [64, 64 * 1024]) {
  const label = size < 1024 ? `${size} B` : `${size / 1024} KiB`;
  const plaintext = crypto.getRandomValues(new Uint8Array(size));
  const stored = await codec.encrypt(plaintext);
  const payload = decodeBase64(new TextDecoder().decode(stored.subarray(4)))!;
  const nonce = payload.slice(16, 28);
  const sealed = payload.slice(28);
  const rawKey = await deriveKeyBytes(passphrase, payload.slice(0, 16));
  const key = await crypto.subtle.importKey("raw", rawKey, "AES-GCM", false, [
    "encrypt",
    "decrypt",
  ]);
  rawKey.fill(0);

  Deno.bench({
    name: `WebCrypto AES-GCM decrypt, ${label}`,
    group: `decrypt, cached key, ${label}`,
    baseline: true,
    async fn() {
      await crypto.subtle.decrypt({ name: "AES-GCM", iv: nonce }, key, sealed);
    },
  });

  Deno.bench({
    name: `ZkCodec.decrypt(), ${label}`,
    group: `decrypt, cached key, ${label}`,
    async fn() {
      await codec.decrypt(stored);
    },
  });

  Deno.bench({
    name: `WebCrypto AES-GCM encrypt, ${label}`,
    group: `encrypt, cached key, ${label}`,
    baseline: true,
    async fn() {
      const iv = crypto.getRandomValues(new Uint8Array(12));
      await crypto.subtle.encrypt({ name: "AES-GCM", iv }, key, plaintext);
    },
  });

  Deno.bench({
    name: `ZkCodec.encrypt(), ${label}`,
    group: `encrypt, cached key, ${label}`,
    async fn() {
      await codec.encrypt(plaintext);
    },
  });
}
