/**
 * Helpers every test file shares.
 *
 * @module
 */

import assert from "node:assert/strict";
import { BackendError } from "../mod.ts";

/**
 * Await `p` (a promise, or a function whose result or throw is awaited) and
 * assert it failed with a {@linkcode BackendError} of `code`; returns the error.
 */
export async function expectCode(
  p: Promise<unknown> | (() => unknown),
  code: number,
): Promise<BackendError> {
  let err: unknown;
  try {
    await (typeof p === "function" ? p() : p);
  } catch (e) {
    err = e;
  }
  assert.ok(err !== undefined, `expected code ${code}, but it succeeded`);
  assert.ok(err instanceof BackendError, `expected a BackendError, got ${String(err)}`);
  assert.equal(err.code, code, err.message);
  return err;
}
