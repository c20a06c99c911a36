/**
 * The local side of a transfer: checking the file a put reads, and the
 * hidden `.NAME.stowage-part-*` file a get writes before it renames into
 * place (so a failed get leaves no file under the destination's name).
 *
 * @module
 */

import { basename, dirname, join } from "./paths.ts";
import { BackendError, errnoCode, ErrorCode, reasonOf } from "./errors.ts";

/** The marker in the names of partial downloads. */
export const PART_MARKER = ".stowage-part-";

/**
 * Check the local file of a put or move: it exists and is a regular file.
 * Returns its size (read once, handed to the backend as `ctx.size`).
 */
export function checkLocalFile(
  localPath: string,
  operation: string,
  name: string,
): number {
  let info: Deno.FileInfo;
  try {
    // A local stat takes microseconds; the async call's hop through the
    // runtime's thread pool costs a small put more than the stat itself.
    info = Deno.statSync(localPath);
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

/**
 * The bytes `offset` … `offset + length` of a local file as a stream (to the
 * end when `length` is undefined), read 256 KiB at a time with back
 * pressure. `onDone` runs once when the stream ends, fails or is cancelled.
 * A missing file rejects with Deno's NotFound.
 */
export async function fileRangeStream(
  path: string,
  offset: number,
  length?: number,
  onDone?: () => Promise<void> | void,
): Promise<ReadableStream<Uint8Array>> {
  const file = await Deno.open(path, { read: true });
  let closed = false;
  const done = async () => {
    if (closed) return;
    closed = true;
    try {
      file.close();
    } catch {
      // closed already
    }
    await onDone?.();
  };
  try {
    if (offset) await file.seek(offset, Deno.SeekMode.Start);
  } catch (err) {
    await done();
    throw err;
  }
  let left = length ?? Infinity;
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        if (left <= 0) {
          await done();
          return controller.close();
        }
        const buf = new Uint8Array(Math.min(256 << 10, left));
        const n = await file.read(buf);
        if (n === null) {
          await done();
          return controller.close();
        }
        left -= n;
        controller.enqueue(n === buf.length ? buf : buf.subarray(0, n));
      } catch (err) {
        await done();
        throw err;
      }
    },
    cancel: done,
  }, { highWaterMark: 1 });
}

/**
 * A stream that writes into the local file `tmp`; on `close()` it calls
 * `commit` (rename into place), on `abort()` or a failed write it removes
 * `tmp`. Each written chunk is reported to `onBytes`.
 */
export async function fileWriteStream(
  tmp: string,
  commit: () => Promise<void>,
  onBytes?: (bytes: number) => void,
): Promise<WritableStream<Uint8Array>> {
  const file = await Deno.open(tmp, { write: true, create: true, truncate: true });
  let open = true;
  const shut = () => {
    if (!open) return;
    open = false;
    try {
      file.close();
    } catch {
      // closed already
    }
  };
  const discard = async () => {
    shut();
    await Deno.remove(tmp).catch(() => {});
  };
  return new WritableStream<Uint8Array>({
    async write(chunk) {
      try {
        let off = 0;
        while (off < chunk.byteLength) off += await file.write(chunk.subarray(off));
        onBytes?.(chunk.byteLength);
      } catch (err) {
        await discard();
        throw err;
      }
    },
    async close() {
      try {
        await file.sync().catch(() => {});
        shut();
        await commit();
      } catch (err) {
        await discard();
        throw err;
      }
    },
    abort: discard,
  });
}

/** Fill `buf` from `f` as far as the file goes; returns the bytes read. */
export async function readFull(f: Deno.FsFile, buf: Uint8Array): Promise<number> {
  let off = 0;
  while (off < buf.length) {
    const n = await f.read(buf.subarray(off));
    if (n === null) break;
    off += n;
  }
  return off;
}
