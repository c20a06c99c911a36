/**
 * Uploads and downloads: a local file to a remote one and back, and the
 * streams of `_openRead` (a byte range) and `_openWrite`, all over the
 * pipelines of `writer.ts` and `reader.ts`, so memory stays flat with file
 * size. A download opens and stats the file in one round trip.
 *
 * @module
 */

import type { OperationContext } from "../../core/backend.ts";
import { BackendError, ErrorCode } from "../../core/errors.ts";
import { readFull } from "../../core/local_file.ts";
import type { ReadRange } from "../../core/streams.ts";
import { ReadPipeline } from "./reader.ts";
import type { Session } from "./session.ts";
import { S_IFDIR, S_IFMT } from "./sftp_wire.ts";
import { abortable, HandleWriter, type TransferOptions } from "./writer.ts";

/** Open `remote` for writing (created or truncated), leaving the handle closed on failure. */
export async function openForWrite(
  s: Session,
  remote: string,
  ctx?: OperationContext,
): Promise<Uint8Array> {
  const opening = s.client.open(remote, true);
  try {
    const handle = await abortable(opening, s, ctx?.signal);
    await s.sized; // asked before the OPEN: answered by now
    return handle;
  } catch (err) {
    opening.then((h) => s.client.close(h)).catch(() => {});
    throw err;
  }
}

/**
 * Upload `localPath` to `remote` with pipelined writes, then flush and
 * close it: the bytes written, every one acknowledged by the server. On
 * failure the handle is closed; removing `remote` is the caller's.
 */
export async function uploadFile(
  s: Session,
  localPath: string,
  remote: string,
  opts: TransferOptions,
  ctx?: OperationContext,
): Promise<number> {
  // The OPEN goes out first; the local file opens while it travels.
  const opening = openForWrite(s, remote, ctx);
  opening.catch(() => {}); // awaited below, once the local file is open
  let file: Deno.FsFile;
  try {
    file = await Deno.open(localPath, { read: true });
  } catch (err) {
    opening.then((h) => s.client.close(h)).catch(() => {});
    throw err;
  }
  try {
    // A file that fits one WRITE is read while the OPEN travels: its WRITE
    // (with the flush and the CLOSE) leaves the moment the handle is back.
    const size = ctx?.size;
    const early = size !== undefined && size > 0 && size < s.writeLen
      ? await readSmall(file, size)
      : undefined;
    const w = new HandleWriter(s, await opening, opts, ctx, size);
    try {
      if (early) {
        if (early.length) {
          const buf = await w.buffer();
          buf.set(early, w.hdr);
          w.send(buf, early.length);
        }
        return await w.finish();
      }
      for (let got = 0;;) {
        const buf = await w.buffer();
        const len = w.len;
        // The size the wrapper read: no further read to learn the end (a file
        // that grows meanwhile is stored as it was when its size was taken).
        const left = ctx?.size === undefined ? len : Math.min(len, ctx.size - got);
        const n = left <= 0 ? 0 : await readFull(file, buf.subarray(w.hdr, w.hdr + left));
        got += n;
        if (n === 0) {
          w.release(buf);
          break;
        }
        w.send(buf, n);
        if (n < len) break;
      }
      return await w.finish();
    } catch (err) {
      w.abandon();
      throw err;
    }
  } finally {
    file.close();
  }
}

/**
 * Open `remote` for reading and stat it in one round trip: the handle and
 * the size (`Infinity` when the server does not say). A folder is code 52.
 */
export async function openForRead(
  s: Session,
  remote: string,
  ctx?: OperationContext,
): Promise<{ handle: Uint8Array; size: number }> {
  const [opened, stat] = await abortable(
    Promise.allSettled([s.client.open(remote, false), s.client.stat(remote), s.sized]),
    s,
    ctx?.signal,
  );
  const close = () => {
    if (opened.status === "fulfilled") s.client.close(opened.value).catch(() => {});
  };
  if (opened.status === "rejected") throw opened.reason;
  if (stat.status === "rejected") {
    close();
    throw stat.reason;
  }
  if (((stat.value.mode ?? 0) & S_IFMT) === S_IFDIR) {
    close();
    throw new BackendError("it is a folder, not a file", { code: ErrorCode.backend_not_found });
  }
  return { handle: opened.value, size: stat.value.size ?? Infinity };
}

