/**
 * The client's own CPU cost per call, without a network: an in-process `fetch` answers at
 * once, so what remains is validation, URL and header building, deadlines and body handling.
 * `deno run bench/client_overhead.ts` prints microseconds per call; compare them with a
 * loopback round trip (about 200 µs here) to see the client's share of a real call.
 */

import { Client } from "../mod.ts";

const value = "x".repeat(1024);
const stored = new Response(value, { headers: { "content-length": "1024" } });
const answer = (_input: unknown, init?: RequestInit) =>
  Promise.resolve(init?.method === "PUT" ? new Response(null) : stored.clone());
const client = new Client("http://stash.test", { fetch: answer as typeof fetch });

async function microsPerCall(call: () => Promise<unknown>, n = 20_000): Promise<string> {
  const started = performance.now();
  for (let i = 0; i < n; i++) await call();
  return ((performance.now() - started) / n * 1000).toFixed(2);
}

for (let round = 1; round <= 3; round++) {
  const bare = await microsPerCall(() => answer(0, {}).then((r) => r.arrayBuffer()));
  const get = await microsPerCall(() => client.get("bench/key"));
  const set = await microsPerCall(() => client.set("bench/key", value));
  console.log(`round ${round}: fetch alone ${bare} µs, client.get ${get} µs, client.set ${set} µs`);
}
client.close();
