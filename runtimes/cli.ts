/**
 * Entry point for runtimes with a process: Bun runs this file from the TypeScript source, Node
 * runs `dist/runtimes/node.mjs`, built from it by `run.mjs` against `dist/mod.js`.
 *
 * Reads a {@link ScenarioConfig} as JSON from the `STASH_SCENARIO_CONFIG` environment variable
 * and prints one `@@result <json>` line per scenario. Exits with 1 when a scenario failed.
 *
 * @module
 */

import process from "node:process";
import { runScenarios, type ScenarioConfig } from "./scenarios.ts";

const json = process.env.STASH_SCENARIO_CONFIG;
if (!json) {
  console.error(
    "STASH_SCENARIO_CONFIG is not set: run the suite with `node runtimes/run.mjs`",
  );
  process.exit(2);
}
const config = JSON.parse(json) as ScenarioConfig;
const results = await runScenarios(config, (result) => {
  console.log(`@@result ${JSON.stringify(result)}`);
});
process.exitCode = results.some((result) => result.status === "failed") ? 1 : 0;
