/**
 * The one place SFTP and SSH failures become error codes: SFTP status codes,
 * ssh2's connection errors (by their `level`), a refused host key, and what
 * the OpenSSH client printed before it exited ({@linkcode SshLog}).
 *
 * @module
 */

import { BackendError, ErrorCode, reasonOf } from "../../core/errors.ts";
import { SFTP_STATUS, sftpCode, SftpStatusError } from "./sftp_wire.ts";
import { SshLog } from "./ssh_log.ts";

/** Linux's (and most file systems') longest file name, in bytes. */
const NAME_MAX = 255;

/** The error code for an SFTP status or an ssh2 error, or `undefined` to fall through to errno mapping. */
export function errorCode(err: unknown): ErrorCode | undefined {
  if (err instanceof BackendError) return err.code;
  const level = (err as { level?: unknown } | null)?.level;
  if (level === "client-authentication") return ErrorCode.backend_permission_denied;
  if (level === "client-socket" || level === "client-timeout" || level === "client-dns") {
    return ErrorCode.connection_failed;
  }
  const message = err instanceof Error ? err.message : String(err);
  switch (sftpCode(err)) {
    case SFTP_STATUS.NO_SUCH_FILE:
      return ErrorCode.backend_not_found;
    case SFTP_STATUS.PERMISSION_DENIED:
      return ErrorCode.backend_permission_denied;
    case SFTP_STATUS.NO_CONNECTION:
    case SFTP_STATUS.CONNECTION_LOST:
      return ErrorCode.connection_failed;
    case SFTP_STATUS.OP_UNSUPPORTED:
    case SFTP_STATUS.BAD_MESSAGE: // OpenSSH's answer to EINVAL and ENAMETOOLONG: asking again cannot help
      return ErrorCode.backend_unsupported;
  }
  if (/no space|disk full|quota|ENOSPC|EDQUOT/i.test(message)) return ErrorCode.backend_no_space;
  if (/name too long|ENAMETOOLONG/i.test(message)) return ErrorCode.backend_unsupported;
  if (
    /no response from server|not connected|connection (lost|closed|reset)|channel (closed|not open)|ECONNRESET|EPIPE/i
      .test(message)
  ) {
    return ErrorCode.connection_failed;
  }
  return undefined;
}

/** Where a login failed, for the message. */
export interface LoginContext {
  /** `host:port` as the user gave it. */
  where: string;
  /** The account, when known. */
  user?: string;
  /** The methods tried, in order (`ssh-agent`, `key /path`, `password`). */
  tried: string[];
  /** The known_hosts file new keys go to (OpenSSH messages). */
  knownHostsFile?: string;
  /** Why the host key was refused, when it was (ssh2's own check). */
  hostKeyProblem?: string;
  /** The login time limit, in ms. */
  connectTimeout: number;
}

/** Which stored file a failed request was about. */
export interface NameContext {
  /** The name as the caller gave it (store-relative). */
  name: string;
  /** The path sent to the server. */
  path: string;
}

/**
 * The coded error for a failure.
 *
 * With a {@linkcode LoginContext}: a failed login, from an ssh2 client
 * error or the {@linkcode SshLog} of an OpenSSH client that exited before
 * SFTP was ready. A refused host key is code 60, a refused login 51, a
 * connection that could not be made (or a server speaking another
 * protocol) 38, settings ssh refused 23.
 *
 * With a {@linkcode NameContext}: a request about one file. A generic
 * failure for a name longer than file systems take is code 59 (not a
 * failure worth retrying), and the server's message shows the name, never
 * the server's path. Other errors are returned as they are.
 */
export function toBackendError(err: unknown, at: NameContext): unknown;
/** A failed login (see above). */
export function toBackendError(err: unknown, at: LoginContext): BackendError;
export function toBackendError(err: unknown, at: LoginContext | NameContext): unknown {
  if ("name" in at) return fileError(err, at);
  if (at.hostKeyProblem) {
    return new BackendError(at.hostKeyProblem, {
      code: ErrorCode.backend_untrusted_host,
      cause: err,
    });
  }
  if (err instanceof BackendError) return err;
  if (err instanceof SshLog) return fromSshLog(err, at);
  const level = (err as { level?: unknown } | null)?.level;
  if (level === "client-authentication") return authFailed(at.user ?? "?", at, err);
  if (level === "client-timeout") {
    return new BackendError(`no SSH handshake with ${at.where} within ${at.connectTimeout} ms`, {
      code: ErrorCode.connection_failed,
      cause: err,
    });
  }
  const code = errorCode(err) ?? ErrorCode.connection_failed;
  return new BackendError(`cannot connect to ${at.where}: ${reasonOf(err)}`, { code, cause: err });
}

