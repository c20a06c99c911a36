/**
 * The one place where the failures of multi's stores become one error and
 * one code. The stores are reached through their own wrappers, so each
 * failure already carries its code; several are combined here.
 *
 * @module
 */

import {
  BackendError,
  errnoCode,
  ErrorCode,
  isPermanentCode,
  reasonOf,
} from "../../core/errors.ts";

/** One store's failure within an operation. */
export interface StoreFailure {
  /** The store's label (`store 2 (offsite)`). */
  store: string;
  /** What it threw. */
  error: unknown;
}

/** Every store tried failed (or, with `onfail=abort`, the first that failed). */
export class StoresFailed extends Error {
  /** Each store's failure, in the order tried. */
  readonly failures: readonly StoreFailure[];
  /** Combine the failures of one operation. */
  constructor(failures: readonly StoreFailure[], aborted = false) {
    const each = failures.map((f) => `${f.store}: ${reasonOf(f.error)}`).join("; ");
    super(aborted ? `${each} (onfail=abort)` : `every store failed: ${each}`);
    this.name = "StoresFailed";
    this.failures = failures;
  }
}

/**
 * The code of a failure: a store's own code; for several stores, their code
 * when they agree, else the first one another attempt might cure, else the
 * first that is not "not found".
 */
export function errorCode(err: unknown): ErrorCode | undefined {
  if (err instanceof StoresFailed) {
    const codes = err.failures.map((f) => errorCode(f.error) ?? ErrorCode.backend_error);
    if (codes.every((c) => c === codes[0])) return codes[0];
    return codes.find((c) => !isPermanentCode(c)) ??
      codes.find((c) => c !== ErrorCode.backend_not_found) ?? ErrorCode.backend_error;
  }
  if (err instanceof BackendError) return err.code;
  return errnoCode(err);
}

/** A {@linkcode BackendError} for combined store failures; other errors as they are. */
export function toBackendError(err: unknown): BackendError | unknown {
  if (!(err instanceof StoresFailed)) return err;
  const code = errorCode(err) ?? ErrorCode.backend_error;
  const message = code === ErrorCode.backend_not_found && err.failures.length > 1
    ? `no store has it (${err.failures.map((f) => f.store).join(", ")})`
    : err.message;
  return new BackendError(message, { code, cause: err });
}
