/**
 * One live SSH connection with its SFTP channel, as both engines hand it
 * over, and the request helper every SFTP call goes through: a request on a
 * lost connection fails at once with code 38 instead of waiting forever.
 *
 * @module
 */

import type { Buffer } from "node:buffer";
// @ts-types="npm:@types/ssh2@^1.15.0"
import type { SFTPWrapper } from "ssh2";
import { BackendError, ErrorCode } from "../../core/errors.ts";
import type { ParsedUrl } from "../../core/url.ts";
import type { PasswordSource } from "./auth.ts";
import type { SftpSettings } from "./options.ts";

/** SFTP status codes (draft-ietf-secsh-filexfer-02). */
export const SFTP_STATUS = {
  EOF: 1,
  NO_SUCH_FILE: 2,
  PERMISSION_DENIED: 3,
  FAILURE: 4,
  NO_CONNECTION: 6,
  CONNECTION_LOST: 7,
  OP_UNSUPPORTED: 8,
} as const;

/** The file type bits of a mode, and the types this backend tells apart. */
export const S_IFMT = 0o170000;
/** A regular file. */
export const S_IFREG = 0o100000;
/** A symbolic link. */
export const S_IFLNK = 0o120000;
/** A folder. */
export const S_IFDIR = 0o040000;

/** One live connection with its SFTP channel. */
export interface Session {
  /** ssh2's SFTP client. */
  sftp: SFTPWrapper;
  /** Ends the connection gracefully. */
  end: () => void;
  /** Ends the connection at once. */
  destroy: () => void;
  /** Set when the connection or the SFTP channel ended. */
  closed: boolean;
  /** Resolves when the client has fully closed. */
  closedPromise: Promise<void>;
  /** Why the session ended (code 38), once it has. */
  lostError?: BackendError;
  /** Called once when the connection is lost: fails the requests and transfers in progress. */
  watchers: Set<(err: BackendError) => void>;
  /** The server offers `posix-rename@openssh.com` (atomic overwrite). */
  posixRename: boolean;
  /** The server offers `fsync@openssh.com`. */
  fsync: boolean;
  /** Bytes per READ request. */
  readLen: number;
  /** Bytes per WRITE request. */
  writeLen: number;
  /**
   * Send a WRITE request whose packet the caller built (see `writeHeader`),
   * without ssh2 copying it; `false` when it must go through `sftp.write`.
   * The packet's memory may be reused once `done` is called.
   */
  sendWrite?: (packet: Buffer, done: (err?: Error | null) => void) => boolean;
}

/** What an engine needs to open a session. */
export interface OpenParams {
  /** The store's URL (host, port, user, password). */
  url: ParsedUrl;
  /** The parsed options. */
  settings: SftpSettings;
  /** The request size wanted (capped by what the server accepts). */
  chunk: number;
  /** The password, asked only when a login needs it. */
  password: PasswordSource;
  /** Stops the login. */
  signal?: AbortSignal;
  /** Called while the login waits for the user, so no-progress timeouts wait too. */
  progress?: () => void;
}

/** The SFTP status code of an error, when it carries one. */
export function sftpCode(err: unknown): number | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === "number" ? code : undefined;
}

/** An SFTP request on a session: fails at once (code 38) when the connection is gone or goes. */
export function req<T>(
  s: Session,
  fn: (cb: (err: Error | null | undefined, value?: T) => void) => void,
): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    if (s.closed) return reject(lostError(s));
    s.watchers.add(reject);
    try {
      fn((err, value) => {
        s.watchers.delete(reject);
        if (err) reject(err);
        else resolve(value as T);
      });
    } catch (err) {
      s.watchers.delete(reject);
      reject(err);
    }
  });
}

/** Whether the session answers a cheap request within `ms`. */
export async function alive(s: Session, ms: number): Promise<boolean> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<boolean>((r) => timer = setTimeout(() => r(false), ms));
  try {
    return await Promise.race([
      req<string>(s, (cb) => s.sftp.realpath(".", cb)).then(() => true, () => false),
      timeout,
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** Why a session is unusable: the error it was lost with (code 38). */
export function lostError(s: Session): BackendError {
  return s.lostError ??
    new BackendError("the connection was lost", { code: ErrorCode.connection_failed });
}

/** Mark a session lost (once): fail every request and transfer waiting on it with code 38. */
export function markLost(session: Session, where: string): void {
  if (session.closed) return;
  session.closed = true;
  const err = new BackendError(`the connection to ${where} was lost`, {
    code: ErrorCode.connection_failed,
  });
  session.lostError = err;
  const watchers = [...session.watchers];
  session.watchers.clear();
  for (const w of watchers) w(err);
}
