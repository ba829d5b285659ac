import assert from "node:assert/strict";

/** Awaits a rejection of type `type` and returns the error for further checks. */
export async function rejection<T>(
  promise: Promise<unknown>,
  type: abstract new (...args: never[]) => T,
): Promise<T> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof type, `expected ${type.name}, received ${error}`);
    return error as T;
  }
  assert.fail(`expected a rejection with ${type.name}`);
}
