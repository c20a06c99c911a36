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

/** Words in a reply that mean "the name is longer than the server takes". */
const TOO_LONG_TEXT = /too long|ENAMETOOLONG/i;

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
    if (c >= 500 && TOO_LONG_TEXT.test(err.message)) return ErrorCode.backend_unsupported;
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
 * - `"auth-tls"`: the server refused `AUTH TLS` (no explicit FTPS, 59);
 * - `"too-long"`: a command naming something longer than a server's usual
 *   limit (255 bytes per name) failed: the name is the likely cause (59).
 */
type Step = "refused" | "enter" | "rename" | "auth-tls" | "too-long";

/**
 * Where the store is, so that messages show it as the user named it: the
 * server's absolute folder is cut from replies (`/srv/ftp/backups/x` → `x`).
 */
export interface Where {
  /** The store's folder as an absolute server path, once known. */
  folder?: string | undefined;
  /** The folder as the URL gives it, shown instead. */
  shown?: string | undefined;
}

/**
 * Turn a library error into a short {@linkcode BackendError} with its code
 * (`step` says where an FTP reply came from; `where` cuts the server's
 * absolute folder from the message); an error with no known code comes
 * back as it is.
 */
export function toBackendError(
  err: unknown,
  step?: Step,
  where: Where = {},
): BackendError | unknown {
  if (err instanceof BackendError) return relative(err, where);
  return relative(translate(err, step), where);
}

function translate(err: unknown, step: Step | undefined): BackendError | unknown {
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
      case "too-long":
        return new BackendError(`the name is too long for the server (${said})`, {
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
    else if (code === ErrorCode.backend_unsupported) {
      reason = `the name is too long for the server (${said})`;
    } else reason = said;
  } else {
    const why = reasonOf(err).replace(/^Client is closed because /, "");
    reason = tlsReason(err, why) ?? why;
  }
  return new BackendError(reason, { code, cause: err });
}

/** `err` with the server's absolute folder cut from its message (a new error only when it changes). */
function relative(err: BackendError | unknown, where: Where): BackendError | unknown {
  const abs = where.folder?.replace(/\/+$/, "");
  if (!(err instanceof BackendError) || !abs || !err.message.includes(abs)) return err;
  const message = err.message.split(`${abs}/`).join("").split(abs).join(where.shown || ".");
  return new BackendError(message, { code: err.code, cause: err.cause });
}
