/**
 * The one place FTP failures become error codes: FTP replies (basic-ftp's
 * `FTPError`), socket errors, and TLS certificate failures (through
 * `core/tls.ts`).
 *
 * @module
 */

import { FTPError } from "basic-ftp";
import { BackendError, ErrorCode, reasonOf } from "../../core/errors.ts";
import { tlsErrorCode, tlsReason } from "../../core/tls.ts";

/** Words in a 5xx reply that mean "not allowed" rather than "not there". */
const PERMISSION_TEXT = /permission|denied|not allowed|access|forbidden|not authori[sz]ed/i;

/**
 * The error code for an FTP reply, a socket error or a TLS failure, or
 * `undefined` when it is none of these.
 */
export function errorCode(err: unknown): ErrorCode | undefined {
  if (err instanceof BackendError) return err.code;
  if (err instanceof FTPError) {
    const c = err.code;
    if (c === 530 || c === 532) return ErrorCode.backend_permission_denied;
    if (c === 552 || c === 452) return ErrorCode.backend_no_space;
    if (c === 550) {
      return PERMISSION_TEXT.test(err.message)
        ? ErrorCode.backend_permission_denied
        : ErrorCode.backend_not_found;
    }
    if (c === 553) return ErrorCode.backend_permission_denied;
    if (c === 421 || c === 425 || c === 426) return ErrorCode.connection_failed;
    if (c >= 500) return ErrorCode.backend_code_error;
    return ErrorCode.backend_error;
  }
  const tls = tlsErrorCode(err);
  if (tls !== undefined) return tls;
  const code = (err as { code?: unknown } | null)?.code;
  const text = err instanceof Error ? err.message : String(err);
  if (/timeout|timed out/i.test(text)) return ErrorCode.backend_timeout;
  if (
    typeof code === "string" && /^(ECONNRESET|ECONNREFUSED|EPIPE|ECONNABORTED)$/.test(code) ||
    /closed|FIN packet|ECONNRESET|connection/i.test(text)
  ) {
    return ErrorCode.connection_failed;
  }
  return undefined;
}

/**
 * Where a failed reply came from, when that changes what it means:
 * - `"refused"`: a command on something that exists failed, so a 550 is a
 *   refusal (code 51), not "missing";
 * - `"enter"`: the store's folder exists but `CWD` into it failed (51);
 * - `"rename"`: the rename of an upload into place failed (51 when the
 *   server says so, else 50);
 * - `"auth-tls"`: the server refused `AUTH TLS` (no explicit FTPS, 59).
 */
type Step = "refused" | "enter" | "rename" | "auth-tls";

/**
 * Turn a library error into a short {@linkcode BackendError} with its code
 * (`step` says where an FTP reply came from); an error with no known code,
 * and a {@linkcode BackendError}, come back as they are.
 */
export function toBackendError(err: unknown, step?: Step): BackendError | unknown {
  if (err instanceof BackendError) return err;
  if (err instanceof FTPError) {
    const said = `server replied "${err.message.trim()}"`;
    const denied = PERMISSION_TEXT.test(err.message);
    switch (step) {
      case "refused":
        return new BackendError(`permission denied (${said})`, {
          code: ErrorCode.backend_permission_denied,
          cause: err,
        });
      case "enter":
        return new BackendError(`the folder exists but cannot be entered (${said})`, {
          code: ErrorCode.backend_permission_denied,
          cause: err,
        });
      case "rename":
        return new BackendError(`cannot rename the upload into place (${said})`, {
          code: denied ? ErrorCode.backend_permission_denied : ErrorCode.backend_error,
          cause: err,
        });
      case "auth-tls":
        return new BackendError(`the server does not offer explicit TLS (AUTH TLS: ${said})`, {
          code: ErrorCode.backend_unsupported,
          cause: err,
        });
    }
  }
  const code = errorCode(err);
  if (code === undefined) return err;
  let reason: string;
  if (err instanceof FTPError) {
    const said = `server replied "${err.message.trim()}"`;
    if (err.code === 530) reason = `login refused (${said})`;
    else if (code === ErrorCode.backend_not_found) reason = `no such file (${said})`;
    else if (code === ErrorCode.backend_permission_denied) reason = `permission denied (${said})`;
    else if (code === ErrorCode.backend_no_space) reason = `no space (${said})`;
    else reason = said;
  } else {
    const why = reasonOf(err).replace(/^Client is closed because /, "");
    reason = tlsReason(err, why) ?? why;
  }
  return new BackendError(reason, { code, cause: err });
}
