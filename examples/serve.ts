/**
 * Runs the embedded Stash server until interrupted.
 *
 *     deno task serve [--port 8080] [--hostname localhost] [--secrets] [--cors] [--base-path /stash]
 *
 * @module
 */

import { startTestServer } from "../testing.ts";

const USAGE =
  "usage: serve.ts [--port N] [--hostname HOST] [--secrets] [--cors] [--base-path PATH]";

function parseArgs(args: string[]) {
  const options = { port: 8080, hostname: "localhost", secrets: false, cors: false, basePath: "" };
  for (let i = 0; i < args.length; i++) {
    const [flag, inline] = args[i].split(/=(.*)/s, 2);
    const value = () => inline ?? args[++i];
    switch (flag) {
      case "--port": {
        const port = Number(value());
        if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(USAGE);
        options.port = port;
        break;
      }
      case "--hostname":
        options.hostname = value() ?? "";
        break;
      case "--base-path":
        options.basePath = value() ?? "";
        break;
      case "--secrets":
        options.secrets = true;
        break;
      case "--cors":
        options.cors = true;
        break;
      default:
        throw new Error(USAGE);
    }
  }
  return options;
}

let options;
try {
  options = parseArgs(Deno.args);
} catch (error) {
  console.error((error as Error).message);
  Deno.exit(2);
}

const server = await startTestServer(options);
console.log(`Stash test server listening on ${server.url}`);

const stop = () => {
  server.close().then(() => Deno.exit(0));
};
Deno.addSignalListener("SIGINT", stop);
if (Deno.build.os !== "windows") Deno.addSignalListener("SIGTERM", stop);
