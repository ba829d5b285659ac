/**
 * Secrets stay secret, over real HTTP and under faults: with a sentinel token, passphrase and
 * values, no error shows any of them however it is printed; the token never reaches another
 * origin through a redirect; the client's own inspection shows neither token nor passphrase.
 * (tests/secrets_test.ts holds the basic checks with an injected fetch.)
 */

import assert from "node:assert/strict";
import {
  Client,
  ConnectionError,
  ResponseError,
  type StashError,
  UnauthorizedError,
} from "../mod.ts";
import { Chaos, type Fault, faults, startTestServer } from "../testing.ts";
import { Collector, failure, within } from "./helpers/chaos_helpers.ts";

const TOKEN = "SENTINEL-TOKEN-d41d8c";
const HEADER_TOKEN = "SENTINEL-XAUTH-98f00b";
const PASSPHRASE = "SENTINEL-PASSPHRASE-2fd4e1c6";
const VALUE = "SENTINEL-VALUE-7a8b9c";
const SECRETS = [TOKEN, HEADER_TOKEN, PASSPHRASE, VALUE];

/** Every way an error is commonly shown or logged, its causes included. */
function views(error: unknown): string[] {
  const shown: string[] = [];
  for (let e: unknown = error, depth = 0; e !== undefined && depth < 5; depth++) {
    const object = e as Record<string, unknown>;
    shown.push(
      String(e),
      (e as Error)?.message ?? "",
      (e as Error)?.stack ?? "",
      JSON.stringify(e) ?? "",
      JSON.stringify(Object.entries(object ?? {})),
      Deno.inspect(e, { depth: 10, showHidden: true, getters: true }),
    );
    for (const name of Object.getOwnPropertyNames(object ?? {})) {
      shown.push(String(object[name]));
    }
    e = (e as Error)?.cause;
  }
  return shown;
}

function assertClean(error: unknown, what: string): void {
  for (const view of views(error)) {
    for (const secret of SECRETS) {
      assert.ok(!view.includes(secret), `${what}: ${secret} leaked in ${view.slice(0, 300)}`);
    }
  }
}

/** A token server: the sentinel tokens may read and write everything. */
const AUTH = {
  tokens: [
    { token: TOKEN, permissions: [{ prefix: "*", access: "rw" as const }] },
    { token: HEADER_TOKEN, permissions: [{ prefix: "*", access: "rw" as const }] },
  ],
};

const FAULTS: [string, () => Fault][] = [
  ["401", () => faults.status(401)],
  ["403", () => faults.status(403)],
  ["404", () => faults.status(404)],
  ["500", () => faults.status(500)],
  ["503", () => faults.status(503)],
  ["429", () => faults.status(429, { retryAfter: 0 })],
  ["413", () => faults.status(413)],
  ["a reset before headers", () => faults.reset()],
  ["a reset after headers", () => faults.breakBody({ afterBytes: 3 })],
  ["a truncated body", () => faults.truncate()],
  ["a stalled body", () => faults.stall({ afterBytes: 2 })],
  ["no answer", () => faults.hang()],
  ["a redirect", () => faults.status(307, { headers: { Location: "http://elsewhere.test/" } })],
];

Deno.test("no error shows the token, passphrase or a value, on any failure path and under every fault", async () => {
  const chaos = new Chaos();
  await using server = await startTestServer({ auth: AUTH, wrap: chaos.wrap });
  try {
    using client = new Client(server.url, {
      token: TOKEN,
      headers: { "X-Auth-Token": HEADER_TOKEN },
      zkKey: PASSPHRASE,
      timeout: 150,
      retries: 1,
      retryDelay: 1,
    });
    await client.set("app/secret", VALUE);
    await client.set("app/other", VALUE + "-other");
    // A value the client cannot decrypt, and a non-JSON value for getJSON.
    server.store.set("app/tampered", `$ZK$${btoa(VALUE.repeat(3))}`);
    server.store.set("app/plain", `${VALUE} {not json`);
    const calls: [string, () => Promise<unknown>][] = [
      ["get", () => client.get("app/secret")],
      ["getJSON", () => client.getJSON("app/secret")],
      ["getJSON (not JSON)", () => client.getJSON("app/plain")],
      ["get (tampered envelope)", () => client.get("app/tampered")],
      ["set", () => client.set("app/secret", VALUE)],
      ["setJSON", () => client.setJSON("app/json", { secret: VALUE })],
      ["delete", () => client.delete("app/other")],
      ["has", () => client.has("app/secret")],
      ["list", () => client.list("app/")],
      ["info", () => client.info("app/secret")],
      ["ping", () => client.ping()],
      // Keys and format names appear in errors by design: they are not secrets.
      ["set (bad format)", () => client.set("app/x", VALUE, { format: "nope" as "text" })],
      ["set (bad key)", () => client.set("app/../x", VALUE)],
    ];
    let failures = 0;
    for (const [name, fault] of [["none", undefined] as const, ...FAULTS]) {
      chaos.clear();
      if (fault) chaos.add({ fault: fault() });
      for (const [call, run] of calls) {
        try {
          await within(run(), `${call} under ${name}`, 5_000);
        } catch (error) {
          failures++;
          assertClean(error, `${call} under ${name}`);
        }
      }
    }
    console.log(`${failures} failures inspected, none showing a secret`);
    assert.ok(failures > FAULTS.length * calls.length * 0.8);
  } finally {
    chaos.close();
  }
});

