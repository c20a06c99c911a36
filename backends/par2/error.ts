/**
 * The one place where par2's failures become error codes: a par2 program
 * that cannot be started is 54 (backend_command_error), a repair that cannot
 * restore the file is 56 (backend_validation_failed), any other non-zero exit
 * is 54. Failures of the inner store keep the inner store's own mapping.
 *
 * @module
 */

import { BackendError, ErrorCode } from "../../core/errors.ts";

/** What par2cmdline's exit statuses mean. */
const EXIT_MEANING: Readonly<Record<number, string>> = {
  1: "repair is possible",
  2: "repair is not possible",
  3: "invalid command line arguments",
  4: "insufficient critical data to verify",
  5: "repair failed",
  6: "file I/O error",
  7: "internal logic error",
  8: "out of memory",
};

/** Repair statuses that mean "the file cannot be restored". */
const BEYOND_REPAIR: ReadonlySet<number> = new Set([1, 2, 4, 5]);

/** The par2 program could not be started (not installed, not executable). */
export class Par2SpawnError extends Error {
  /** The program that was run. */
  readonly program: string;
  /** Wrap the error `Deno.Command` threw. */
  constructor(program: string, cause: unknown) {
    super(`cannot run ${JSON.stringify(program)}`, { cause });
    this.name = "Par2SpawnError";
    this.program = program;
  }
}

/** A par2 run that ended with a non-zero exit status. */
export class Par2ExitError extends Error {
  /** The par2 command (`create`, `verify`, `repair`). */
  readonly command: string;
  /** The exit status. */
  readonly status: number;
  /** The last lines par2 printed. */
  readonly output: string;
  /** Describe a failed run. */
  constructor(command: string, status: number, output: string) {
    const meaning = EXIT_MEANING[status] ?? "unknown failure";
    super(
      `par2 ${command} exited with status ${status} (${meaning})${output ? `: ${output}` : ""}`,
    );
    this.name = "Par2ExitError";
    this.command = command;
    this.status = status;
    this.output = output;
  }
}

/** The code for a par2 failure, or `undefined` for anything else. */
export function errorCode(err: unknown): ErrorCode | undefined {
  if (err instanceof Par2SpawnError) return ErrorCode.backend_command_error;
  if (err instanceof Par2ExitError) {
    return err.command === "repair" && BEYOND_REPAIR.has(err.status)
      ? ErrorCode.backend_validation_failed
      : ErrorCode.backend_command_error;
  }
  return undefined;
}

/**
 * A {@linkcode BackendError} for a par2 failure while working on `name`;
 * any other error is returned as it is.
 */
export function toBackendError(err: unknown, name: string): BackendError | unknown {
  const code = errorCode(err);
  if (code === undefined) return err;
  let message: string;
  if (err instanceof Par2SpawnError) {
    const why = err.cause instanceof Deno.errors.NotFound
      ? "the program was not found; install the Debian package par2 or set par2Path"
      : `${(err.cause as Error)?.message ?? err.cause}`;
    message = `Cannot run par2 (${JSON.stringify(err.program)}) for "${name}": ${why}`;
  } else if (code === ErrorCode.backend_validation_failed) {
    message = `Cannot repair "${name}": it is damaged beyond repair (${(err as Error).message})`;
  } else {
    const e = err as Par2ExitError;
    message = `Cannot ${
      e.command === "create" ? "create" : "check"
    } recovery data for "${name}": ${e.message}`;
  }
  // A program that cannot be started will not start on a retry either.
  return new BackendError(message, {
    code,
    cause: err,
    ...(err instanceof Par2SpawnError ? { permanent: true } : {}),
  });
}
