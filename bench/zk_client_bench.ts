/**
 * Zero-knowledge `get` and `set` through the client, against the embedded server over loopback,
 * each figure a ratio against a baseline run in the same process:
 *
 * - (a) cached ZK `get` / `set` against the same operation without `zkKey` on the same stored
 *   bytes plus one bare WebCrypto AES-GCM operation on the same value. Goal: at most 1.1×, so a
 *   cached key costs nothing beyond the cipher. The plain client moves the very same envelope
 *   over the wire, so the difference is the client's own ZK work (base64, envelope, key lookup).
 * - (b) cached ZK `get` against reading as the other Stash clients do, deriving the key with a
 *   full 64 MiB Argon2id for every value: a plain `get`, hash-wasm's `argon2id()`, import, and
 *   AES-GCM decrypt; and a fresh `Client` with `zkKey` per read (its cache starts empty).
 *   Goal: the cached read at least 100× faster.
 *
 * Keys are derived before any bench runs (the client's own write salt, and the salt of a value
 * written by another client), so the cached cases never derive.
 *
 * ```sh
 * deno bench -A bench/zk_client_bench.ts
 * ```
 */
import { argon2id } from "hash-wasm";
import { Client } from "../mod.ts";
import { startTestServer } from "../testing.ts";
import { deriveKeyBytes } from "../src/zk/codec.ts";

const PASSPHRASE = "bench-passphrase-16+";
const DERIVING = { n: 12, warmup: 2 }; // each run costs a 64 MiB Argon2id (~0.1-0.5 s)
// Loopback HTTP on a busy machine is noisy: many samples keep the averages comparable.
const OVER_HTTP = { n: 2_000, warmup: 200 };

const server = await startTestServer();
const plain = new Client(server.url);
const zk = new Client(server.url, { zkKey: PASSPHRASE });
const encoder = new TextEncoder();

/** Printable ASCII text of `size` bytes. */
function text(size: number): string {
  const letters = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 ";
  return Array.from(crypto.getRandomValues(new Uint8Array(size)), (b) => letters[b % 63]).join("");
}

function stored(key: string): Uint8Array<ArrayBuffer> {
  const entry = server.store.get(key);
  if (!entry) throw new Error(`no stored value for ${key}`);
  return entry.value;
}

/** Salt, nonce and ciphertext-with-tag of a stored envelope. */
function envelopeParts(envelope: Uint8Array) {
  const payload = Uint8Array.from(
    atob(new TextDecoder().decode(envelope.subarray(4))),
    (c) => c.charCodeAt(0),
  );
  return { salt: payload.slice(0, 16), nonce: payload.slice(16, 28), sealed: payload.slice(28) };
}

async function aesKey(salt: Uint8Array): Promise<CryptoKey> {
  const raw = await deriveKeyBytes(encoder.encode(PASSPHRASE), salt);
  const key = await crypto.subtle.importKey("raw", raw, "AES-GCM", false, ["encrypt", "decrypt"]);
  raw.fill(0);
  return key;
}

function expect(actual: string, expected: string): void {
  if (actual !== expected) throw new Error("the bench read back a different value");
}

// (a) cached key vs no zkKey + one AES-GCM operation
for (const size of [1024, 64 * 1024]) {
  const label = `${size / 1024} KiB`;
  const value = text(size);
  const valueBytes = encoder.encode(value);
  const getKey = `bench/zk/get-${label}`;
  const setKey = `bench/zk/set-${label}`;
  const foreignKey = `bench/zk/foreign-${label}`;

  // Derives this client's write key once; later writes and reads of its own values reuse it.
  await zk.set(getKey, value);
  expect(await zk.get(getKey), value);
  // A value from another client (another write salt): the first read derives and caches its key.
  using other = new Client(server.url, { zkKey: PASSPHRASE });
  await other.set(foreignKey, value);
  expect(await zk.get(foreignKey), value);

  const envelope = stored(getKey);
  const { salt, nonce, sealed } = envelopeParts(envelope);
  const key = await aesKey(salt);
  await zk.set(setKey, value);

  Deno.bench({
    name: `no zkKey get (same envelope) + AES-GCM decrypt, ${label}`,
    group: `(a) get ${label}`,
    baseline: true,
    ...OVER_HTTP,
    async fn() {
      await plain.get(getKey);
      await crypto.subtle.decrypt({ name: "AES-GCM", iv: nonce }, key, sealed);
    },
  });

  Deno.bench({
    name: `zk get, own write salt (cached), ${label}`,
    group: `(a) get ${label}`,
    ...OVER_HTTP,
    async fn() {
      await zk.get(getKey);
    },
  });

  Deno.bench({
    name: `zk get, another client's salt (cached), ${label}`,
    group: `(a) get ${label}`,
    ...OVER_HTTP,
    async fn() {
      await zk.get(foreignKey);
    },
  });

  Deno.bench({
    name: `no zkKey set (same-size envelope) + AES-GCM encrypt, ${label}`,
    group: `(a) set ${label}`,
    baseline: true,
    ...OVER_HTTP,
    async fn() {
      const iv = crypto.getRandomValues(new Uint8Array(12));
      await crypto.subtle.encrypt({ name: "AES-GCM", iv }, key, valueBytes);
      await plain.set(setKey, envelope);
    },
  });

  Deno.bench({
    name: `zk set (cached), ${label}`,
    group: `(a) set ${label}`,
    ...OVER_HTTP,
    async fn() {
      await zk.set(setKey, value);
    },
  });
}

// (b) cached key vs a key derived for every value, as the other clients do
{
  const value = text(1024);
  const key = "bench/zk/derive-1 KiB";
  await zk.set(key, value);
  expect(await zk.get(key), value);
  const passphrase = encoder.encode(PASSPHRASE);

  Deno.bench({
    name: "zk get (cached), 1 KiB",
    group: "(b) get 1 KiB, cached vs derived per value",
    baseline: true,
    ...OVER_HTTP,
    async fn() {
      await zk.get(key);
    },
  });

  Deno.bench({
    name: "no zkKey get + hash-wasm argon2id() + import + AES-GCM decrypt (other clients)",
    group: "(b) get 1 KiB, cached vs derived per value",
    ...DERIVING,
    async fn() {
      const { salt, nonce, sealed } = envelopeParts(await plain.getBytes(key));
      const raw = await argon2id({
        password: passphrase,
        salt,
        iterations: 1,
        memorySize: 65536,
        parallelism: 4,
        hashLength: 32,
        outputType: "binary",
      });
      const aes = await crypto.subtle.importKey("raw", new Uint8Array(raw), "AES-GCM", false, [
        "decrypt",
      ]);
      raw.fill(0);
      const plaintext = await crypto.subtle.decrypt({ name: "AES-GCM", iv: nonce }, aes, sealed);
      expect(new TextDecoder().decode(plaintext), value);
    },
  });

  Deno.bench({
    name: "fresh Client with zkKey per get (derives once per client)",
    group: "(b) get 1 KiB, cached vs derived per value",
    ...DERIVING,
    async fn() {
      using fresh = new Client(server.url, { zkKey: PASSPHRASE });
      await fresh.get(key);
    },
  });
}

globalThis.addEventListener("unload", () => {
  zk.close();
  plain.close();
  server.close();
});
