/**
 * The metadata calls on the server: list a folder, `mkdir -p`, rename over
 * an existing file, remove, and stat many names a few at a time.
 *
 * @module
 */

import type { Buffer } from "node:buffer";
import { posix } from "node:path";
import type { OperationContext, QueryResult } from "../../core/backend.ts";
import { eachLimited } from "../../core/concurrency.ts";
import {
  req,
  S_IFDIR,
  S_IFLNK,
  S_IFMT,
  S_IFREG,
  type Session,
  SFTP_STATUS,
  sftpCode,
} from "./session.ts";

/** The regular files in `folder` (and symlinks to them); `[]` when the folder does not exist. */
export async function listFolder(
  s: Session,
  folder: string,
  statLimit: number,
  ctx?: OperationContext,
): Promise<string[]> {
  let handle: Buffer;
  try {
    handle = await req<Buffer>(s, (cb) => s.sftp.opendir(folder, cb));
  } catch (err) {
    if (sftpCode(err) === SFTP_STATUS.NO_SUCH_FILE) return [];
    throw err;
  }
  const names: string[] = [];
  const links: string[] = [];
  try {
    // Page by page, reporting progress, until the server says EOF.
    for (let page = 0; page < 10_000_000; page++) {
      ctx?.signal.throwIfAborted();
      let entries: { filename: string; attrs: { mode: number } }[];
      try {
        entries = await req(s, (cb) => s.sftp.readdir(handle, cb));
      } catch (err) {
        if (sftpCode(err) === SFTP_STATUS.EOF) break;
        throw err;
      }
      ctx?.progress();
      for (const e of entries) {
        const type = e.attrs.mode & S_IFMT;
        if (type === S_IFREG) names.push(e.filename);
        else if (type === S_IFLNK) links.push(e.filename);
      }
    }
  } finally {
    if (!s.closed) await req<void>(s, (cb) => s.sftp.close(handle, cb)).catch(() => {});
  }
  // A symlink counts when it points to a regular file, as for file://.
  const inFolder = (n: string) => folder === "." ? n : posix.join(folder, n);
  const sizes = await statMany(s, links, inFolder, statLimit, ctx);
  for (const n of links) if ((sizes[n]?.size ?? -1) >= 0) names.push(n);
  return names;
}

/** The sizes of `names` (at `pathOf(name)`), `-1` for missing ones and non-files, `limit` at a time. */
export async function statMany(
  s: Session,
  names: readonly string[],
  pathOf: (name: string) => string,
  limit: number,
  ctx?: OperationContext,
): Promise<Record<string, QueryResult>> {
  const out: Record<string, QueryResult> = {};
  await eachLimited(
    names,
    limit,
    async (n) => {
      try {
        const st = await req<{ mode: number; size: number }>(s, (cb) => s.sftp.stat(pathOf(n), cb));
        out[n] = { size: (st.mode & S_IFMT) === S_IFREG ? st.size : -1 };
      } catch (err) {
        if (sftpCode(err) !== SFTP_STATUS.NO_SUCH_FILE) throw err;
        out[n] = { size: -1 };
      }
      ctx?.progress();
    },
    undefined,
    ctx?.signal,
  );
  return out;
}

/** `mkdir -p` over SFTP: create missing parents, accept folders that exist. */
export async function mkdirp(s: Session, dir: string): Promise<void> {
  const isDir = () =>
    req<{ mode: number }>(s, (cb) => s.sftp.stat(dir, cb)).then(
      (st) => (st.mode & S_IFMT) === S_IFDIR,
      (err) => {
        if (sftpCode(err) === undefined) throw err; // the connection, not the path
        return false;
      },
    );
  if (await isDir()) return;
  const parent = posix.dirname(dir);
  if (parent !== dir && parent !== "." && parent !== "/") await mkdirp(s, parent);
  try {
    await req<void>(s, (cb) => s.sftp.mkdir(dir, cb));
  } catch (err) {
    if (!(await isDir())) throw err; // another writer may have made it meanwhile
  }
}

/**
 * Rename `from` over `to`: atomic with `posix-rename@openssh.com`; else
 * SFTPv3 rename, which refuses an existing target, so that is removed first
 * (not atomic).
 */
export async function renameOver(s: Session, from: string, to: string): Promise<void> {
  if (s.posixRename) {
    await req<void>(s, (cb) => s.sftp.ext_openssh_rename(from, to, cb));
    return;
  }
  try {
    await req<void>(s, (cb) => s.sftp.rename(from, to, cb));
  } catch (err) {
    const exists = await req<unknown>(s, (cb) => s.sftp.lstat(to, cb)).then(
      () => true,
      () => false,
    );
    if (!exists) throw err;
    await removeFile(s, to);
    await req<void>(s, (cb) => s.sftp.rename(from, to, cb));
  }
}

/** Remove a file; a missing one is fine. */
export async function removeFile(s: Session, path: string): Promise<void> {
  try {
    await req<void>(s, (cb) => s.sftp.unlink(path, cb));
  } catch (err) {
    if (sftpCode(err) === SFTP_STATUS.NO_SUCH_FILE) return;
    // Some servers answer a generic failure for a missing file: check.
    if (sftpCode(err) === SFTP_STATUS.FAILURE) {
      const gone = await req<unknown>(s, (cb) => s.sftp.lstat(path, cb)).then(
        () => false,
        (e) => sftpCode(e) === SFTP_STATUS.NO_SUCH_FILE,
      );
      if (gone) return;
    }
    throw err;
  }
}

/** Remove several files, `limit` at a time; missing ones are fine. */
export async function removeMany(
  s: Session,
  paths: readonly string[],
  limit: number,
  ctx?: OperationContext,
): Promise<void> {
  await eachLimited(
    paths,
    limit,
    async (path) => {
      await removeFile(s, path);
      ctx?.progress();
    },
    undefined,
    ctx?.signal,
  );
}
