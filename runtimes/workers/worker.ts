/**
 * The scenario suite as a Cloudflare Worker: a `POST` with a {@link ScenarioConfig} as its JSON
 * body runs every scenario inside the request handler and answers with the results as JSON.
 * `index.js` builds the Worker with the precompiled Argon2id modules.
 *
 * @module
 */

import type { ZkWasmModules } from "../../mod.ts";
import { runScenarios, type ScenarioConfig } from "../scenarios.ts";

/** A module Worker that runs the suite with the given precompiled WebAssembly. */
export function scenarioWorker(zkWasm: ZkWasmModules): {
  fetch(request: Request): Promise<Response>;
} {
  return {
    async fetch(request) {
      if (request.method !== "POST") {
        return new Response("POST a scenario config", { status: 405 });
      }
      const config = await request.json() as ScenarioConfig;
      return Response.json(await runScenarios({ ...config, zkWasm }));
    },
  };
}
