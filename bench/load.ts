/**
 * Load: 1,000 concurrent writes of distinct keys (then 1,000 concurrent reads) over one
 * `Client`, against bare `fetch` doing the same requests, on the embedded server over loopback.
 * Every value is read back and checked. Prints operations per second (median of the rounds)
 * and the client's ratio to bare fetch.
 *
 * ```sh
 * deno run -A bench/load.ts                      # 1,000 concurrent, 7 rounds (1 warm-up)
 * deno run -A bench/load.ts --ops 2000 --rounds 11
 * ```
 *
 * Both sides alternate which goes first in each round, and write to fresh keys each round.
 */
import { Client } from "../mod.ts";
import { startTestServer } from "../testing.ts";

function flag(name: string, fallback: number): number {
  const index = Deno.args.indexOf(`--${name}`);
  if (index < 0) return fallback;
  const value = Number(Deno.args[index + 1]);
  if (!Number.isInteger(value) || value < 1) {
    throw new RangeError(`--${name} must be a positive integer`);
  }
  return value;
}

const ops = flag("ops", 1000);
const rounds = flag("rounds", 7);

await using server = await startTestServer();
using client = new Client(server.url, { timeout: 60_000 });

const value = (round: number, i: number) => `round ${round} value ${i} ${"x".repeat(i % 64)}`;

async function clientWrites(prefix: string, round: number): Promise<void> {
  await Promise.all(
    Array.from({ length: ops }, (_, i) => client.set(`${prefix}/${i}`, value(round, i))),
  );
}

async function clientReads(prefix: string, round: number): Promise<void> {
  const read = await Promise.all(
    Array.from({ length: ops }, (_, i) => client.get(`${prefix}/${i}`)),
  );
  read.forEach((v, i) => {
    if (v !== value(round, i)) throw new Error(`client read ${prefix}/${i}: wrong value`);
  });
}

async function fetchWrites(prefix: string, round: number): Promise<void> {
  await Promise.all(Array.from({ length: ops }, async (_, i) => {
    const response = await fetch(`${server.url}/kv/${prefix}/${i}`, {
      method: "PUT",
      headers: { "X-Stash-Format": "text" },
      body: value(round, i),
    });
    await response.body?.cancel();
    if (response.status !== 201) throw new Error(`fetch PUT: HTTP ${response.status}`);
  }));
}

async function fetchReads(prefix: string, round: number): Promise<void> {
  await Promise.all(Array.from({ length: ops }, async (_, i) => {
    const response = await fetch(`${server.url}/kv/${prefix}/${i}`);
    const text = await response.text();
    if (response.status !== 200 || text !== value(round, i)) {
      throw new Error(`fetch GET ${prefix}/${i}: wrong answer`);
    }
  }));
}

async function timed(run: () => Promise<void>): Promise<number> {
  const started = performance.now();
  await run();
  return ops / ((performance.now() - started) / 1000);
}

const figures = {
  clientSet: [] as number[],
  fetchSet: [] as number[],
  clientGet: [] as number[],
  fetchGet: [] as number[],
};
for (let round = 0; round < rounds; round++) {
  const sides = [
    async () => {
      const prefix = `client-${round}`;
      const set = await timed(() => clientWrites(prefix, round));
      const get = await timed(() => clientReads(prefix, round));
      if (round > 0) figures.clientSet.push(set), figures.clientGet.push(get);
    },
    async () => {
      const prefix = `fetch-${round}`;
      const set = await timed(() => fetchWrites(prefix, round));
      const get = await timed(() => fetchReads(prefix, round));
      if (round > 0) figures.fetchSet.push(set), figures.fetchGet.push(get);
    },
  ];
  if (round % 2 === 1) sides.reverse();
  for (const side of sides) await side();
}
if (server.store.size !== 2 * ops * rounds) throw new Error("lost writes");

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

const rows = [
  ["set", median(figures.clientSet), median(figures.fetchSet)],
  ["get", median(figures.clientGet), median(figures.fetchGet)],
] as const;
console.log(
  `${ops} concurrent operations over one client vs bare fetch, median of ${rounds - 1} rounds ` +
    `(after 1 warm-up); every value read back and checked\n`,
);
console.log("op    client ops/s   bare fetch ops/s   client / fetch");
for (const [op, ours, bare] of rows) {
  console.log(
    `${op.padEnd(5)} ${ours.toFixed(0).padStart(12)} ${bare.toFixed(0).padStart(18)} ${
      (ours / bare).toFixed(2).padStart(16)
    }`,
  );
}
