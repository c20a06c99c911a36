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

/** `size` random bytes written to `path` (filled 64 KiB at a time); returns them. */
export async function randomFile(path: string, size: number): Promise<Uint8Array> {
  const data = new Uint8Array(size);
  for (let i = 0; i < size; i += 65536) {
    crypto.getRandomValues(data.subarray(i, Math.min(size, i + 65536)));
  }
  await Deno.writeFile(path, data);
  return data;
}
