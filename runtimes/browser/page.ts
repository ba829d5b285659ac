/**
 * The scenario suite in a browser page: fetches its {@link ScenarioConfig} from the page's own
 * origin, runs every scenario against the embedded server (another origin, so CORS applies) and
 * logs one `@@result <json>` line per scenario, then `@@done`, for the driver to read.
 *
 * @module
 */

import { runScenarios, type ScenarioConfig } from "../scenarios.ts";

try {
  const config = await (await fetch("/config.json")).json() as ScenarioConfig;
  await runScenarios(
    config,
    (result) => console.log(`@@result ${JSON.stringify(result)}`),
  );
} catch (error) {
  console.log(
    `@@error ${error instanceof Error ? error.stack ?? error.message : String(error)}`,
  );
} finally {
  console.log("@@done");
}
