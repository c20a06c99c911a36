/**
 * What a copy or sync will do, decided from the two listings alone (pure, so
 * it is tested without stores): copy what is missing or differs in size,
 * skip what is there with the same size (compare checksums first with
 * `--checksum`), and for sync delete what the source no longer has — unless
 * that is more than the safety threshold.
 *
 * @module
 */

import { BackendError, ErrorCode } from "../core/errors.ts";
import type { Listing } from "./places.ts";

/** What to do with one source file. */
export type Decision = "copy" | "skip" | "compare";

/**
 * The decision for a source file of `srcSize` bytes when the destination has
 * `dstSize` (`undefined`: not there; `null`: size unknown).
 */
export function decide(
  srcSize: number | null,
  dstSize: number | null | undefined,
  options: { force?: boolean; checksum?: boolean } = {},
): Decision {
  if (dstSize === undefined || options.force) return "copy";
  if (srcSize === null || dstSize === null || srcSize !== dstSize) return "copy";
  return options.checksum ? "compare" : "skip";
}

/** One folder's plan. */
export interface FolderPlan {
  /** Source names to copy, with their sizes. */
  copy: [string, number | null][];
  /** Source names already there with the same size. */
  skip: [string, number | null][];
  /** Same size on both sides: copy only when the checksums differ. */
  compare: [string, number | null][];
  /** Destination names the source does not have (deleted by sync). */
  extra: string[];
}

/**
 * Plan one folder. `only` restricts the source to those names (a named
 * file the source lacks is reported by the caller).
 */
export function planFolder(
  src: Listing,
  dst: Listing,
  options: { force?: boolean; checksum?: boolean; only?: Set<string> } = {},
): FolderPlan {
  const plan: FolderPlan = { copy: [], skip: [], compare: [], extra: [] };
  for (const [name, size] of [...src].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    if (options.only && !options.only.has(name)) continue;
    plan[decide(size, dst.get(name), options)].push([name, size]);
  }
  for (const name of [...dst.keys()].sort()) {
    if (!src.has(name)) plan.extra.push(name);
  }
  return plan;
}

/** The safety net for sync's deletions. */
export interface DeleteLimits {
  /** Most files deleted without `--force`; default 100. */
  maxFiles: number;
  /** Most deleted, as a percentage of the destination's files; default 50. */
  maxPercent: number;
}

/** The default limits: 50 % of the destination or 100 files, whichever is hit first. */
export const DEFAULT_DELETE_LIMITS: DeleteLimits = { maxFiles: 100, maxPercent: 50 };

/**
 * Why deleting `deletes` of the destination's `destFiles` files is refused
 * (more than `maxFiles`, or more than `maxPercent` of them), or `undefined`.
 */
export function deleteRefusal(
  deletes: number,
  destFiles: number,
  limits: DeleteLimits = DEFAULT_DELETE_LIMITS,
): string | undefined {
  if (deletes === 0) return undefined;
  const pct = destFiles > 0 ? (deletes / destFiles) * 100 : 100;
  if (deletes > limits.maxFiles) {
    return `it would delete ${deletes} files, more than the limit of ${limits.maxFiles}`;
  }
  if (pct > limits.maxPercent) {
    return `it would delete ${deletes} of ${destFiles} files (${
      Math.round(pct)
    } %), more than ${limits.maxPercent} %`;
  }
  return undefined;
}

/** The error that stops a sync whose deletions exceed the limits (code 23, before any change). */
export function refuseDeletes(where: string, why: string): BackendError {
  return new BackendError(
    `Refusing to sync to "${where}": ${why}; is the source right? Pass --force to delete anyway`,
    { code: ErrorCode.user_error, operation: "sync" },
  );
}
