/**
 * The client's overhead over bare `fetch`, against the embedded server over loopback, in one
 * process: `deno bench --allow-net --allow-read --allow-env bench/client_bench.ts`.
 * The baseline makes the same request with the same kind of timeout signal and reads the whole
 * body. Goal: the client costs at most 1.10× the baseline.
 */

import { Client } from "../mod.ts";
import { startTestServer } from "../testing.ts";

const server = await startTestServer();
const client = new Client(server.url);
const value = "x".repeat(1024);
await client.set("bench/key", value);
const url = `${server.url}/kv/bench/key`;

Deno.bench("fetch GET", { group: "get", baseline: true, warmup: 500, n: 5000 }, async () => {
  const response = await fetch(url, { signal: AbortSignal.timeout(30_000) });
  if (response.status !== 200) throw new Error(`status ${response.status}`);
  await response.arrayBuffer();
});

Deno.bench("client.get", { group: "get", warmup: 500, n: 5000 }, async () => {
  await client.get("bench/key");
});

Deno.bench("fetch PUT", { group: "set", baseline: true, warmup: 500, n: 5000 }, async () => {
  const response = await fetch(url, {
    method: "PUT",
    body: value,
    headers: { "X-Stash-Format": "text" },
    signal: AbortSignal.timeout(30_000),
  });
  if (response.status !== 200) throw new Error(`status ${response.status}`);
  await response.arrayBuffer();
});

Deno.bench("client.set", { group: "set", warmup: 500, n: 5000 }, async () => {
  await client.set("bench/key", value);
});

globalThis.addEventListener("unload", () => {
  client.close();
  server.close();
});
