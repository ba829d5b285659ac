import assert from "node:assert/strict";
import { exactUpdatedAtOf, parseKeyList, parseTimestamp } from "../src/key_info.ts";
import { ResponseError } from "../src/errors.ts";

Deno.test("parseTimestamp() reads RFC 3339 with 0 to 9 fractional digits", () => {
  const base = Date.parse("2026-01-04T10:30:00Z");
  assert.equal(parseTimestamp("2026-01-04T10:30:00Z")?.getTime(), base);
  assert.equal(parseTimestamp("2026-01-04T10:30:00.1Z")?.getTime(), base + 100);
  assert.equal(parseTimestamp("2026-01-04T10:30:00.12Z")?.getTime(), base + 120);
  assert.equal(parseTimestamp("2026-01-04T10:30:00.123Z")?.getTime(), base + 123);
  assert.equal(parseTimestamp("2026-01-04T10:30:00.123456Z")?.getTime(), base + 123);
  assert.equal(parseTimestamp("2026-01-04T10:30:00.123456789Z")?.getTime(), base + 123);
  assert.equal(parseTimestamp("2026-01-04T12:30:00.5+02:00")?.getTime(), base + 500);
  for (const bad of ["", "2026-01-04", "2026-01-04T10:30:00.1234567890Z", "yesterday", 5, null]) {
    assert.equal(parseTimestamp(bad), undefined, String(bad));
  }
});

Deno.test("parseKeyList() maps every field and treats null as an empty list", () => {
  assert.deepEqual(parseKeyList("null", { method: "GET" }), []);
  assert.deepEqual(parseKeyList("[]", { method: "GET" }), []);
  const [item] = parseKeyList(
    JSON.stringify([{
      key: "app/secrets/db",
      size: 12,
      format: "json",
      secret: true,
      zk_encrypted: false,
      created_at: "2026-01-04T10:30:00Z",
      updated_at: "2026-01-04T10:31:00.123456789Z",
    }]),
    { method: "GET" },
  );
  assert.deepEqual(item, {
    key: "app/secrets/db",
    size: 12,
    format: "json",
    secret: true,
    zkEncrypted: false,
    createdAt: new Date("2026-01-04T10:30:00Z"),
    updatedAt: new Date("2026-01-04T10:31:00.123Z"),
  });
});

Deno.test("parseKeyList() rejects malformed bodies with a ResponseError", () => {
  const item = {
    key: "a",
    size: 1,
    format: "text",
    secret: false,
    zk_encrypted: false,
    created_at: "2026-01-04T10:30:00Z",
    updated_at: "2026-01-04T10:30:00Z",
  };
  const bad = [
    "{",
    "{}",
    "1",
    "[1]",
    JSON.stringify([{ ...item, size: -1 }]),
    JSON.stringify([{ ...item, updated_at: "later" }]),
    JSON.stringify([{ ...item, secret: "no" }]),
  ];
  for (const body of bad) {
    assert.throws(() => parseKeyList(body, { method: "GET" }), ResponseError, body);
  }
});

Deno.test("parseKeyList() keeps the server's exact updated_at beside the millisecond Date", () => {
  const item = (updated: string) => ({
    key: "a",
    size: 1,
    format: "text",
    secret: false,
    zk_encrypted: false,
    created_at: "2026-01-04T10:30:00Z",
    updated_at: updated,
  });
  const [first, second] = parseKeyList(
    JSON.stringify([
      item("2026-01-04T10:30:00.123456789Z"),
      item("2026-01-04T10:30:00.123456790Z"),
    ]),
    { method: "GET" },
  );
  assert.equal(first.updatedAt.getTime(), second.updatedAt.getTime());
  assert.equal(exactUpdatedAtOf(first), "2026-01-04T10:30:00.123456789Z");
  assert.equal(exactUpdatedAtOf(second), "2026-01-04T10:30:00.123456790Z");
  assert.equal(exactUpdatedAtOf({ ...first }), undefined);
});
