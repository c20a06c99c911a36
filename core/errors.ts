/**
 * Errors and exit codes. The numbers are duplicity's, so that frontends which
 * read duplicity's exit status read ours the same way; conditions duplicity
 * has no number for take numbers in the reserved range 57–69.
 *
 * @module
 */

/**
 * Duplicity's error codes, plus stowage's additions in 57–69.
 *
 * @example
 * ```ts
 * import { BackendError, ErrorCode } from "@stowage/backends";
 * const err = new BackendError("Cannot get \"a\": not found", { code: ErrorCode.backend_not_found });
 * console.log(err.code); // 52
 * ```
 */
export const ErrorCode = {
  /** A command line that cannot be parsed (unknown option, missing argument). */
  command_line: 2,
  /** Bad input: a malformed URL, an unknown scheme, a bad option or name. */
  user_error: 23,
  /** An unexpected exception: a bug. */
  exception: 30,
  /** The server could not be reached or the connection was lost. */
  connection_failed: 38,
  /** A backend failure with no more specific code. */
  backend_error: 50,
  /** Permission denied, or bad credentials. */
  backend_permission_denied: 51,
  /** The file, folder, bucket or container does not exist. */
  backend_not_found: 52,
  /** The server is out of space or over quota. */
  backend_no_space: 53,
  /** An external command (rclone, par2, rsync) failed. */
  backend_command_error: 54,
  /** The server answered with an error code the backend does not know. */
  backend_code_error: 55,
  /** The remote size did not match the local one after an upload. */
  backend_validation_failed: 56,
  /** An operation made no progress within the timeout. */
  backend_timeout: 57,
  /** The server asked us to slow down (HTTP 429, S3 SlowDown). */
  backend_rate_limited: 58,
  /** The backend does not support the operation or the name. */
  backend_unsupported: 59,
  /** The server's SSH host key or TLS certificate was not trusted. */
  backend_untrusted_host: 60,
  /** The operation was cancelled through an AbortSignal. */
  backend_aborted: 61,
} as const;

/** One of the numbers in {@linkcode ErrorCode}. */
export type ErrorCode = typeof ErrorCode[keyof typeof ErrorCode];

/** The name of an error code, for messages (`52` → `"backend_not_found"`). */
export function errorCodeName(code: number): string {
  for (const [name, value] of Object.entries(ErrorCode)) {
    if (value === code) return name;
  }
  return `code_${code}`;
}

/** Codes for which another attempt cannot help: the wrapper stops retrying at once. */
const PERMANENT: ReadonlySet<number> = new Set<number>([
  ErrorCode.command_line,
  ErrorCode.user_error,
  ErrorCode.backend_permission_denied,
  ErrorCode.backend_not_found,
  ErrorCode.backend_validation_failed,
  ErrorCode.backend_unsupported,
  ErrorCode.backend_untrusted_host,
  ErrorCode.backend_aborted,
]);

/** Whether a failure with this code is permanent (retrying cannot help). */
export function isPermanentCode(code: number): boolean {
  return PERMANENT.has(code);
}

/** Options for {@linkcode BackendError}. */
export interface BackendErrorOptions {
  /** The error code; default {@linkcode ErrorCode.backend_error}. */
  code?: ErrorCode;
  /** The operation that failed (`"put"`, `"get"`, `"list"`, ...). */
  operation?: string;
  /** How many attempts were made before giving up. */
  attempts?: number;
  /** The underlying error. */
  cause?: unknown;
  /** Milliseconds the server asked us to wait before the next attempt (Retry-After). */
  retryAfter?: number;
  /**
   * Whether retrying cannot help, when the code alone does not say so (a
   * missing external program is 54, "an external command failed", and no
   * retry will install it); default: what the code says.
   */
  permanent?: boolean;
}

/**
 * The one error type stowage throws: a message that names the failed action
 * and the value, a duplicity error `code`, the `operation`, the number of
 * `attempts`, and the underlying `cause`.
 *
 * @example
 * ```ts
 * import { BackendError, ErrorCode } from "@stowage/backends";
 * try {
 *   throw new BackendError('Cannot list "file:///nope": permission denied', {
 *     code: ErrorCode.backend_permission_denied,
 *     operation: "list",
 *   });
 * } catch (err) {
 *   if (err instanceof BackendError) console.error(err.message, err.code);
 * }
 * ```
 */