/** Download `remote` to `localPath` with pipelined reads, writing the file in order. */
export async function downloadFile(
  s: Session,
  remote: string,
  localPath: string,
  opts: TransferOptions,
  ctx?: OperationContext,
): Promise<void> {
  const { handle, size } = await openForRead(s, remote, ctx);
  const range = { start: 0, end: Infinity, size };
  const reader = new ReadPipeline(s, handle, range, { ...opts, reuse: true }, ctx);
  let out: Deno.FsFile | undefined;
  try {
    out = await Deno.open(localPath, { write: true, create: true, truncate: true });
    for (let piece = await reader.next(); piece; piece = await reader.next()) {
      let off = 0;
      while (off < piece.length) off += await out.write(piece.subarray(off));
      reader.recycle(piece);
    }
    if (reader.shrunk) {
      throw new BackendError("the remote file became shorter during the download", {
        code: ErrorCode.backend_error,
      });
    }
  } finally {
    reader.cancel();
    out?.close();
    // Nothing to learn from the answer: the close is not waited for.
    if (!s.closed) s.client.close(handle).catch(() => {});
  }
}

/**
 * The bytes `range` of an open file of `size` bytes, as a stream that
 * reads ahead within the pipeline's bound; the handle is closed when the
 * stream ends, fails or is cancelled.
 */
export function rangeStream(
  s: Session,
  opened: { handle: Uint8Array; size: number },
  range: ReadRange,
  opts: TransferOptions,
  ctx?: OperationContext,
): ReadableStream<Uint8Array> {
  const end = range.length === undefined ? Infinity : range.offset + range.length;
  const reader = new ReadPipeline(
    s,
    opened.handle,
    { start: range.offset, end, size: opened.size },
    opts,
    ctx,
  );
  let shut = false;
  const close = () => {
    if (shut) return;
    shut = true;
    reader.cancel();
    if (!s.closed) s.client.close(opened.handle).catch(() => {});
  };
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        const piece = await reader.next();
        if (piece) return controller.enqueue(piece);
        close();
        controller.close();
      } catch (err) {
        close();
        throw err;
      }
    },
    cancel: close,
  }, { highWaterMark: 0 });
}

/**
 * A stream that writes to an open handle, filling whole requests: on
 * `close()` the writes are finished and `commit(bytes)` renames into place;
 * on `abort()`, or a failed write or commit, `discard()` removes what was
 * written.
 */
export function writeStream(
  s: Session,
  handle: Uint8Array,
  opts: TransferOptions,
  ctx: OperationContext | undefined,
  commit: (bytes: number) => Promise<void>,
  discard: () => Promise<void>,
): WritableStream<Uint8Array> {
  const w = new HandleWriter(s, handle, opts, ctx);
  let cur: Uint8Array | undefined;
  let used = 0;
  let over = false;
  const fail = async () => {
    if (over) return;
    over = true;
    w.abandon();
    await discard();
  };
  return new WritableStream<Uint8Array>({
    async write(chunk) {
      try {
        for (let off = 0; off < chunk.length;) {
          cur ??= await w.buffer();
          const n = Math.min(w.len - used, chunk.length - off);
          cur.set(chunk.subarray(off, off + n), w.hdr + used);
          used += n;
          off += n;
          if (used === w.len) {
            w.send(cur, used);
            cur = undefined;
            used = 0;
          }
        }
      } catch (err) {
        await fail();
        throw err;
      }
    },
    async close() {
      try {
        if (cur && used) w.send(cur, used);
        else if (cur) w.release(cur);
        cur = undefined;
        const bytes = await w.finish();
        await commit(bytes);
        over = true;
      } catch (err) {
        await fail();
        throw err;
      }
    },
    abort: fail,
  });
}

/** The first `size` bytes of `f` (fewer if it shrank). */
async function readSmall(f: Deno.FsFile, size: number): Promise<Uint8Array> {
  const buf = new Uint8Array(size);
  return buf.subarray(0, await readFull(f, buf));
}
