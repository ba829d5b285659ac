/**
 * The portable scenario suite: what every runtime must do with the client, written with web
 * standards only (no Deno, Node or Bun APIs), so the same file runs on Bun from the TypeScript
 * source and on Node, Chromium and Cloudflare Workers from the `dist/` build. `run.mjs` starts
 * the embedded server, hands each runtime a {@link ScenarioConfig} as JSON and prints the
 * results that come back.
 *
 * @module
 */

import {
  Client,
  ClientClosedError,
  NotFoundError,
  StashError,
  UnauthorizedError,
  type ZkWasmModules,
} from "../mod.ts";

/** One envelope written by another Stash client (`../shared/interop/zk-envelopes.json`). */
export interface InteropEnvelope {
  /** The client that wrote it. */
  writer: string;
  /** The `$ZK$...` text. */
  envelope: string;
  /** What it decrypts to. */
  plaintext: string;
}

/** What a runner hands to the suite. */
export interface ScenarioConfig {
  /** Base URL of the embedded server. */
  url: string;
  /** A token the server accepts for every key. */
  token: string;
  /** Keys the suite writes all start with this, so runtimes can share a server. */
  prefix: string;
  /** Envelopes from the other clients, when `../shared/interop/` was found. */
  interop?: { passphrase: string; envelopes: InteropEnvelope[] };
  /** Precompiled Argon2id WebAssembly, for runtimes that cannot compile it from bytes. */
  zkWasm?: ZkWasmModules;
  /** Longest time one scenario may take, in milliseconds. @default {30000} */
  scenarioTimeout?: number;
}

/** The outcome of one scenario. */
export interface ScenarioResult {
  /** What the scenario shows. */
  name: string;
  /** `skipped` comes with the reason in `detail`. */
  status: "passed" | "failed" | "skipped";
  /** Wall time in milliseconds. */
  ms: number;
  /** The failure or the reason for skipping. */
  detail?: string;
}

/** Thrown by a scenario that cannot run here; the reason is reported. */
export class Skip extends Error {}

/** One scenario: a name that says what it shows, and the code that shows it. */
export interface Scenario {
  /** What the scenario shows. */
  name: string;
  /** Throws when it does not hold, {@link Skip} when it cannot run here. */
  run(config: ScenarioConfig): Promise<void>;
}

const ZK_PASSPHRASE = "runtimes-passphrase-0123456789";

