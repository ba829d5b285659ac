// The Worker's main module, as an application would write it: with a bundler or wrangler,
// importing a `.wasm` file yields a precompiled `WebAssembly.Module` (miniflare's module type
// "CompiledWasm"), which workerd accepts where compiling WebAssembly from bytes is refused.
import argon2 from "./argon2.wasm";
import blake2b from "./blake2b.wasm";
import { scenarioWorker } from "./worker.ts";

export default scenarioWorker({ argon2, blake2b });
