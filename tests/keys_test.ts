import assert from "node:assert/strict";
import { checkKey, checkReadable, encodeKeyPath, isSecretKey, normalizeKey } from "../src/keys.ts";
import { UnreadableKeyError } from "../src/errors.ts";

Deno.test("normalizeKey() trims space and slashes and turns spaces into underscores", () => {
  assert.equal(normalizeKey("  /app/my key/ \t"), "app/my_key");
  assert.equal(normalizeKey("a b  c"), "a_b__c");
  assert.equal(normalizeKey("\u3000key\u0085"), "key");
  // Go's TrimSpace keeps U+FEFF, unlike String.prototype.trim.
  assert.equal(normalizeKey("\ufeffkey"), "\ufeffkey");
  assert.equal(normalizeKey(" / "), "");
});

Deno.test("checkKey() refuses empty keys, empty segments and dot segments", () => {
  for (const bad of ["", " ", "/", "a//b", "/a", "a/", "a/./b", "../a", "a/.."]) {
    assert.throws(() => checkKey(bad), TypeError, `key ${JSON.stringify(bad)}`);
  }
  assert.throws(() => checkKey(42), /key must be a string, received number/);
  for (const good of ["a", "a/b", "a.b/..c", "...", "my key", "ключ/🔑"]) {
    assert.equal(checkKey(good), good);
  }
});

Deno.test("checkReadable() refuses keys that another server route answers for", () => {
  for (const shadowed of ["history/a", "subscribe/x", "ping", "a/ping", "a/PING"]) {
    assert.throws(() => checkReadable(shadowed, "GET"), UnreadableKeyError, shadowed);
  }
  for (const fine of ["history", "subscribe", "pinged", "a/xping", "app/history/x"]) {
    checkReadable(fine, "GET");
  }
});

Deno.test("checkReadable() explains which route shadows the key", () => {
  try {
    checkReadable("history/app", "GET");
    assert.fail("expected an error");
  } catch (error) {
    assert.ok(error instanceof UnreadableKeyError);
    assert.match(error.message, /history route/);
    assert.equal(error.key, "history/app");
  }
});

Deno.test("encodeKeyPath() percent-encodes each segment and keeps the slashes", () => {
  assert.equal(encodeKeyPath("app/my key?#%+"), "app/my%20key%3F%23%25%2B");
  assert.equal(encodeKeyPath("ключ/é"), "%D0%BA%D0%BB%D1%8E%D1%87/%C3%A9");
});

Deno.test("isSecretKey() is true only for a whole `secrets` segment", () => {
  assert.equal(isSecretKey("secrets"), true);
  assert.equal(isSecretKey("secrets/x"), true);
  assert.equal(isSecretKey("a/secrets/x"), true);
  assert.equal(isSecretKey("a/secrets"), true);
  assert.equal(isSecretKey("my-secrets/x"), false);
  assert.equal(isSecretKey("secretsx"), false);
});

Deno.test("encodeKeyPath() leaves plain keys as they are and matches per-segment encoding", () => {
  for (
    const key of ["app/config.yaml", "a-b_c.d!e~f*g'h(i)j/k", "app/my key", "ключ", "a?b", "x%y"]
  ) {
    assert.equal(encodeKeyPath(key), key.split("/").map(encodeURIComponent).join("/"), key);
  }
  assert.equal(encodeKeyPath("app/config.yaml"), "app/config.yaml");
});
