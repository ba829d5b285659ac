import assert from "node:assert/strict";
import { backoffDelay, isRetryableStatus, serverDelay, sleep } from "../src/retry.ts";

Deno.test("backoffDelay() doubles from the base, caps at the maximum, and jitters the upper half", () => {
  assert.equal(backoffDelay(0, 100, 10_000, () => 0), 50);
  assert.equal(backoffDelay(0, 100, 10_000, () => 1), 100);
  assert.equal(backoffDelay(3, 100, 10_000, () => 1), 800);
  assert.equal(backoffDelay(20, 100, 10_000, () => 1), 10_000);
  assert.equal(backoffDelay(20, 100, 10_000, () => 0), 5_000);
});

Deno.test("isRetryableStatus() is true for 408, 429 and 500/502/503/504 only", () => {
  const retryable = [];
  for (let status = 100; status < 600; status++) {
    if (isRetryableStatus(status)) retryable.push(status);
  }
  assert.deepEqual(retryable, [408, 429, 500, 502, 503, 504]);
});

Deno.test("serverDelay() reads Retry-After seconds and dates, then RateLimit-Reset", () => {
  assert.equal(serverDelay(new Headers({ "Retry-After": "3" })), 3000);
  const now = Date.parse("2026-01-04T10:30:00Z");
  assert.equal(
    serverDelay(new Headers({ "Retry-After": "Sun, 04 Jan 2026 10:30:05 GMT" }), now),
    5000,
  );
  assert.equal(
    serverDelay(new Headers({ "Retry-After": "Sun, 04 Jan 2026 10:29:00 GMT" }), now),
    0,
  );
  assert.equal(serverDelay(new Headers({ "RateLimit-Reset": "1" })), 1000);
  assert.equal(serverDelay(new Headers({ "Retry-After": "soon" })), undefined);
  assert.equal(serverDelay(new Headers()), undefined);
});

Deno.test("sleep() resolves after the delay and rejects with the abort reason", async () => {
  await sleep(1);
  const controller = new AbortController();
  const waiting = sleep(60_000, controller.signal);
  controller.abort(new Error("stopped"));
  await assert.rejects(waiting, /stopped/);
  await assert.rejects(sleep(1, AbortSignal.abort(new Error("early"))), /early/);
});