export class BackendError extends Error {
  /** The duplicity error code, also the CLI's exit status. */
  code: ErrorCode;
  /** The operation that failed, when known. */
  operation?: string;
  /** How many attempts were made, when the wrapper gave up. */
  attempts?: number;
  /** Milliseconds the server asked us to wait before retrying (Retry-After). */
  retryAfter?: number;

  /** Make an error with a message and its code, operation and cause. */
  constructor(message: string, options: BackendErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "BackendError";
    this.code = options.code ?? ErrorCode.backend_error;
    if (options.operation !== undefined) this.operation = options.operation;
    if (options.attempts !== undefined) this.attempts = options.attempts;
    if (options.retryAfter !== undefined) this.retryAfter = options.retryAfter;
    this.#permanent = options.permanent;
  }

  readonly #permanent: boolean | undefined;

  /** Whether retrying cannot help (not found, permission denied, bad input, ...). */
  get permanent(): boolean {
    return this.#permanent ?? isPermanentCode(this.code);
  }
}

/**
 * The short reason of an error, for messages: its message, without a stack,
 * on one line.
 */
export function reasonOf(err: unknown): string {
  let text: string;
  if (err instanceof Error) text = err.message || err.name;
  else if (typeof err === "string") text = err;
  else text = String(err);
  return text.replace(/\s*\n\s*/g, " ").trim() || "unknown error";
}

/** Node-style errno names mapped to codes (DESIGN section 3). */
const ERRNO: Readonly<Record<string, ErrorCode>> = {
  EACCES: ErrorCode.backend_permission_denied,
  EPERM: ErrorCode.backend_permission_denied,
  EROFS: ErrorCode.backend_permission_denied,
  ENOENT: ErrorCode.backend_not_found,
  ENOTDIR: ErrorCode.backend_not_found,
  ENOSPC: ErrorCode.backend_no_space,
  EDQUOT: ErrorCode.backend_no_space,
  ECONNREFUSED: ErrorCode.connection_failed,
  ECONNRESET: ErrorCode.connection_failed,
  EPIPE: ErrorCode.connection_failed,
  EHOSTUNREACH: ErrorCode.connection_failed,
  ENETUNREACH: ErrorCode.connection_failed,
  ENOTFOUND: ErrorCode.connection_failed,
  EAI_AGAIN: ErrorCode.connection_failed,
  ETIMEDOUT: ErrorCode.backend_timeout,
};

/**
 * The error code an errno-carrying error maps to (EACCES→51, ENOENT→52,
 * ENOSPC→53, connection errors→38), or `undefined`. Understands Deno's error
 * classes and Node's `code` strings.
 */
export function errnoCode(err: unknown): ErrorCode | undefined {
  if (err instanceof Deno.errors.NotFound) return ErrorCode.backend_not_found;
  if (err instanceof Deno.errors.PermissionDenied) return ErrorCode.backend_permission_denied;
  if (err instanceof Deno.errors.NotCapable) return ErrorCode.backend_permission_denied;
  if (err instanceof Deno.errors.ConnectionRefused) return ErrorCode.connection_failed;
  if (err instanceof Deno.errors.ConnectionReset) return ErrorCode.connection_failed;
  if (err instanceof Deno.errors.BrokenPipe) return ErrorCode.connection_failed;
  if (err instanceof Deno.errors.TimedOut) return ErrorCode.backend_timeout;
  if (typeof err === "object" && err !== null) {
    const code = (err as { code?: unknown }).code;
    if (typeof code === "string" && code in ERRNO) return ERRNO[code];
    const errno = (err as { errno?: unknown }).errno;
    if (typeof errno === "string" && errno in ERRNO) return ERRNO[errno];
  }
  return undefined;
}

/** Whether an error is an abort (an AbortSignal fired). */
export function isAbortError(err: unknown): boolean {
  if (err instanceof BackendError) return err.code === ErrorCode.backend_aborted;
  return err instanceof DOMException && err.name === "AbortError" ||
    (err instanceof Error && err.name === "AbortError");
}

/**
 * The error to throw when `signal` has aborted: its reason when that is a
 * {@linkcode BackendError} already (a timeout), else a code-61 "cancelled"
 * error carrying the reason as its cause ({@linkcode isAbortError} knows it).
 */
export function abortError(signal: AbortSignal): BackendError {
  const reason = signal.reason;
  if (reason instanceof BackendError) return reason;
  return new BackendError("cancelled", { code: ErrorCode.backend_aborted, cause: reason });
}
