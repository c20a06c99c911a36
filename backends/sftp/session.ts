/**
 * One live SSH connection with its SFTP session, as both engines hand it
 * over, and the few things every caller does with it: notice it is lost
 * (every request waiting fails at once with code 38), and probe it.
 *
 * @module
 */

import { BackendError, ErrorCode } from "../../core/errors.ts";
import type { ParsedUrl } from "../../core/url.ts";
import type { PasswordSource } from "./auth.ts";
import type { SftpSettings } from "./options.ts";
import type { SftpClient } from "./sftp_client.ts";

/** One live connection with its SFTP session. */
export interface Session {
  /** The SFTP client. */
  client: SftpClient;
  /** Ends the connection gracefully. */
  end: () => void;
  /** Ends the connection at once. */
  destroy: () => void;
  /** Set when the connection or the SFTP session ended. */
  closed: boolean;
  /** Resolves when the transport has fully closed. */
  closedPromise: Promise<void>;
  /** Why the session ended (code 38), once it has. */
  lostError?: BackendError;
  /** The server offers `posix-rename@openssh.com` (atomic overwrite). */
  posixRename: boolean;
  /** The server offers `fsync@openssh.com`. */
  fsync: boolean;
  /**
   * The server handles requests strictly one after another, in the order
   * sent (OpenSSH's sftp-server), so a flush sent right behind the writes
   * covers them.
   */
  inOrder: boolean;
  /** Bytes per READ request (final once `sized` resolved). */
  readLen: number;
  /** Bytes per WRITE request (final once `sized` resolved). */
  writeLen: number;
  /** Resolves once the server's limits are known and the request sizes final (see {@linkcode sized}). */
  sized: Promise<void>;
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
  /** How long the login may take, in ms: the connectTimeout option, or the caller's shorter timeout. */
  loginTimeout: number;
  /** Stops the login. */
  signal?: AbortSignal;
  /** Called while the login waits for the user, so no-progress timeouts wait too. */
  progress?: () => void;
}

/** The server software is OpenSSH (or dropbear, which takes the same request sizes). */
export function isOpenSshServer(software: string | undefined): boolean {
  return /^(OpenSSH|dropbear)/i.test(software ?? "");
}

/** Bring the request sizes of `s` up to date once the server's limits are known. */
export async function sized(s: Session, chunk: number): Promise<void> {
  await s.client.sized;
  s.readLen = Math.min(chunk, s.client.maxRead);
  s.writeLen = Math.min(chunk, s.client.maxWrite);
}

/** Session facts from the SFTP extensions and the server software. */
export function sessionFacts(
  client: SftpClient,
  software: string | undefined,
  chunk: number,
): Pick<Session, "posixRename" | "fsync" | "inOrder" | "readLen" | "writeLen" | "sized"> {
  const ext = client.extensions;
  const fsync = ext["fsync@openssh.com"] === "1";
  return {
    posixRename: ext["posix-rename@openssh.com"] === "1",
    fsync,
    // OpenSSH's sftp-server is one loop that answers each request before
    // reading the next; it is the one announcing these two with an OpenSSH server.
    inOrder: /^OpenSSH/i.test(software ?? "") && fsync && ext["limits@openssh.com"] === "1",
    readLen: Math.min(chunk, client.maxRead),
    writeLen: Math.min(chunk, client.maxWrite),
    sized: Promise.resolve(), // replaced by the engine with sized(session, chunk)
  };
}

/** Whether the session answers a cheap request within `ms`. */
export async function alive(s: Session, ms: number): Promise<boolean> {
  if (s.closed) return false;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<boolean>((r) => timer = setTimeout(() => r(false), ms));
  try {
    return await Promise.race([
      s.client.realpath(".").then(() => true, () => false),
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

/** Mark a session lost (once): every request waiting on it fails with code 38. */
export function markLost(session: Session, where: string): void {
  if (session.closed) return;
  session.closed = true;
  const err = new BackendError(`the connection to ${where} was lost`, {
    code: ErrorCode.connection_failed,
  });
  session.lostError = err;
  session.client.fail(err);
}
