/**
 * The one place where rclone's failures become error codes: its exit
 * status (3 directory not found and 4 file not found → 52; 7 fatal → 51,
 * not retried; 10 duration exceeded → 57) refined by what it printed on
 * stderr (config, host key, credentials, space, connection, not found).
 *
 * @module
 */

import { BackendError, ErrorCode } from "../../core/errors.ts";
import { CommandError, lastLines } from "../../core/command.ts";

/** An rclone run that ended with a non-zero exit status. */
export class RcloneError extends CommandError {
  /** Describe a failed rclone run (`subcommand` is `cat`, `lsjson`, ...). */
  constructor(program: string, subcommand: string, code: number, stderr: string) {
    super(program, subcommand, code, stderr, digest(stderr));
    this.name = "RcloneError";
  }
}

/** rclone's log-line prefix: `2024/01/31 12:00:00 `. */
const STAMP = /^\d{4}\/\d\d\/\d\d \d\d:\d\d:\d\d(?:\.\d+)? /;

/** Values of secret-looking parameters in connection strings (`:sftp,pass=...:`). */
const SECRET_PARAM =
  /((?:^|[,:\s])[\w-]*(?:pass|secret|token|key)[\w-]*=)("[^"]*"|'[^']*'|[^,:\s]*)/gi;

/** What stderr says, briefly: its last error lines, timestamps and secrets removed. */
function digest(stderr: string): string {
  const lines = stderr.split(/\r?\n/).map((l) => l.replace(STAMP, "").trim()).filter(Boolean);
  const errors = lines.filter((l) => /^(ERROR|CRITICAL|Failed|Fatal)/i.test(l));
  return lastLines((errors.length ? errors : lines).join("\n"), 2).replace(SECRET_PARAM, "$1***");
}

/** Patterns in rclone's error lines, most specific first. */
const PATTERNS: ReadonlyArray<readonly [RegExp, ErrorCode]> = [
  [
    /didn't find section in config file|couldn't find type|unknown (?:backend|remote)|config file .*not found|unknown flag|unknown command/i,
    ErrorCode.user_error,
  ],
  [
    /knownhosts|host key (?:mismatch|verification)|key is unknown/i,
    ErrorCode.backend_untrusted_host,
  ],
  [
    /unable to authenticate|permission denied|access denied|forbidden|unauthori[sz]ed|invalid credentials|authentication failed|\b40[13]\b/i,
    ErrorCode.backend_permission_denied,
  ],
  [
    /no space left|quota|insufficient (?:storage|space)|disk full|\b507\b/i,
    ErrorCode.backend_no_space,
  ],
  [
    /connection refused|no such host|network is unreachable|i\/o timeout|connection reset|couldn't connect|dial tcp/i,
    ErrorCode.connection_failed,
  ],
  [/directory not found|object not found|doesn't exist|not found/i, ErrorCode.backend_not_found],
];

/** Exit statuses with a meaning of their own (rclone's documented list). */
const EXIT_CODES: Readonly<Record<number, ErrorCode>> = {
  3: ErrorCode.backend_not_found, // directory not found
  4: ErrorCode.backend_not_found, // file not found
  7: ErrorCode.backend_permission_denied, // fatal: retrying cannot help (account suspended, ...)
  10: ErrorCode.backend_timeout, // --max-duration exceeded
};

/** The code for an rclone failure, or `undefined` for anything else. */
export function errorCode(err: unknown): ErrorCode | undefined {
  if (err instanceof BackendError) return err.code;
  if (!(err instanceof RcloneError)) return undefined;
  if (err.code === 3 || err.code === 4) return ErrorCode.backend_not_found;
  const lines = err.stderr.split(/\r?\n/).filter((l) => /ERROR|CRITICAL|Failed|Fatal/i.test(l));
  const text = (lines.length ? lines : [err.stderr]).join("\n");
  for (const [re, code] of PATTERNS) if (re.test(text)) return code;
  return EXIT_CODES[err.code] ?? ErrorCode.backend_command_error;
}

/** Whether a failure means the file or folder is not there. */
export function isNotFound(err: unknown): boolean {
  return errorCode(err) === ErrorCode.backend_not_found;
}

/**
 * A {@linkcode BackendError} for an rclone failure (its message names the
 * subcommand, the exit status and rclone's last error line); any other
 * error is returned as it is.
 */
export function toBackendError(err: unknown): BackendError | unknown {
  if (!(err instanceof RcloneError)) return err;
  return new BackendError(err.message, { code: errorCode(err)!, cause: err });
}
