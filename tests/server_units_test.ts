import assert from "node:assert/strict";
import { createNanoClock, formatRfc3339, formatRfc3339Nano } from "../src/testing/time.ts";
import { goJson } from "../src/testing/go_json.ts";
import { cleanPath, decodePath, escapePath, requestTarget } from "../src/testing/paths.ts";
import { isValidZkEnvelope, isZkValue } from "../src/testing/zk_check.ts";
import { parseTopic, topicMatches } from "../src/testing/sse_topic.ts";

const S = 1_000_000_000n;
const base = BigInt(Date.UTC(2026, 0, 4, 10, 30, 0) / 1000) * S;

Deno.test("formatRfc3339Nano writes Go's RFC3339Nano: trailing zeros trimmed", () => {
  assert.equal(formatRfc3339Nano(base), "2026-01-04T10:30:00Z");
  assert.equal(formatRfc3339Nano(base + 100_000_000n), "2026-01-04T10:30:00.1Z");
  assert.equal(formatRfc3339Nano(base + 123_456_789n), "2026-01-04T10:30:00.123456789Z");
  assert.equal(formatRfc3339Nano(base + 1n), "2026-01-04T10:30:00.000000001Z");
  assert.equal(formatRfc3339Nano(base + 120_000n), "2026-01-04T10:30:00.00012Z");
});

Deno.test("formatRfc3339 writes whole seconds, dropping milliseconds", () => {
  assert.equal(formatRfc3339(Date.UTC(2026, 0, 4, 10, 30, 0, 999)), "2026-01-04T10:30:00Z");
});

Deno.test("createNanoClock is strictly increasing even when the clock stands still or goes back", () => {
  let ms = 1000;
  const clock = createNanoClock(() => ms);
  assert.equal(clock(), 1_000_000_000n);
  assert.equal(clock(), 1_000_000_001n);
  ms = 999;
  assert.equal(clock(), 1_000_000_002n);
  ms = 1001.7;
  assert.equal(clock(), 1_001_000_000n);
  ms = NaN;
  assert.throws(() => clock(), RangeError);
});

Deno.test("goJson escapes HTML characters and line separators like Go", () => {
  assert.equal(
    goJson({ key: '<a>&\u2028\u2029"\\\n\u0001', n: 1, ok: true, v: null }),
    '{"key":"\\u003ca\\u003e\\u0026\\u2028\\u2029\\"\\\\\\n\\u0001","n":1,"ok":true,"v":null}',
  );
});

Deno.test("cleanPath follows Go's ServeMux cleaning", () => {
  const cases: [string, string][] = [
    ["/kv/a", "/kv/a"],
    ["/kv/", "/kv/"],
    ["/kv/a/../b", "/kv/b"],
    ["/kv/./a", "/kv/a"],
    ["/kv//a", "/kv/a"],
    ["/kv/a/", "/kv/a/"],
    ["/kv/a/.", "/kv/a"],
    ["/kv/a/./", "/kv/a/"],
    ["/../kv", "/kv"],
    ["", "/"],
    ["kv", "/kv"],
  ];
  for (const [input, expected] of cases) assert.equal(cleanPath(input), expected, input);
});

Deno.test("decodePath reads percent escapes as UTF-8 and rejects malformed ones", () => {
  assert.equal(decodePath("/kv/%D0%BA%20x"), "/kv/к x");
  assert.equal(decodePath("/kv/ü%2F"), "/kv/ü/");
  assert.equal(decodePath("/kv/%FF"), "/kv/\uFFFD");
  assert.equal(decodePath("/kv/%zz"), undefined);
  assert.equal(decodePath("/kv/%4"), undefined);
  assert.equal(decodePath("/kv/plain+x"), "/kv/plain+x");
});

Deno.test("escapePath and requestTarget keep what Go and the wire keep", () => {
  assert.equal(escapePath("/kv/ü x?#%"), "/kv/%C3%BC%20x%3F%23%25");
  assert.equal(escapePath("/kv/a+b=c@d:e;f,$&~"), "/kv/a+b=c@d:e;f,$&~");
  assert.deepEqual(requestTarget("http://h:1/kv/a/../b?x=1"), {
    rawPath: "/kv/a/../b",
    rawQuery: "x=1",
  });
  assert.deepEqual(requestTarget("http://h:1"), { rawPath: "/", rawQuery: "" });
  assert.deepEqual(requestTarget("http://h/a?b?c#d"), { rawPath: "/a", rawQuery: "b?c" });
});

Deno.test("isZkValue and isValidZkEnvelope check the $ZK$ envelope", () => {
  const enc = (s: string) => new TextEncoder().encode(s);
  const payload = btoa("x".repeat(44));
  assert.equal(isZkValue(enc("$ZK$")), false);
  assert.equal(isZkValue(enc("$ZK$a")), true);
  assert.equal(isZkValue(enc("$zk$abc")), false);
  assert.equal(isValidZkEnvelope(enc(`$ZK$${payload}`)), true);
  assert.equal(isValidZkEnvelope(enc(`$ZK$${payload.slice(0, 20)}\r\n${payload.slice(20)}`)), true);
  assert.equal(isValidZkEnvelope(enc(`$ZK$${btoa("x".repeat(43))}`)), false);
  assert.equal(isValidZkEnvelope(enc(`$ZK$${payload.replaceAll("=", "")}`)), false);
  assert.equal(isValidZkEnvelope(enc(`$ZK$${payload}A`)), false);
  // Strict: the bits left over before the padding must be zero ("x" sets the low bits).
  assert.equal(isValidZkEnvelope(enc(`$ZK$${payload.slice(0, -2)}x=`)), false);
  assert.equal(isValidZkEnvelope(enc(`$ZK$${payload.slice(0, -2)}w=`)), true);
  assert.equal(isValidZkEnvelope(enc(`$ZK$${payload.replace("e", "-")}`)), false);
});

Deno.test("parseTopic reads exact, prefix and all subscriptions", () => {
  assert.deepEqual(parseTopic("*"), { kind: "all" });
  assert.deepEqual(parseTopic("/*"), { kind: "all" });
  assert.deepEqual(parseTopic("app/*"), { kind: "prefix", prefix: "app" });
  assert.deepEqual(parseTopic("app/x/"), { kind: "prefix", prefix: "app/x" });
  assert.deepEqual(parseTopic("app/my key"), { kind: "exact", key: "app/my key" });
  assert.deepEqual(parseTopic("app*"), { kind: "exact", key: "app*" });
  assert.equal(parseTopic(""), undefined);
  const prefix = parseTopic("app/*")!;
  assert.equal(topicMatches(prefix, "app/x"), true);
  assert.equal(topicMatches(prefix, "app/x/y"), true);
  assert.equal(topicMatches(prefix, "apple"), false);
  assert.equal(topicMatches(prefix, "app"), false);
});