/** The suite every runtime runs. */
export const scenarios: readonly Scenario[] = [
  {
    name: "new Client() validates its options and ping() reaches the server",
    async run({ url, token }) {
      assertThrows(() => new Client("not a url"), TypeError);
      assertThrows(() => new Client(url, { timeout: -1 }), RangeError);
      using client = new Client(url, { token, timeout: 5_000 });
      assertEquals(client.closed, false);
      assertEquals(client.encrypted, false);
      await client.ping();
    },
  },
  {
    name: "set() then get() and getBytes() return the stored text and bytes",
    async run({ url, token, prefix }) {
      using client = new Client(url, { token });
      const text = `${prefix}/text`;
      assertEquals((await client.set(text, "héllo wörld ✓")).created, true);
      assertEquals(await client.get(text), "héllo wörld ✓");
      assertEquals((await client.set(text, "second")).created, false);
      assertEquals(await client.get(text), "second");

      const binary = `${prefix}/binary`;
      const bytes = Uint8Array.from({ length: 256 }, (_, i) => i);
      await client.set(binary, bytes);
      assertBytes(await client.getBytes(binary), bytes);
      assertEquals(
        await client.getOrDefault(`${prefix}/absent`, "fallback"),
        "fallback",
      );
    },
  },
  {
    name: "list() and info() report key metadata",
    async run({ url, token, prefix }) {
      using client = new Client(url, { token });
      const base = `${prefix}/list`;
      await client.set(`${base}/a`, "1234", { format: "yaml" });
      await client.set(`${base}/b`, "12");
      const items = await client.list(`${base}/`);
      assertEquals(
        items.map((item) => item.key).sort().join(","),
        `${base}/a,${base}/b`,
      );
      const info = await client.info(`${base}/a`);
      assertEquals(info.key, `${base}/a`);
      assertEquals(info.size, 4);
      assertEquals(info.format, "yaml");
      assertEquals(info.secret, false);
      assertEquals(info.zkEncrypted, false);
      assert(
        info.createdAt instanceof Date &&
          !Number.isNaN(info.createdAt.getTime()),
        "createdAt",
      );
      assert(
        info.updatedAt.getTime() >= info.createdAt.getTime(),
        "updatedAt >= createdAt",
      );
      assertEquals((await client.list(`${prefix}/nothing-here/`)).length, 0);
    },
  },
  {
    name: "has() and delete() remove a key",
    async run({ url, token, prefix }) {
      using client = new Client(url, { token });
      const key = `${prefix}/to-delete`;
      await client.set(key, "x");
      assertEquals(await client.has(key), true);
      await client.delete(key);
      assertEquals(await client.has(key), false);
      await assertRejects(() => client.delete(key), NotFoundError);
    },
  },
  {
    name: "setJSON() and getJSON() round-trip a value with format json",
    async run({ url, token, prefix }) {
      using client = new Client(url, { token });
      const key = `${prefix}/config.json`;
      const value = {
        debug: true,
        level: 3,
        tags: ["a", "ü"],
        nested: { off: null },
      };
      await client.setJSON(key, value);
      assertEquals(
        JSON.stringify(await client.getJSON(key)),
        JSON.stringify(value),
      );
      assertEquals((await client.info(key)).format, "json");
    },
  },
  {
    name: "a missing key rejects with NotFoundError carrying the key and status 404",
    async run({ url, token, prefix }) {
      using client = new Client(url, { token });
      const key = `${prefix}/missing`;
      const error = await assertRejects(() => client.get(key), NotFoundError);
      assert(error instanceof StashError, "NotFoundError extends StashError");
      assertEquals(error.key, key);
      assertEquals(error.status, 404);
    },
  },
  {
    name: "a bad token rejects with UnauthorizedError that does not reveal the token",
    async run({ url, prefix }) {
      const badToken = "not-a-valid-token-4711";
      using client = new Client(url, { token: badToken, retries: 0 });
      const error = await assertRejects(
        () => client.get(`${prefix}/text`),
        UnauthorizedError,
      );
      assertEquals(error.status, 401);
      assert(
        !String(error.message).includes(badToken),
        "the message must not hold the token",
      );
    },
  },
  {
    name: "zkKey encrypts before sending and decrypts after reading",
    async run({ url, token, prefix, zkWasm }) {
      using plain = new Client(url, { token });
      using zk = new Client(url, { token, zkKey: ZK_PASSPHRASE, zkWasm });
      assertEquals(zk.encrypted, true);
      const key = `${prefix}/zk/round-trip`;
      await zk.set(key, "top secret ✓");
      const stored = await plain.get(key);
      assert(
        stored.startsWith("$ZK$"),
        `stored value should be an envelope, got ${stored.length} chars`,
      );
      assert(
        !stored.includes("top secret"),
        "the server must not see the plaintext",
      );
      assertEquals((await plain.info(key)).zkEncrypted, true);
      assertEquals(await zk.get(key), "top secret ✓");
    },
  },
  {
    name: "zkKey decrypts envelopes of the other Stash clients, several reads at once",
    async run({ url, token, prefix, zkWasm, interop }) {
      if (!interop || interop.envelopes.length === 0) {
        throw new Skip("../shared/interop/zk-envelopes.json was not found");
      }
      // One envelope per writer (Go, Python, TypeScript, Rust), each with its own salt: the
      // concurrent reads need one 64 MiB Argon2id derivation each, which must take turns.
      const byWriter = new Map(interop.envelopes.map((e) => [e.writer, e]));
      using plain = new Client(url, { token });
      using zk = new Client(url, { token, zkKey: interop.passphrase, zkWasm });
      await Promise.all(
        [...byWriter.values()].map(async ({ writer, envelope, plaintext }) => {
          const key = `${prefix}/zk/from-${writer}`;
          await plain.set(key, envelope);
          assertEquals(await zk.get(key), plaintext);
        }),
      );
    },
  },
  {
    name: "subscribe() delivers the change event of a set()",
    async run({ url, token, prefix }) {
      using client = new Client(url, { token });
      const key = `${prefix}/watched`;
      using subscription = client.subscribe(key);
      const events = subscription[Symbol.asyncIterator]();
      const first = events.next();
      // Stash sends no headers before the first event, so "connected" cannot be observed:
      // write until the subscription sees a write, then check what it saw.
      let settled = false;
      first.then(() => settled = true, () => settled = true);
      for (let attempt = 0; attempt < 50 && !settled; attempt++) {
        await client.set(key, `v${attempt}`);
        await Promise.race([first.catch(() => {}), sleep(100)]);
      }
      const result = await first;
      assert(!result.done, "the subscription ended without an event");
      assertEquals(result.value.key, key);
      assert(
        ["create", "update"].includes(result.value.action),
        `action ${result.value.action}`,
      );
      assert(result.value.timestamp instanceof Date, "the timestamp is a Date");
      await events.return?.();
      assertEquals(subscription.closed, true);
    },
  },
  {
    name: "close() is idempotent and later calls reject with ClientClosedError",
    async run({ url, token, prefix }) {
      const client = new Client(url, { token });
      await client.set(`${prefix}/before-close`, "x");
      client.close();
      client.close();
      assertEquals(client.closed, true);
      const error = await assertRejects(
        () => client.get(`${prefix}/before-close`),
        ClientClosedError,
      );
      assert(
        error instanceof StashError,
        "ClientClosedError extends StashError",
      );
      const disposable = new Client(url, { token });
      disposable[Symbol.dispose]();
      assertEquals(disposable.closed, true);
    },
  },
];

