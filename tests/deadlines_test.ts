import assert from "node:assert/strict";
import { Deadlines } from "../src/deadlines.ts";

function aborted(controller: AbortController): Promise<unknown> {
  return new Promise((resolve) =>
    controller.signal.addEventListener("abort", () => resolve(controller.signal.reason))
  );
}

Deno.test("Deadlines aborts a controller with its reason when the deadline passes", async () => {
  const deadlines = new Deadlines();
  const controller = new AbortController();
  deadlines.add(controller, 5, () => "too late");
  assert.equal(await aborted(controller), "too late");
});

Deno.test("Deadlines never aborts a controller removed in time", async () => {
  const deadlines = new Deadlines();
  const early = new AbortController();
  const later = new AbortController();
  deadlines.add(early, 5, () => "early");
  deadlines.remove(early);
  deadlines.add(later, 10, () => "later");
  // Once the later deadline has fired, the earlier one has had its chance.
  assert.equal(await aborted(later), "later");
  assert.equal(early.signal.aborted, false);
});

Deno.test("Deadlines fires the earliest deadline first, whatever the order of adding", async () => {
  const deadlines = new Deadlines();
  const slow = new AbortController();
  const fast = new AbortController();
  deadlines.add(slow, 60_000, () => "slow");
  deadlines.add(fast, 5, () => "fast");
  assert.equal(await aborted(fast), "fast");
  assert.equal(slow.signal.aborted, false);
  deadlines.remove(slow);
});

Deno.test("a finished call's deadline timer does not keep the process alive", async () => {
  // One quick call with a one-minute timeout, then the script ends: it must exit at once.
  const script = `
    import { Client } from ${JSON.stringify(new URL("../mod.ts", import.meta.url).href)};
    const client = new Client("http://stash.test", {
      timeout: 60_000,
      fetch: () => Promise.resolve(new Response("v")),
    });
    console.log(await client.get("k"));
  `;
  const started = performance.now();
  const { code, stdout } = await new Deno.Command(Deno.execPath(), {
    args: ["eval", "--no-config", script],
    stdout: "piped",
    stderr: "inherit",
  }).output();
  assert.equal(code, 0);
  assert.equal(new TextDecoder().decode(stdout).trim(), "v");
  // Far below the minute the timer would hold the process for.
  assert.ok(performance.now() - started < 30_000);
});