function authFailed(user: string, at: LoginContext, cause?: unknown): BackendError {
  const tried = at.tried.join(", ") || "the keys from the ssh config";
  return new BackendError(`authentication failed for "${user}" on ${at.where} (tried ${tried})`, {
    code: ErrorCode.backend_permission_denied,
    cause,
  });
}

/** A request about one file failed: code 59 for a name too long, the server's path hidden. */
function fileError(err: unknown, at: NameContext): unknown {
  if (!(err instanceof SftpStatusError)) return err;
  const bytes = new TextEncoder().encode(at.name).length;
  const generic = err.code === SFTP_STATUS.FAILURE || err.code === SFTP_STATUS.BAD_MESSAGE;
  if ((generic && bytes > NAME_MAX) || /name too long|ENAMETOOLONG/i.test(err.message)) {
    return new BackendError(`the server refused the name as too long (${bytes} bytes)`, {
      code: ErrorCode.backend_unsupported,
      cause: err,
    });
  }
  if (!err.message.includes(at.path)) return err;
  return new BackendError(err.message.replaceAll(at.path, at.name), {
    code: errorCode(err) ?? ErrorCode.backend_error,
    cause: err,
  });
}

/** The error for an ssh that ended before SFTP was ready, from what it printed. */
function fromSshLog(log: SshLog, at: LoginContext): BackendError {
  if (log.foreignGreeting) {
    return new BackendError(
      `${at.where} does not speak SSH: it greeted with "${log.foreignGreeting}"`,
      { code: ErrorCode.connection_failed },
    );
  }
  const text = log.text;
  const last = log.lines.at(-1) ?? `ssh exited with code ${log.exitCode ?? "unknown"}`;
  const label = log.target
    ? (log.target.port === 22 ? log.target.host : `[${log.target.host}]:${log.target.port}`)
    : at.where;
  const file = at.knownHostsFile ?? "~/.ssh/known_hosts";
  const fp = log.hostKey ?? "its key";
  const untrusted = (message: string) =>
    new BackendError(message, { code: ErrorCode.backend_untrusted_host });
  if (/REMOTE HOST IDENTIFICATION HAS CHANGED|HOST KEY HAS CHANGED/i.test(text)) {
    return untrusted(
      `the host key of ${label} has CHANGED (it now offers ${fp}, ${file} has another key): ` +
        `someone may be intercepting the connection; if the change is expected, remove the old entry with ` +
        `ssh-keygen -R '${label}' -f '${file}'`,
    );
  }
  if (/revoked/i.test(text) && /host key/i.test(text)) {
    return untrusted(`the host key of ${label} (${fp}) is marked @revoked`);
  }
  if (/host key is known for|Host key verification failed/i.test(text)) {
    return untrusted(
      `the host key of ${label} (${fp}) is not in ${file}; verify the fingerprint, then ` +
        `connect once with the option acceptNewHostKey=true (or add it with ssh-keyscan) to trust it`,
    );
  }
  if (log.loginRefused) return authFailed(log.user ?? at.user ?? "?", at);
  if (
    /Unknown (cipher|mac) type|Bad SSH2 (cipher|mac) spec|Bad configuration option|bad configuration options|command-line line|Can't open user config|Bad port|no argument after keyword|Unsupported option/i
      .test(text)
  ) {
    return new BackendError(`ssh refused the settings: ${last}`, { code: ErrorCode.user_error });
  }
  const unreachable =
    /Connection refused|timed out|Could not resolve|No route to host|Network is unreachable|Connection reset|Connection closed|closed by remote host|kex_exchange_identification|Broken pipe|Name or service not known/i;
  if (unreachable.test(text)) {
    const why = log.lines.findLast((l) => unreachable.test(l)) ?? last;
    return new BackendError(`cannot connect to ${at.where}: ${why}`, {
      code: ErrorCode.connection_failed,
    });
  }
  return new BackendError(`ssh to ${at.where} failed: ${last}`, {
    code: ErrorCode.backend_error,
  });
}
