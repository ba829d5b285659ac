/**
 * The README's walk-through, run against the embedded in-memory Stash server:
 * `deno task demo`. Exits 0 when every step behaved as described.
 *
 * @module
 */

import { Client, NotFoundError } from "../mod.ts";
import { startTestServer } from "../testing.ts";

function step(text: string) {
  console.log(`• ${text}`);
}

await using server = await startTestServer();
console.log(`embedded Stash server at ${server.url}\n`);

{
  using client = new Client(server.url, { timeout: 5_000 });
  await client.ping();
  step("ping: pong");

  const { created } = await client.set("app/greeting", "hello");
  step(`set app/greeting (created: ${created}) → get: ${await client.get("app/greeting")}`);

  await client.set("app/config.yaml", "debug: true\n", { format: "yaml" });
  await client.setJSON("app/flags", { beta: true });
  const flags = await client.getJSON<{ beta: boolean }>("app/flags");
  step(`setJSON/getJSON app/flags → beta = ${flags.beta}`);

  step(`getOrDefault app/log-level → ${await client.getOrDefault("app/log-level", "info")}`);
  step(`has app/greeting → ${await client.has("app/greeting")}`);

  for (const item of await client.list("app/")) {
    step(`list: ${item.key} (${item.size} bytes, ${item.format})`);
  }

  // Live changes: subscribe, then write; the first event proves the stream is live.
  const changes = client.subscribePrefix("app");
  const seen = (async () => {
    for await (const change of changes) {
      step(`event: ${change.action} ${change.key} at ${change.timestamp.toISOString()}`);
      if (change.action === "delete") break;
    }
  })();
  await server.sse.waitForSubscribers(1);
  await client.set("app/greeting", "hello again");
  await client.delete("app/greeting");
  await seen;

  try {
    await client.get("app/greeting");
  } catch (error) {
    if (!(error instanceof NotFoundError)) throw error;
    step(`get after delete → NotFoundError for "${error.key}"`);
  }

  // Zero-knowledge mode: the server only ever sees the envelope.
  using secret = new Client(server.url, { zkKey: "correct horse battery staple" });
  await secret.set("app/db-password", "s3cr3t");
  const stored = new TextDecoder().decode(server.store.get("app/db-password")!.value);
  step(`zk set: the server stores ${stored.slice(0, 24)}…`);
  step(`zk get: ${await secret.get("app/db-password")}`);
}

console.log("\ndemo finished");
