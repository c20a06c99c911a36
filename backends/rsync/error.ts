/**
 * The one place where rsync's failures become error codes: what it printed
 * on stderr (host key 60; refused login or module access 51; missing file
 * or folder 52; no space 53; connection 38) first, then its exit status
 * (1 usage → 23; 4 unsupported → 59; 5 and 10 starting the session or the
 * socket → 38; 23 partial transfer with "No such file" → 52; 24 vanished →
 * 52; 30 and 35 timeouts → 57; 255 ssh → 38; others → 54).
 *
 * @module
 */

import { CommandError, lastLines } from "../../core/command.ts";
import { BackendError, ErrorCode } from "../../core/errors.ts";

/** An rsync run that ended with a non-zero exit status. */
export class RsyncError extends CommandError {
  /** Describe a failed rsync run (`what` says which: `put`, `list`, ...). */
  constructor(program: string, what: string, code: number, stderr: string) {
    super(program, what, code, stderr, lastLines(stderr.replace(/^rsync error: /gm, ""), 2));
    this.name = "RsyncError";
  }
}

/** Patterns in what rsync (and ssh) print, most specific first. */
const PATTERNS: ReadonlyArray<readonly [RegExp, ErrorCode]> = [
  [/Host key verification failed|REMOTE HOST IDENTIFICATION HAS CHANGED/i, 60],
  [
    /@ERROR: (?:auth failed|access denied)|Permission denied \(|Too many authentication failures/i,
    ErrorCode.backend_permission_denied,
  ],
  [/@ERROR: Unknown module/i, ErrorCode.backend_not_found],
  [
    /Connection refused|Could not resolve hostname|Name or service not known|No route to host|Network is unreachable|Connection timed out|failed to connect/i,
    ErrorCode.connection_failed,
  ],
  [/No space left on device|Disk quota exceeded/i, ErrorCode.backend_no_space],
  [/Permission denied|Operation not permitted|Read-only file system/i, 51],
  [/No such file or directory|change_dir .* failed/i, ErrorCode.backend_not_found],
];

/** rsync's exit statuses, when stderr says nothing more specific. */
const EXIT_CODES: Readonly<Record<number, ErrorCode>> = {
  1: ErrorCode.user_error, // syntax or usage error
  4: ErrorCode.backend_unsupported, // an option the other side does not support
  5: ErrorCode.connection_failed, // error starting the client-server protocol
  10: ErrorCode.connection_failed, // socket I/O
  12: ErrorCode.connection_failed, // protocol data stream (the connection broke)
  24: ErrorCode.backend_not_found, // source files vanished
  30: ErrorCode.backend_timeout, // timeout in data send/receive
  35: ErrorCode.backend_timeout, // timeout waiting for the daemon
  255: ErrorCode.connection_failed, // ssh could not connect
};

/** The code for an rsync failure, or `undefined` for anything else. */
export function errorCode(err: unknown): ErrorCode | undefined {
  if (err instanceof BackendError) return err.code;
  if (!(err instanceof RsyncError)) return undefined;
  for (const [re, code] of PATTERNS) if (re.test(err.stderr)) return code;
  return EXIT_CODES[err.code] ?? ErrorCode.backend_command_error;
}

/**
 * A {@linkcode BackendError} for an rsync failure (its message names the
 * operation, the exit status and rsync's last lines); any other error is
 * returned as it is.
 */
export function toBackendError(err: unknown): BackendError | unknown {
  if (!(err instanceof RsyncError)) return err;
  return new BackendError(err.message, { code: errorCode(err)!, cause: err });
}