/**
 * For a runtime that refuses to compile WebAssembly from bytes (workerd), run in an isolate
 * where no client was given `zkWasm`: the failure must say what to do.
 */
export const zkWithoutWasmScenario: Scenario = {
  name: "without zkWasm, zkKey fails with a StashError that names the zkWasm option",
  async run({ url, token, prefix }) {
    using zk = new Client(url, { token, zkKey: ZK_PASSPHRASE });
    const error = await assertRejects(
      () => zk.set(`${prefix}/zk/no-wasm`, "x"),
      StashError,
    );
    assert(
      error.message.includes("zkWasm"),
      `the message should name zkWasm: ${error.message}`,
    );
  },
};

/**
 * Runs the scenarios (by default the whole suite) in order; `onResult` sees each result as
 * soon as it is known.
 */
export async function runScenarios(
  config: ScenarioConfig,
  onResult: (result: ScenarioResult) => void = () => {},
  only: readonly Scenario[] = scenarios,
): Promise<ScenarioResult[]> {
  const results: ScenarioResult[] = [];
  for (const scenario of only) {
    const started = Date.now();
    let result: ScenarioResult;
    try {
      await withTimeout(scenario.run(config), config.scenarioTimeout ?? 30_000);
      result = {
        name: scenario.name,
        status: "passed",
        ms: Date.now() - started,
      };
    } catch (error) {
      result = error instanceof Skip
        ? {
          name: scenario.name,
          status: "skipped",
          ms: 0,
          detail: error.message,
        }
        : {
          name: scenario.name,
          status: "failed",
          ms: Date.now() - started,
          detail: describe(error),
        };
    }
    results.push(result);
    onResult(result);
  }
  return results;
}

function describe(error: unknown): string {
  if (error instanceof Error) {
    const cause = error.cause instanceof Error ? ` (cause: ${error.cause.message})` : "";
    return `${error.name}: ${error.message}${cause}`;
  }
  return String(error);
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`scenario timed out after ${ms} ms`)),
      ms,
    );
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function assert(condition: unknown, message: string): asserts condition {
  if (!condition) throw new Error(`assertion failed: ${message}`);
}

function assertEquals<T>(actual: T, expected: T): void {
  if (!Object.is(actual, expected)) {
    throw new Error(
      `expected ${JSON.stringify(expected)}, got ${JSON.stringify(actual)}`,
    );
  }
}

function assertBytes(actual: Uint8Array, expected: Uint8Array): void {
  assert(actual instanceof Uint8Array, "a Uint8Array");
  assertEquals(actual.length, expected.length);
  const at = actual.findIndex((byte, i) => byte !== expected[i]);
  assert(at === -1, `bytes differ at index ${at}`);
}

function assertThrows(
  fn: () => unknown,
  type: new (...args: never[]) => Error,
): void {
  try {
    fn();
  } catch (error) {
    if (error instanceof type) return;
    throw new Error(`expected ${type.name}, got ${describe(error)}`);
  }
  throw new Error(`expected ${type.name}, nothing was thrown`);
}

async function assertRejects<E extends Error>(
  fn: () => Promise<unknown>,
  type: new (...args: never[]) => E,
): Promise<E> {
  try {
    await fn();
  } catch (error) {
    if (error instanceof type) return error;
    throw new Error(`expected ${type.name}, got ${describe(error)}`);
  }
  throw new Error(`expected ${type.name}, the call resolved`);
}
