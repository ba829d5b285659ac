/**
 * Runs a fetch handler on a TCP port with whatever the runtime offers: `Deno.serve` or
 * `Bun.serve`, reached through `globalThis` so the module loads anywhere.
 *
 * @module
 */

import { StreamDroppedError } from "./sse_stream.ts";

/** A fetch handler. */
export type FetchHandler = (request: Request) => Promise<Response>;

/** A listening server. */
export interface Listener {
  /** The port it listens on. */
  readonly port: number;
  /** Stops listening and waits for open requests to finish. */
  stop(): Promise<void>;
}

interface DenoServer {
  addr: { port: number };
  shutdown(): Promise<void>;
}

interface DenoLike {
  serve(
    options: {
      port: number;
      hostname: string;
      onListen: () => void;
      onError: (error: unknown) => Response;
    },
    handler: FetchHandler,
  ): DenoServer;
}

interface BunServer {
  port: number;
  stop(closeActiveConnections?: boolean): void | Promise<void>;
}

interface BunLike {
  serve(options: {
    port: number;
    hostname: string;
    idleTimeout: number;
    fetch: FetchHandler;
    error: (error: unknown) => Response;
  }): BunServer;
}

const runtime = globalThis as unknown as { Deno?: DenoLike; Bun?: BunLike };

/**
 * Listens on `hostname:port` (port 0 picks a free one). Throws when the runtime has neither
 * `Deno.serve` nor `Bun.serve`.
 */
export function listen(handler: FetchHandler, hostname: string, port: number): Listener {
  // A dropped subscription stream is deliberate; any other error is a bare 500, without logging.
  const onError = (error: unknown) =>
    new Response(null, { status: error instanceof StreamDroppedError ? 200 : 500 });
  if (typeof runtime.Deno?.serve === "function") {
    const server = runtime.Deno.serve({ port, hostname, onListen: () => {}, onError }, handler);
    return { port: server.addr.port, stop: () => server.shutdown() };
  }
  if (typeof runtime.Bun?.serve === "function") {
    const server = runtime.Bun.serve({
      port,
      hostname,
      idleTimeout: 0,
      fetch: handler,
      error: onError,
    });
    return {
      port: server.port,
      stop: async () => {
        await server.stop(true);
      },
    };
  }
  throw new Error(
    "startTestServer() needs Deno.serve or Bun.serve; on Node.js, serve createStashHandler() " +
      "with your own HTTP adapter",
  );
}
