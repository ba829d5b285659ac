/**
 * `startTestServer`: the embedded server on a real port, with stop, start and restart on the
 * same port for reconnection tests.
 *
 * @module
 */

import { createStashHandler, type StashHandler } from "./handler.ts";
import { type FetchHandler, listen, type Listener } from "./listen.ts";
import type { StashServerOptions } from "./options.ts";
import type { SseControls } from "./sse_hub.ts";
import type { MemoryStore } from "./store.ts";

/** Options of {@link startTestServer}: the server's options plus where to listen. */
export interface TestServerOptions extends StashServerOptions {
  /**
   * The port; 0 picks a free one.
   * @default 0
   */
  port?: number;
  /**
   * The address to listen on.
   * @default "127.0.0.1"
   */
  hostname?: string;
  /**
   * Wraps the handler before it is served, for example with a fault-injection layer:
   * `wrap: (handler) => (request) => handler(request)`.
   * @default undefined (the handler is served as is)
   */
  wrap?: (handler: StashHandler) => FetchHandler;
}

/** A running embedded server. */
export interface TestServer extends AsyncDisposable {
  /**
   * The base URL to give a client: `http://127.0.0.1:<port>` plus the `basePath`, without a
   * trailing slash. It stays the same across {@link TestServer.restart}.
   */
  readonly url: string;
  /** `http://<host>:<port>`, without the base path. */
  readonly origin: string;
  /** The port listened on (the one picked when `port` was 0). */
  readonly port: number;
  /** True while the server accepts connections. */
  readonly listening: boolean;
  /** The handler being served. */
  readonly handler: StashHandler;
  /** The served store. */
  readonly store: MemoryStore;
  /** The subscription streams and their test controls. */
  readonly sse: SseControls;
  /**
   * Stops listening, as a crashed server would: open subscription streams break, new
   * connections are refused. The store is kept; {@link TestServer.start} listens again.
   */
  stop(): Promise<void>;
  /** Listens again on the same port, with the same store. Does nothing while listening. */
  start(): Promise<void>;
  /** {@link TestServer.stop} then {@link TestServer.start}: a server restart on the same port. */
  restart(): Promise<void>;
  /** Stops the server for good; safe to call more than once. */
  close(): Promise<void>;
}

/**
 * Starts the in-memory Stash server on a local port (`Deno.serve` under Deno, `Bun.serve` under
 * Bun). On Node.js, wire {@link createStashHandler} to an HTTP adapter instead.
 *
 * @example A test against a real port
 * ```ts
 * import { startTestServer } from "@stash/client/testing";
 *
 * await using server = await startTestServer({ secrets: true });
 * const put = await fetch(`${server.url}/kv/app/config`, {
 *   method: "PUT",
 *   headers: { "X-Stash-Format": "json" },
 *   body: '{"debug":true}',
 * });
 * console.log(put.status); // 201
 * console.log(server.store.get("app/config")?.format); // json
 * ```
 */
export function startTestServer(options: TestServerOptions = {}): Promise<TestServer> {
  try {
    return Promise.resolve(createTestServer(options));
  } catch (error) {
    return Promise.reject(error);
  }
}

function createTestServer(options: TestServerOptions): TestServer {
  const { port: requestedPort = 0, hostname = "127.0.0.1", wrap, ...serverOptions } = options;
  if (!Number.isSafeInteger(requestedPort) || requestedPort < 0 || requestedPort > 65535) {
    throw new RangeError(`port must be an integer from 0 to 65535, received ${requestedPort}`);
  }
  if (typeof hostname !== "string" || hostname === "") {
    throw new TypeError(`hostname must be a non-empty string, received ${String(hostname)}`);
  }
  const handler = createStashHandler(serverOptions);
  const served: FetchHandler = wrap ? wrap(handler) : handler;
  if (typeof served !== "function") {
    throw new TypeError(`wrap must return a function, received ${typeof served}`);
  }

  let listener: Listener | undefined = listen(served, hostname, requestedPort);
  let stopping: Promise<void> = Promise.resolve();
  let closed = false;
  const port = listener.port;
  const host = hostname.includes(":") ? `[${hostname}]` : hostname;
  const origin = `http://${host}:${port}`;
  const basePath = (serverOptions.basePath ?? "").replace(/\/+$/, "");

  const stop = (): Promise<void> => {
    const current = listener;
    if (current) {
      listener = undefined;
      handler.sse.dropStreams();
      stopping = stopping.then(() => current.stop());
    }
    return stopping;
  };
  const start = async (): Promise<void> => {
    await stopping;
    if (closed) throw new Error("the test server is closed");
    listener ??= listen(served, hostname, port);
  };

  const server: TestServer = {
    url: origin + basePath,
    origin,
    port,
    get listening() {
      return listener !== undefined;
    },
    handler,
    store: handler.store,
    sse: handler.sse,
    stop,
    start,
    async restart() {
      await stop();
      await start();
    },
    close() {
      closed = true;
      return stop();
    },
    [Symbol.asyncDispose]() {
      return server.close();
    },
  };
  return server;
}
