/**
 * The scenario suite on Bun against the embedded server running in Bun itself
 * (`startTestServer` takes its `Bun.serve` path), so `./testing` is proven there too.
 * Run by `run.mjs` after `cli.ts`; reads the same `STASH_SCENARIO_CONFIG` (for the key prefix
 * and the interop envelopes) and prints one `@@result <json>` line per scenario.
 *
 * @module
 */

import process from "node:process";
import { startTestServer } from "../testing.ts";
import { runScenarios, type ScenarioConfig } from "./scenarios.ts";

const shared = JSON.parse(
  process.env.STASH_SCENARIO_CONFIG ?? "{}",
) as ScenarioConfig;
const token = `bun-${crypto.randomUUID()}`;
await using server = await startTestServer({
  auth: { tokens: [{ token, admin: true }] },
});
const config: ScenarioConfig = {
  ...shared,
  url: server.url,
  token,
  prefix: "rt/bun-served",
};
const results = await runScenarios(config, (result) => {
  const named = { ...result, name: `embedded server on Bun: ${result.name}` };
  console.log(`@@result ${JSON.stringify(named)}`);
});
process.exitCode = results.some((result) => result.status === "failed") ? 1 : 0;
