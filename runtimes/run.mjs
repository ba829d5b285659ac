// Runs the portable scenario suite (scenarios.ts) on every runtime, each against a fresh
// embedded server, and prints per runtime the closing line `<runtime>: N passed, M failed,
// K skipped`; exits non-zero when any scenario failed or a runtime did not finish.
//
//   node runtimes/run.mjs [--no-build] [bun] [node] [workers] [chromium]
//
// Needs `npm ci` in runtimes/ (bun, esbuild, miniflare, playwright-core), Deno on PATH (the
// embedded server and scripts/build.ts) and Chromium at /usr/bin/chromium (or CHROMIUM_PATH).

import { spawn } from "node:child_process";
import { copyFile, mkdtemp, readFile, rm } from "node:fs/promises";
import { existsSync } from "node:fs";
import { createServer } from "node:http";
import { tmpdir } from "node:os";
import { dirname, extname, join, relative, resolve, sep } from "node:path";
import process from "node:process";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import * as esbuild from "esbuild";

const here = dirname(fileURLToPath(import.meta.url));
const repo = resolve(here, "..");
const dist = join(repo, "dist");
const harness = join(dist, "runtimes");
const bin = (name) => join(here, "node_modules", ".bin", name);

const RUNTIMES = {
  bun: runBun,
  node: runNode,
  workers: runWorkers,
  chromium: runChromium,
};
/** Longest a runtime may take, from its server's start to its last result. */
const RUNTIME_TIMEOUT_MS = 180_000;

async function main() {
  const args = process.argv.slice(2);
  const skipBuild = args.includes("--no-build");
  const chosen = args.filter((arg) => !arg.startsWith("--"));
  for (const name of chosen) {
    if (!(name in RUNTIMES)) {
      throw new Error(`unknown runtime "${name}": ${Object.keys(RUNTIMES)}`);
    }
  }
  const names = chosen.length > 0 ? chosen : Object.keys(RUNTIMES);
  const started = Date.now();

  if (!skipBuild) {
    await exec("deno", ["run", "-A", "scripts/build.ts"], { cwd: repo });
  }
  await buildHarness();
  const interop = await readInterop();
  if (!interop) {
    console.log(
      "note: ../shared/interop not found, the interop scenario is skipped",
    );
  }

  const summaries = [];
  for (const name of names) {
    const runtimeStarted = Date.now();
    const results = [];
    const report = (result) => {
      results.push(result);
      console.log(formatResult(name, result));
    };
    try {
      await withServer(async (server) => {
        const config = { ...server, prefix: `rt/${name}`, interop };
        const signal = AbortSignal.timeout(RUNTIME_TIMEOUT_MS);
        await RUNTIMES[name](config, report, signal);
      });
    } catch (error) {
      report({
        name: "the runtime ran the suite to its end",
        status: "failed",
        ms: 0,
        detail: describe(error),
      });
    }
    const seconds = ((Date.now() - runtimeStarted) / 1000).toFixed(1);
    const summary = summarize(name, results);
    console.log(`${summary} (${seconds} s)`);
    summaries.push({ summary, results });
  }

  console.log(
    `\nruntimes matrix done in ${((Date.now() - started) / 1000).toFixed(1)} s`,
  );
  for (const { summary } of summaries) console.log(summary);
  const all = summaries.flatMap(({ results }) => results);
  console.log(summarize("runtimes", all));
  return all.some((result) => result.status === "failed") ? 1 : 0;
}

// ---------------------------------------------------------------------------------------------
// Runtimes. Each gets a scenario config ({ url, token, prefix, interop }), calls `report` with
// every result, and gives up when `signal` aborts (the runtime's time is over).

