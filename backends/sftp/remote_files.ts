/**
 * The metadata calls on the server: list a folder (several READDIR requests
 * in flight), `mkdir -p`, rename over an existing file, remove, and stat
 * many names a few at a time.
 *
 * @module
 */

import type { OperationContext, QueryResult } from "../../core/backend.ts";
import { eachLimited } from "../../core/concurrency.ts";
import { BackendError, ErrorCode } from "../../core/errors.ts";
import type { Session } from "./session.ts";
import {
  type DirEntry,
  S_IFDIR,
  S_IFLNK,
  S_IFMT,
  S_IFREG,
  SFTP_STATUS,
  sftpCode,
} from "./sftp_wire.ts";
import { abortable } from "./writer.ts";

/** READDIR requests in flight while listing, at most (each answers up to ~100 names on OpenSSH). */
const READDIR_DEPTH = 8;

/** `folder` joined with `name` (`.` is the login folder). */
export function inFolder(folder: string, name: string): string {
  return folder === "." ? name : folder.endsWith("/") ? folder + name : `${folder}/${name}`;
}

/**
 * The regular files in `folder` (and symlinks to them). A folder that does
 * not exist is code 52, naming it as `shown`.
 */
export async function listFolder(
  s: Session,
  folder: string,
  shown: string,
  statLimit: number,
  ctx?: OperationContext,
): Promise<string[]> {
  let handle: Uint8Array;
  try {
    handle = await abortable(s.client.opendir(folder), s, ctx?.signal);
  } catch (err) {
    if (sftpCode(err) === SFTP_STATUS.NO_SUCH_FILE) {
      throw new BackendError(`no such folder "${shown}"`, {
        code: ErrorCode.backend_not_found,
        cause: err,
      });
    }
    throw err;
  }
  const names = new Set<string>();
  const links: string[] = [];
  const take = (entries: DirEntry[]) => {
    for (const e of entries) {
      const type = (e.attrs.mode ?? 0) & S_IFMT;
      if (type === S_IFREG) names.add(e.name);
      else if (type === S_IFLNK) links.push(e.name);
    }
  };
  try {
    // Several pages asked at once; the server answers them in turn, then EOF.
    const queue: Promise<DirEntry[] | null>[] = [];
    let ended = false;
    let depth = 2; // a small folder needs two (entries, then EOF); a large one gets up to 8
    while (!ended || queue.length) {
      while (!ended && queue.length < depth) {
        const p = s.client.readdir(handle);
        p.catch(() => {});
        queue.push(p);
      }
      const page = await abortable(queue.shift()!, s, ctx?.signal);
      if (page === null) ended = true;
      else {
        take(page);
        depth = Math.min(READDIR_DEPTH, depth * 2);
        ctx?.progress();
      }
    }
  } finally {
    if (!s.closed) s.client.close(handle).catch(() => {});
  }
  // A symlink counts when it points to a regular file, as for file://.
  const sizes = await statMany(s, links, (n) => inFolder(folder, n), statLimit, ctx);
  for (const n of links) if ((sizes[n]?.size ?? -1) >= 0) names.add(n);
  return [...names];
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
        const st = await abortable(s.client.stat(pathOf(n)), s, ctx?.signal);
        out[n] = { size: ((st.mode ?? 0) & S_IFMT) === S_IFREG ? st.size ?? null : -1 };
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
    s.client.stat(dir).then(
      (st) => ((st.mode ?? 0) & S_IFMT) === S_IFDIR,
      (err) => {
        if (sftpCode(err) === undefined) throw err; // the connection, not the path
        return false;
      },
    );
  if (await isDir()) return;
  const cut = dir.replace(/\/+$/, "").lastIndexOf("/");
  const parent = cut > 0 ? dir.slice(0, cut) : cut === 0 ? "/" : ".";
  if (parent !== dir && parent !== "." && parent !== "/") await mkdirp(s, parent);
  try {
    await s.client.mkdir(dir);
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
  if (s.posixRename) return await s.client.posixRename(from, to);
  try {
    await s.client.rename(from, to);
  } catch (err) {
    const exists = await s.client.lstat(to).then(() => true, () => false);
    if (!exists) throw err;
    await removeFile(s, to);
    await s.client.rename(from, to);
  }
}

/** Remove a file; a missing one is fine. */
export async function removeFile(s: Session, path: string): Promise<void> {
  try {
    await s.client.remove(path);
  } catch (err) {
    if (sftpCode(err) === SFTP_STATUS.NO_SUCH_FILE) return;
    // Some servers answer a generic failure for a missing file: check.
    if (sftpCode(err) === SFTP_STATUS.FAILURE) {
      const gone = await s.client.lstat(path).then(
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
