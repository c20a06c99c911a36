/**
 * The local side of a transfer: checking the file a put reads, and the
 * hidden `.NAME.stowage-part-*` file a get writes before it renames into
 * place (so a failed get leaves no file under the destination's name).
 *
 * @module
 */

import { basename, dirname, join } from "node:path";
import { BackendError, errnoCode, ErrorCode, reasonOf } from "./errors.ts";

/** The marker in the names of partial downloads. */
export const PART_MARKER = ".stowage-part-";

/**
 * Check the local file of a put or move: it exists and is a regular file.
 * Returns its size (read once, handed to the backend as `ctx.size`).
 */
export async function checkLocalFile(
  localPath: string,
  operation: string,
  name: string,
): Promise<number> {
  let info: Deno.FileInfo;
  try {
    info = await Deno.stat(localPath);
  } catch (err) {
    const code = errnoCode(err) ?? ErrorCode.backend_error;
    const reason = code === ErrorCode.backend_not_found ? "no such local file" : reasonOf(err);
    throw new BackendError(`Cannot ${operation} "${localPath}" as "${name}": ${reason}`, {
      code,
      operation,
      cause: err,
    });
  }
  if (!info.isFile) {
    throw new BackendError(`Cannot ${operation} "${localPath}": not a regular file`, {
      code: ErrorCode.user_error,
      operation,
    });
  }
  return info.size;
}

/** Check that the folder a get writes into exists (code 52 naming it otherwise). */
export async function checkLocalFolder(localPath: string, name: string): Promise<void> {
  const folder = dirname(localPath);
  const isDir = await Deno.stat(folder).then((i) => i.isDirectory, () => false);
  if (!isDir) {
    throw new BackendError(
      `Cannot get "${name}" to "${localPath}": the local folder "${folder}" does not exist`,
      { code: ErrorCode.backend_not_found, operation: "get" },
    );
  }
}

/** A fresh hidden name next to `localPath` for a download in progress. */
export function partFileFor(localPath: string): string {
  return join(
    dirname(localPath),
    `.${basename(localPath).slice(0, 60)}${PART_MARKER}${crypto.randomUUID().slice(0, 8)}`,
  );
}

/** Whether a local file name is a partial download of stowage's. */
export function isPartFile(name: string): boolean {
  return name.startsWith(".") && name.includes(PART_MARKER);
}

/**
 * Finish a download written to `tmp`: it must exist (and have `size` bytes
 * when given, else code 56), then it is renamed to `localPath`.
 */
export async function landDownload(tmp: string, localPath: string, size?: number): Promise<void> {
  let info: Deno.FileInfo | undefined;
  try {
    info = await Deno.stat(tmp);
  } catch {
    info = undefined;
  }
  if (!info?.isFile) {
    throw new BackendError("the file was not found locally after the download", {
      code: ErrorCode.backend_error,
    });
  }
  if (size !== undefined && size >= 0 && info.size !== size) {
    throw new BackendError(`downloaded ${info.size} bytes but the stored file has ${size}`, {
      code: ErrorCode.backend_validation_failed,
    });
  }
  await Deno.rename(tmp, localPath);
}