async function runBun(config, report, signal) {
  const version = await capture(bin("bun"), ["--version"]);
  console.log(
    `bun ${version.trim()}: runtimes/cli.ts from the TypeScript source`,
  );
  // The source imports "hash-wasm" by its bare name; Bun finds it through NODE_PATH.
  const env = { NODE_PATH: join(here, "node_modules") };
  await runProcess(
    bin("bun"),
    [join(here, "cli.ts")],
    config,
    report,
    signal,
    env,
  );
  // Then again against the embedded server running in Bun (startTestServer's Bun.serve path).
  await runProcess(
    bin("bun"),
    [join(here, "bun_server.ts")],
    config,
    report,
    signal,
    env,
  );
}

async function runNode(config, report, signal) {
  console.log(
    `node ${process.version}: dist/runtimes/node.mjs against dist/mod.js`,
  );
  await runProcess(
    process.execPath,
    [join(harness, "node.mjs")],
    config,
    report,
    signal,
    {},
  );
}

async function runWorkers(config, report, signal) {
  const { Miniflare } = await import("miniflare");
  const workerDir = join(harness, "workers");
  const compatibilityDate = "2025-09-01";
  const mf = new Miniflare({
    workers: [
      {
        name: "scenarios",
        modulesRoot: workerDir,
        modules: [
          { type: "ESModule", path: join(workerDir, "worker.js") },
          { type: "CompiledWasm", path: join(workerDir, "argon2.wasm") },
          { type: "CompiledWasm", path: join(workerDir, "blake2b.wasm") },
        ],
        compatibilityDate,
      },
      {
        name: "no-wasm",
        modulesRoot: workerDir,
        modules: [{ type: "ESModule", path: join(workerDir, "no_wasm.js") }],
        compatibilityDate,
      },
    ],
  });
  try {
    await mf.ready;
    console.log(
      `${(await capture(bin("workerd"), ["--version"])).trim()} via miniflare`,
    );
    for (const name of ["scenarios", "no-wasm"]) {
      const worker = await mf.getWorker(name);
      const request = { method: "POST", body: JSON.stringify(config) };
      const response = await untilAborted(
        worker.fetch("http://worker.local/", request),
        signal,
      );
      if (!response.ok) {
        throw new Error(
          `Worker "${name}" answered ${response.status}: ${await response
            .text()}`,
        );
      }
      for (const result of await untilAborted(response.json(), signal)) {
        report(result);
      }
    }
  } finally {
    await mf.dispose();
  }
}

