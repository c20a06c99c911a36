/**
 * Debris left by processes that could not clean up (`kill -9`, a power cut):
 * temporary uploads on the store and partial downloads on the local disk.
 * A temporary name carries the time it was made, so a stale one is told from
 * a fresh one another process is still writing on any store; a local part
 * file by its modification time, which a running download keeps moving.
 *
 * @module
 */

import { join } from "./paths.ts";
import { isPartFile } from "./local_file.ts";
import { isTempName, tempNameTime } from "./names.ts";

/** Temporaries older than this are debris by default: one hour. */
export const DEFAULT_STALE_AFTER = 3_600_000;

/** Store locations swept for stale temporary uploads in this process. */
const sweptLocations = new Set<string>();

/** Whether `where` (a store's URL) is swept for the first time in this process; marks it swept. */
export function firstSweepOf(where: string): boolean {
  if (sweptLocations.has(where)) return false;
  sweptLocations.add(where);
  return true;
}

/** The temporary upload names among `names` made more than `olderThan` ms before `now`. */
export function staleTempNames(
  names: readonly string[],
  olderThan: number = DEFAULT_STALE_AFTER,
  now: number = Date.now(),
): string[] {
  return names.filter((n) => {
    if (!isTempName(n)) return false;
    const t = tempNameTime(n);
    return t !== undefined && now - t > olderThan;
  });
}

/**
 * Remove the partial downloads (`.NAME.stowage-part-*`) in a local folder
 * whose last write is more than `olderThan` ms before `now`; returns the
 * paths removed. Errors (a file gone already, no permission) are skipped.
 */
export async function removeStaleParts(
  folder: string,
  olderThan: number = DEFAULT_STALE_AFTER,
  now: number = Date.now(),
): Promise<string[]> {
  const removed: string[] = [];
  try {
    for await (const e of Deno.readDir(folder)) {
      if (!e.isFile || !isPartFile(e.name)) continue;
      const path = join(folder, e.name);
      try {
        const mtime = (await Deno.stat(path)).mtime?.getTime();
        if (mtime === undefined || now - mtime <= olderThan) continue;
        await Deno.remove(path);
        removed.push(path);
      } catch {
        // gone already, or not ours to remove
      }
    }
  } catch {
    // an unreadable folder holds nothing we can clean
  }
  return removed;
}
