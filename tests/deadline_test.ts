import assert from "node:assert/strict";
import { Client, ConnectionError } from "../mod.ts";
import { rejection } from "./helpers/assert.ts";

/** A real HTTP server that sends headers and the first bytes of a body, then stalls. */
function stallingServer() {
  const streams = new Set<ReadableStreamDefaultController<Uint8Array>>();
  let requests = 0;
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, () => {
    requests++;
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        streams.add(controller);
        controller.enqueue(new TextEncoder().encode("partial"));
      },
      cancel() {},
    });
    return new Response(body, { headers: { "content-type": "text/plain" } });
  });
  return {
    url: `http://127.0.0.1:${server.addr.port}`,
    get requests() {
      return requests;
    },
    async close() {
      for (const stream of streams) {
        try {
          stream.close();
        } catch { /* already closed by the client's abort */ }
      }
      await server.shutdown();
    },
  };
}

Deno.test("a server that sends headers then stalls its body times out on time, over real HTTP", async () => {
  const server = stallingServer();
  try {
    using client = new Client(server.url, { timeout: 150, retries: 1, retryDelay: 1 });
    const started = performance.now();
    const error = await rejection(client.get("k"), ConnectionError);
    const elapsed = performance.now() - started;
    assert.equal(error.timedOut, true);
    assert.equal(error.attempts, 2);
    assert.equal(server.requests, 2);
    // Two attempts of 150 ms each: far from the 30 s a hang would take.
    assert.ok(elapsed < 5_000, `took ${elapsed} ms`);
  } finally {
    await server.close();
  }
});

Deno.test("a refused connection is a ConnectionError that is not a timeout", async () => {
  // Bind a port, then free it: nothing listens there any more.
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  using client = new Client(`http://127.0.0.1:${port}`, { retries: 1, retryDelay: 1 });
  const error = await rejection(client.get("k"), ConnectionError);
  assert.equal(error.timedOut, false);
  assert.equal(error.attempts, 2);
});
