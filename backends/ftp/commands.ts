/**
 * FTP commands on a control connection, beyond what basic-ftp offers: the
 * store's folder (enter, create), SIZE, the rename of an upload into place,
 * and the clean-up of a failed upload. Names go raw on the command line
 * ({@linkcode arg}).
 *
 * @module
 */

import { FTPError, type FTPResponse } from "basic-ftp";
import { BackendError, ErrorCode } from "../../core/errors.ts";
import { errorCode, toBackendError } from "./error.ts";
import type { Connection, Session } from "./session.ts";

/** Longest name most servers' file systems take, in UTF-8 bytes (NAME_MAX). */
const NAME_MAX = 255;

/** Whether `name` is longer than most servers take: then a failure naming it is "too long" (59). */
export function tooLong(name: string): boolean {
  return new TextEncoder().encode(name).length > NAME_MAX;
}

/**
 * A name as a command argument. Names are sent raw (FTP has no quoting);
 * a leading space would be eaten by servers that trim arguments, a leading
 * `~` is expanded to a home folder by some, and a leading `-` can read as
 * an option, so such names go as `./name`.
 */
export function arg(name: string): string {
  return /^[\s~-]/.test(name) ? `./${name}` : name;
}

/** `dir/name`, with one slash. */
export function joinPath(dir: string, name: string): string {
  if (!name) return dir;
  return dir.endsWith("/") ? dir + name : `${dir}/${name}`;
}

/** An FTP error reply that leaves the control connection in step (so it can be reused). */
export function isCleanReply(err: unknown): boolean {
  if (err instanceof BackendError) return !(err.cause instanceof Error) || isCleanReply(err.cause);
  return err instanceof FTPError && ![421, 425, 426].includes(err.code);
}

/** Whether a failed reply says "no such file or folder" (not "not allowed"). */
export function saysMissing(res: FTPResponse): boolean {
  return errorCode(new FTPError(res)) === ErrorCode.backend_not_found;
}

/**
 * Change into the store's folder; `create` makes it (and its parents)
 * when missing. Returns `false` when it does not exist and was not made.
 */
export async function enterFolder(
  conn: Connection,
  folder: string,
  create: boolean,
): Promise<boolean> {
  if (conn.inFolder) return true;
  const res = await conn.client.sendIgnoringError(`CWD ${folder}`);
  if (res.code < 400) {
    conn.inFolder = true;
    return true;
  }
  if (!saysMissing(res)) throw new FTPError(res);
  if (!create) {
    // 550 means "missing" or "not allowed" on many servers: look for it.
    if (await exists(conn, folder)) throw toBackendError(new FTPError(res), "enter");
    return false;
  }
  let path = "";
  for (const part of folder.split("/").filter(Boolean)) {
    path += `/${part}`;
    if ((await conn.client.sendIgnoringError(`CWD ${path}`)).code < 400) continue;
    const made = await conn.client.sendIgnoringError(`MKD ${path}`);
    const cd = await conn.client.sendIgnoringError(`CWD ${path}`);
    if (cd.code >= 400) {
      const failed = made.code >= 400 ? made : cd;
      if (failed.code >= 500 && tooLong(part)) {
        throw toBackendError(new FTPError(failed), "too-long");
      }
      throw failed.code === 550
        ? toBackendError(new FTPError(failed), "refused")
        : new FTPError(failed);
    }
  }
  conn.inFolder = true;
  return true;
}

/** Whether a folder's entry shows in its parent's listing (to tell "missing" from "denied"). */
async function exists(conn: Connection, path: string): Promise<boolean> {
  const cut = path.lastIndexOf("/");
  const parent = cut <= 0 ? "/" : path.slice(0, cut);
  const base = path.slice(cut + 1);
  if ((await conn.client.sendIgnoringError(`CWD ${parent}`)).code >= 400) {
    return parent === "/" ? false : await exists(conn, parent);
  }
  return (await conn.client.list()).some((e) => e.name === base);
}

/** The size of a file in the current folder by SIZE, `-1` when the server has no such file. */
export async function sizeOf(conn: Connection, name: string): Promise<number> {
  const res = await conn.client.sendIgnoringError(`SIZE ${arg(name)}`);
  if (res.code === 213) {
    const n = parseInt(res.message.slice(4), 10);
    return Number.isNaN(n) ? -1 : n;
  }
  if (saysMissing(res)) return -1;
  throw new FTPError(res);
}

/** Delete a file in the current folder; a missing one is not an error. */
export async function deleteFile(conn: Connection, name: string): Promise<void> {
  const res = await conn.client.sendIgnoringError(`DELE ${arg(name)}`);
  if (res.code < 400) return;
  if (saysMissing(res) && (await sizeOf(conn, name)) === -1) return;
  // It is there but would not go: 550 here is a refusal, not "missing".
  throw res.code === 550 ? toBackendError(new FTPError(res), "refused") : new FTPError(res);
}

/**
 * RNFR/RNTO the temporary upload over the final name. Some servers refuse
 * to rename over an existing file: then the file is deleted first, and the
 * result is `false` (the overwrite was not atomic); else `true`.
 */
export async function renameOver(conn: Connection, from: string, to: string): Promise<boolean> {
  const rename = async () => {
    const rnfr = await conn.client.sendIgnoringError(`RNFR ${arg(from)}`);
    return rnfr.code >= 400 ? rnfr : await conn.client.sendIgnoringError(`RNTO ${arg(to)}`);
  };
  let res = await rename();
  if (res.code < 400) return true;
  if (res.code >= 500 && tooLong(to)) throw toBackendError(new FTPError(res), "too-long");
  if (res.code >= 500 && res.code !== 502 && (await sizeOf(conn, to)) >= 0) {
    const del = await conn.client.sendIgnoringError(`DELE ${arg(to)}`);
    if (del.code < 400) {
      res = await rename();
      if (res.code < 400) return false;
    }
  }
  const err = new FTPError(res);
  throw isCleanReply(err) ? toBackendError(err, "rename") : err;
}

/**
 * Remove a temporary upload after a failure: on the same connection when
 * it is still usable (a transfer that was given up keeps it in step, so
 * this is one round trip), else on a short-lived one of its own. Waits at
 * most the caller's timeout (`conn.timeout`). Best effort.
 */
export async function removeTemp(session: Session, conn: Connection, tmp: string): Promise<void> {
  if (!conn.client.closed) {
    // basic-ftp bounds the reply by the control connection's timeout.
    await conn.client.sendIgnoringError(`DELE ${arg(tmp)}`).catch(() => {});
    return;
  }
  let extra: Connection | undefined;
  const timeout = conn.timeout;
  try {
    extra = await session.connect(timeout > 0 ? AbortSignal.timeout(timeout) : undefined, timeout);
    await extra.client.sendIgnoringError(`DELE ${joinPath(session.absFolder, tmp)}`);
  } catch {
    // best effort: the next `stowage cleanup` finds it by its prefix
  } finally {
    extra?.client.close();
  }
}
