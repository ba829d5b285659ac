import assert from "node:assert/strict";

/** Awaits a rejection of type `type` and returns the error for further checks. */
// deno-lint-ignore no-explicit-any
export async function rejection<T>(
  promise: Promise<unknown>,
  type: new (...args: any[]) => T,
): Promise<T> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof type, `expected ${type.name}, received ${error}`);
    return error;
  }
  assert.fail(`expected a rejection with ${type.name}`);
}