Deno.test("subscription and watch errors show no secret either", async () => {
  const chaos = new Chaos();
  await using server = await startTestServer({ auth: AUTH, wrap: chaos.wrap });
  try {
    using client = new Client(server.url, { token: TOKEN, zkKey: PASSPHRASE });
    chaos.add({ path: "/kv/subscribe/*", fault: faults.status(401) });
    const states: unknown[] = [];
    const subscription = client.subscribe("app/secret", { onStateChange: (s) => states.push(s) });
    const events = new Collector(subscription);
    await events.end();
    assert.ok(events.error instanceof UnauthorizedError);
    assertClean(events.error, "subscribe");
    for (const state of states) assertClean(state, "subscription state");
    assertClean(subscription, "the subscription object");

    chaos.clear();
    chaos.add({ path: "/kv/*", fault: faults.status(403) });
    const view = client.watch("app", { reconnectDelay: 5 });
    const error = await failure(view.ready);
    assertClean(error, "watch");
    assertClean(view, "the watch object");
    view.close();
  } finally {
    chaos.close();
  }
});

Deno.test({
  name: "a server or proxy that echoes the token in its error body does not make the error show it",
  async fn() {
    const chaos = new Chaos({
      rules: [{
        fault: {
          kind: "echo",
          apply: (request) =>
            Promise.resolve(
              new Response(`bad gateway: ${request.headers.get("authorization")}`, {
                status: 400,
              }),
            ),
        },
      }],
    });
    await using server = await startTestServer({ wrap: chaos.wrap });
    try {
      using client = new Client(server.url, { token: TOKEN });
      const error = await failure(client.get("k"));
      assert.ok(error instanceof ResponseError);
      assertClean(error, "echoed token");
    } finally {
      chaos.close();
    }
  },
});

/** A second server, on another port (another origin), that records the headers it receives. */
function recordingServer() {
  const seen: Headers[] = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (request) => {
    seen.push(request.headers);
    return new Response("pong", { status: 200 });
  });
  return {
    url: `http://127.0.0.1:${server.addr.port}`,
    seen,
    close: () => server.shutdown(),
  };
}

Deno.test("Authorization and X-Auth-Token never reach another origin after a redirect", async () => {
  const other = recordingServer();
  try {
    for (const status of [301, 302, 303, 307, 308]) {
      const chaos = new Chaos({
        rules: [{
          fault: faults.status(status, { headers: { Location: `${other.url}/kv/app/config` } }),
        }],
      });
      await using server = await startTestServer({ wrap: chaos.wrap });
      using client = new Client(server.url, {
        token: TOKEN,
        headers: { "X-Auth-Token": HEADER_TOKEN },
        retries: 1,
        retryDelay: 1,
      });
      const calls = [
        client.get("app/config"),
        client.set("app/config", VALUE),
        client.delete("app/config"),
        client.has("app/config"),
        client.list("app/"),
        client.ping(),
      ];
      for (const call of calls) {
        const error = await failure(call);
        assert.ok(error instanceof ResponseError, `${status}: got ${error}`);
        assert.equal((error as StashError).status, status);
        assertClean(error, `redirect ${status}`);
      }
      const subscription = client.subscribe("app/config", { reconnectDelay: 5 });
      const events = new Collector(subscription);
      await events.end();
      assert.ok(events.error instanceof ResponseError, `subscribe ${status}: ${events.error}`);
      chaos.close();
    }
    // Not followed at all, so not even a request without the headers.
    assert.equal(other.seen.length, 0);
    for (const headers of other.seen) {
      assert.equal(headers.get("authorization"), null);
      assert.equal(headers.get("x-auth-token"), null);
    }
  } finally {
    await other.close();
  }
});

Deno.test("the client's own inspection shows no token or passphrase, before and after use", async () => {
  await using server = await startTestServer();
  using client = new Client(server.url, {
    token: TOKEN,
    zkKey: PASSPHRASE,
    headers: { "X-Auth-Token": HEADER_TOKEN },
  });
  const check = (what: string) => {
    const shown = [
      Deno.inspect(client, { depth: 20, showHidden: true, getters: true }),
      JSON.stringify(client),
      String(client),
      JSON.stringify(
        Object.getOwnPropertyNames(client).map((n) => [n, String((client as never)[n])]),
      ),
      Deno.inspect(Object.getPrototypeOf(client), { depth: 5, showHidden: true }),
    ];
    for (const view of shown) {
      for (const secret of [TOKEN, HEADER_TOKEN, PASSPHRASE]) {
        assert.ok(!view.includes(secret), `${what}: ${secret} in ${view}`);
      }
    }
  };
  check("new client");
  await client.set("app/k", VALUE); // loads the ZK codec and derives a key
  assert.equal(await client.get("app/k"), VALUE);
  const subscription = client.subscribe("app/k");
  check("after use");
  assertClean(subscription, "subscription");
  subscription.close();
  client.close();
  check("closed");
  const error = await failure(client.get("app/k"));
  assertClean(error, "after close");
});

Deno.test("a timed-out call's error names no secret and has no cause holding the request", async () => {
  const chaos = new Chaos({ rules: [{ fault: faults.hang() }] });
  await using server = await startTestServer({ wrap: chaos.wrap });
  try {
    using client = new Client(server.url, { token: TOKEN, timeout: 50, retries: 0 });
    const error = await failure(client.set("k", VALUE));
    assert.ok(error instanceof ConnectionError && error.timedOut);
    assert.equal(error.cause, undefined);
    assertClean(error, "timeout");
  } finally {
    chaos.close();
  }
});
