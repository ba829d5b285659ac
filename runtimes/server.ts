/**
 * The embedded server for the runtime scenarios, run by Deno:
 *
 * ```sh
 * deno run --allow-net=127.0.0.1 runtimes/server.ts
 * ```
 *
 * Starts `startTestServer` on a free loopback port with auth on (one admin token) and CORS on
 * (the browser page is served from another origin), prints `{"url":…,"token":…}` as one JSON
 * line, and serves until its standard input closes.
 *
 * @module
 */

import { startTestServer } from "../testing.ts";

const token = `runtimes-${crypto.randomUUID()}`;
const server = await startTestServer({
  cors: true,
  auth: { tokens: [{ token, admin: true }] },
});
console.log(JSON.stringify({ url: String(server.url), token }));

// Serve until the runner closes our stdin (or goes away).
for await (const _ of Deno.stdin.readable) {
  // drain
}
await server.close();