async function runChromium(config, report, signal) {
  const { chromium } = await import("playwright-core");
  const executablePath = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
  if (!existsSync(executablePath)) {
    throw new Error(
      `no Chromium at ${executablePath}: apt-get install chromium, or set CHROMIUM_PATH`,
    );
  }
  const pages = await serveStatic(config);
  const profile = await mkdtemp(join(tmpdir(), "stash-chromium-"));
  let context;
  try {
    context = await chromium.launchPersistentContext(profile, {
      executablePath,
      headless: true,
      args: [
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
      ],
    });
    console.log(
      `chromium ${context.browser()?.version() ?? ""}: dist/runtimes/browser.js from ${pages.url}`,
    );
    const page = context.pages()[0] ?? await context.newPage();
    const done = new Promise((resolveDone, rejectDone) => {
      page.on("console", (message) => {
        const text = message.text();
        if (text.startsWith("@@result ")) report(JSON.parse(text.slice(9)));
        else if (text.startsWith("@@error ")) {
          rejectDone(new Error(text.slice(8)));
        } else if (text === "@@done") resolveDone();
      });
      page.on("pageerror", (error) => rejectDone(error));
    });
    done.catch(() => {}); // awaited below, after the page is opened
    await page.goto(pages.url);
    await untilAborted(done, signal);
  } finally {
    await context?.close();
    pages.close();
    await rm(profile, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------------------------------------
// Plumbing.

/** Builds the per-runtime entry points into dist/runtimes/, all against dist/mod.js. */
async function buildHarness() {
  await rm(harness, { recursive: true, force: true });
  const common = {
    bundle: true,
    format: "esm",
    logLevel: "warning",
    legalComments: "none",
  };
  // Node and the browser load the library as users do: dist/mod.js stays a separate module.
  await esbuild.build({
    ...common,
    entryPoints: [join(here, "cli.ts")],
    outfile: join(harness, "node.mjs"),
    platform: "node",
    target: "node20",
    plugins: [libraryFromDist({ external: true })],
  });
  await esbuild.build({
    ...common,
    entryPoints: [join(here, "browser", "page.ts")],
    outfile: join(harness, "browser.js"),
    platform: "browser",
    target: "es2022",
    plugins: [libraryFromDist({ external: true })],
  });
  // A Worker is one script: dist/mod.js is bundled in, the WebAssembly imported precompiled.
  const workerDir = join(harness, "workers");
  await esbuild.build({
    ...common,
    entryPoints: {
      worker: join(here, "workers", "index.js"),
      no_wasm: join(here, "workers", "no_wasm.ts"),
    },
    outdir: workerDir,
    platform: "browser",
    conditions: ["workerd", "worker", "browser"],
    target: "es2022",
    external: ["*.wasm"],
    plugins: [libraryFromDist({ external: false })],
  });
  for (const name of ["argon2.wasm", "blake2b.wasm"]) {
    await copyFile(join(dist, "wasm", name), join(workerDir, name));
  }
}

/** Points the suite's imports of ../mod.ts at the built dist/mod.js. */
function libraryFromDist({ external }) {
  const source = join(repo, "mod.ts");
  const built = join(dist, "mod.js");
  return {
    name: "library-from-dist",
    setup(build) {
      build.onResolve({ filter: /mod\.ts$/ }, (args) => {
        if (resolve(args.resolveDir, args.path) !== source) return undefined;
        if (!existsSync(built)) {
          throw new Error("dist/mod.js is missing: run scripts/build.ts");
        }
        if (!external) return { path: built };
        const { outdir, outfile } = build.initialOptions;
        const outDir = outdir ?? dirname(outfile);
        return {
          path: relative(outDir, built).split(sep).join("/"),
          external: true,
        };
      });
    },
  };
}

async function readInterop() {
  const dir = process.env.STASH_INTEROP_DIR ??
    resolve(repo, "..", "shared", "interop");
  try {
    const data = JSON.parse(
      await readFile(join(dir, "zk-envelopes.json"), "utf8"),
    );
    return { passphrase: data.passphrase, envelopes: data.envelopes };
  } catch (error) {
    if (error.code === "ENOENT") return undefined;
    throw error;
  }
}

/** Starts runtimes/server.ts (Deno) and hands `{ url, token }` to `fn`, then stops it. */
async function withServer(fn) {
  const child = spawn(
    "deno",
    [
      "run",
      "--unstable-no-legacy-abort",
      "--allow-net=127.0.0.1",
      "--allow-env",
      join(here, "server.ts"),
    ],
    { cwd: repo, stdio: ["pipe", "pipe", "inherit"] },
  );
  const exited = new Promise((resolveExit) => child.once("exit", resolveExit));
  try {
    const lines = createInterface({ input: child.stdout })
      [Symbol.asyncIterator]();
    const first = await withTimeout(
      lines.next(),
      60_000,
      "the embedded server's start",
    );
    if (first.done) {
      throw new Error("the embedded server exited before printing its address");
    }
    const server = JSON.parse(first.value);
    await fn(server);
  } finally {
    child.stdin.end();
    const timer = setTimeout(() => child.kill("SIGKILL"), 5_000);
    await exited;
    clearTimeout(timer);
  }
}

/** Runs a scenario process, reads its `@@result` lines, and fails when it exits abnormally. */
async function runProcess(command, args, config, report, signal, env) {
  const child = spawn(command, args, {
    cwd: repo,
    signal,
    killSignal: "SIGKILL",
    env: {
      ...process.env,
      ...env,
      STASH_SCENARIO_CONFIG: JSON.stringify(config),
    },
    stdio: ["ignore", "pipe", "inherit"],
  });
  const exited = new Promise((resolveExit, rejectExit) => {
    child.once("error", rejectExit);
    child.once("exit", (code, signal) => resolveExit({ code, signal }));
  });
  exited.catch(() => {}); // awaited below, after the output is read
  for await (const line of createInterface({ input: child.stdout })) {
    if (line.startsWith("@@result ")) report(JSON.parse(line.slice(9)));
    else console.log(line);
  }
  const exit = await exited;
  signal.throwIfAborted();
  if (exit.code !== 0 && exit.code !== 1) {
    throw new Error(`${command} exited with ${exit.signal ?? exit.code}`);
  }
}

/** Serves dist/ and the page on loopback: another origin than the embedded server. */
async function serveStatic(config) {
  const types = {
    ".js": "text/javascript",
    ".mjs": "text/javascript",
    ".json": "application/json",
  };
  const page = '<!doctype html><meta charset="utf-8"><title>stash scenarios</title>' +
    '<script type="module" src="/runtimes/browser.js"></script>';
  const server = createServer(async (request, response) => {
    const path = new URL(request.url, "http://x").pathname;
    if (path === "/") {
      return response.writeHead(200, { "content-type": "text/html" }).end(page);
    }
    if (path === "/config.json") {
      return response.writeHead(200, { "content-type": types[".json"] }).end(
        JSON.stringify(config),
      );
    }
    const file = resolve(dist, `.${decodeURIComponent(path)}`);
    if (!file.startsWith(dist + sep) || !types[extname(file)]) {
      return response.writeHead(404).end();
    }
    try {
      const body = await readFile(file);
      response.writeHead(200, { "content-type": types[extname(file)] }).end(
        body,
      );
    } catch {
      response.writeHead(404).end();
    }
  });
  await new Promise((resolveListen) => server.listen(0, "127.0.0.1", resolveListen));
  return {
    url: `http://127.0.0.1:${server.address().port}/`,
    close: () => server.close(),
  };
}

function formatResult(runtime, { name, status, ms, detail }) {
  const label = { passed: "ok  ", failed: "FAIL", skipped: "skip" }[status] ??
    status;
  return `[${runtime}] ${label} ${name} (${ms} ms)${detail ? `: ${detail}` : ""}`;
}

function summarize(runtime, results) {
  const count = (status) => results.filter((result) => result.status === status).length;
  return `${runtime}: ${count("passed")} passed, ${count("failed")} failed, ${
    count("skipped")
  } skipped`;
}

function describe(error) {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}

function withTimeout(promise, ms, what) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`${what} timed out after ${ms / 1000} s`)),
      ms,
    );
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** Resolves or rejects with `promise`, or rejects with the reason when `signal` aborts first. */
function untilAborted(promise, signal) {
  signal.throwIfAborted();
  let onAbort;
  const aborted = new Promise((_, reject) => {
    onAbort = () => reject(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
  });
  return Promise.race([promise, aborted]).finally(() =>
    signal.removeEventListener("abort", onAbort)
  );
}

function exec(command, args, options) {
  return new Promise((resolveExec, rejectExec) => {
    const child = spawn(command, args, { ...options, stdio: "inherit" });
    child.once("error", rejectExec);
    child.once("exit", (code) => {
      if (code === 0) resolveExec();
      else {rejectExec(
          new Error(`${command} ${args.join(" ")} exited with ${code}`),
        );}
    });
  });
}

function capture(command, args) {
  return new Promise((resolveCapture, rejectCapture) => {
    const child = spawn(command, args, {
      stdio: ["ignore", "pipe", "inherit"],
    });
    let out = "";
    child.stdout.on("data", (chunk) => out += chunk);
    child.once("error", rejectCapture);
    child.once("exit", () => resolveCapture(out));
  });
}

process.exitCode = await main().catch((error) => {
  console.error(error);
  return 2;
});
