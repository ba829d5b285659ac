/**
 * A second Worker, in an isolate of its own, whose clients get no precompiled WebAssembly:
 * workerd refuses to compile Argon2id from bytes, and the client must say what to do instead.
 * Answers a `POST` of a {@link ScenarioConfig} with the results as JSON, like `worker.ts`.
 *
 * @module
 */

import { runScenarios, type ScenarioConfig, zkWithoutWasmScenario } from "../scenarios.ts";

export default {
  async fetch(request: Request): Promise<Response> {
    const config = await request.json() as ScenarioConfig;
    return Response.json(
      await runScenarios(config, undefined, [zkWithoutWasmScenario]),
    );
  },
};
