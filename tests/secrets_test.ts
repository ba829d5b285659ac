import assert from "node:assert/strict";
import { Client } from "../mod.ts";
import { fakeFetch, json, text } from "./helpers/fake_fetch.ts";

const TOKEN = "SENTINEL-TOKEN-7f3a9c";
const PASSPHRASE = "SENTINEL-PASSPHRASE-51e2b8";
const VALUE = "SENTINEL-VALUE-c0ffee";

/** Every way an error can be shown: none may contain a sentinel. */
function assertClean(error: unknown) {
  const views = [
    String(error),
    (error as Error).message,
    JSON.stringify(error),
    JSON.stringify(Object.entries(error as object)),
    Deno.inspect(error, { depth: 10, showHidden: true }),
    Deno.inspect((error as Error).cause, { depth: 10, showHidden: true }),
  ];
  for (const view of views) {
    for (const secret of [TOKEN, PASSPHRASE, VALUE]) {
      assert.ok(!view.includes(secret), `leaked ${secret} in ${view}`);
    }
  }
}

async function failure(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  assert.fail("expected a rejection");
}

Deno.test("no token, passphrase or value appears in any error, however it is shown", async () => {
  const replies = [
    json(404, { error: "key not found" }),
    text(401, "Unauthorized"),
    text(403, "Forbidden"),
    json(500, { error: "failed to store" }),
    new TypeError("connection refused"),
    text(200, VALUE + " {not json"),
    text(200, "$ZK$" + btoa(VALUE.repeat(4))),
    text(200, "$ZK$" + VALUE),
  ];
  for (const reply of replies) {
    const fake = fakeFetch(reply);
    using client = new Client("http://stash.test", {
      fetch: fake.fetch,
      token: TOKEN,
      zkKey: PASSPHRASE,
      retries: 0,
    });
    assertClean(await failure(client.getJSON("k")));
    assertClean(await failure(client.set("k", VALUE, { format: "nope" as "text" })));
  }
});

Deno.test("errors from invalid options never echo the token or passphrase", () => {
  const attempts = [
    () => new Client("http://stash.test", { token: TOKEN + "\n" }),
    () => new Client("http://stash.test", { zkKey: PASSPHRASE.slice(0, 15) }),
    () => new Client(`http://user:${TOKEN}@stash.test`),
  ];
  for (const attempt of attempts) {
    try {
      attempt();
      assert.fail("expected an error");
    } catch (error) {
      for (const secret of [TOKEN, PASSPHRASE.slice(0, 15)]) {
        assert.ok(!String(error).includes(secret) && !Deno.inspect(error).includes(secret));
      }
    }
  }
});

Deno.test("inspecting or serialising a client shows no token or passphrase", () => {
  using client = new Client("http://stash.test", { token: TOKEN, zkKey: PASSPHRASE });
  for (
    const view of [
      Deno.inspect(client, { depth: 10, showHidden: true }),
      JSON.stringify(client),
      String(client),
    ]
  ) {
    assert.ok(!view.includes(TOKEN) && !view.includes(PASSPHRASE), view);
  }
});
