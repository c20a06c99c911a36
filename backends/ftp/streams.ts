/**
 * Streamed reads and writes on a leased control connection: `REST` +
 * `RETR` for a byte range, `STOR` of a stream to a temporary name renamed
 * into place on close. Memory stays bounded: one chunk in flight, with
 * back pressure from the data connection.
 *
 * @module
 */

import { FTPError } from "basic-ftp";
import type { OperationContext } from "../../core/backend.ts";
import { BackendError, ErrorCode } from "../../core/errors.ts";
import { emptyStream, type ReadRange } from "../../core/streams.ts";
import { arg, removeTemp, renameOver, sizeOf } from "./commands.ts";
import type { Lease, Session } from "./session.ts";
import { openTransfer, type Transfer, type TransferMode } from "./transfer.ts";

/** The code-52 error for a name the server does not have. */
export function missingFile(name: string): BackendError {
  return new BackendError(`no such file "${name}"`, { code: ErrorCode.backend_not_found });
}

/**
 * The bytes `range` of `name` (in the connection's current folder) as a
 * stream that owns `lease` from the moment it is returned: it gives the
 * connection back at the end, when the range is complete (the transfer is
 * cut short), on an error, or when cancelled. A missing name rejects with
 * code 52; the caller releases the lease when this rejects.
 */
export async function readStream(
  lease: Lease,
  mode: TransferMode,
  name: string,
  range: ReadRange,
  ctx: OperationContext | undefined,
): Promise<ReadableStream<Uint8Array>> {
  const conn = lease.conn;
  if (range.length === 0) {
    // Nothing to read: one SIZE tells whether the file exists.
    if (await sizeOf(conn, name) < 0) throw missingFile(name);
    lease.release();
    return emptyStream();
  }
  let t: Transfer;
  try {
    t = await openTransfer(conn, mode, `RETR ${arg(name)}`, ctx, range.offset);
  } catch (err) {
    if (!(err instanceof FTPError)) throw err;
    const size = await sizeOf(conn, name);
    if (size < 0) throw missingFile(name);
    // Some servers refuse a restart point at or past the end: nothing to read.
    if (range.offset > 0 && range.offset >= size) {
      lease.release();
      return emptyStream();
    }
    throw err;
  }
  let left = range.length ?? Infinity;
  let over = false;
  /** Stop early (the range is complete, or the reader cancelled): the connection stays usable. */
  const stop = async () => {
    if (over) return;
    over = true;
    await t.abort();
    lease.release();
  };
  // Reads land in one reused buffer and leave as exact-size copies: a chunk
  // that kept a view of a larger buffer alive would multiply memory.
  const buf = new Uint8Array(Math.min(mode.bufferSize, left));
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        const n = await t.data.read(buf.subarray(0, Math.min(buf.length, left)));
        if (n === null) {
          over = true;
          await t.end(); // a 426 here: the server cut the file short
          lease.release();
          return controller.close();
        }
        left -= n;
        controller.enqueue(buf.slice(0, n));
        if (left <= 0) {
          await stop();
          controller.close();
        }
      } catch (err) {
        over = true;
        throw lease.release((await t.abort()) ?? err);
      }
    },
    cancel: stop,
  }, { highWaterMark: 0 });
}

/** What a completed streamed write did: bytes stored, and whether the rename over the name was atomic. */
export interface Written {
  /** Bytes the data connection carried, confirmed by the server's 226. */
  bytes: number;
  /** `false` when the server made us delete the old file before the rename. */
  atomic: boolean;
}

/**
 * A stream that uploads to the temporary name `tmp` (in the connection's
 * current folder) and renames it over `name` on `close()`, which resolves
 * only once the file is in place, then calls `committed`. A failed write,
 * `abort()`, or an abort of `ctx.signal` gives the transfer up and removes
 * the temporary file on the same connection (still in step) before
 * settling. The stream owns `lease` once returned; the caller releases it
 * when this rejects.
 */
export async function writeStream(
  lease: Lease,
  session: Session,
  tmp: string,
  name: string,
  size: number | undefined,
  ctx: OperationContext | undefined,
  committed: (written: Written) => void,
): Promise<WritableStream<Uint8Array>> {
  const conn = lease.conn;
  let t: Transfer;
  try {
    t = await openTransfer(conn, session, `STOR ${arg(tmp)}`, ctx);
  } catch (err) {
    await removeTemp(session, conn, tmp);
    throw err;
  }
  let sent = 0;
  let failing: Promise<unknown> | undefined;
  /** Give up: end the transfer, remove the temporary file, give the connection back. */
  const fail = (err: unknown) =>
    failing ??= (async () => {
      const said = await t.abort();
      await removeTemp(session, conn, tmp);
      return lease.release(said ?? err);
    })();
  return new WritableStream<Uint8Array>({
    async write(chunk) {
      try {
        let off = 0;
        while (off < chunk.byteLength) off += await t.data.write(chunk.subarray(off));
        sent += chunk.byteLength;
        ctx?.progress(chunk.byteLength);
      } catch (err) {
        throw await fail(err);
      }
    },
    async close() {
      let atomic: boolean;
      try {
        if (size !== undefined && sent !== size) {
          throw new BackendError(`${sent} bytes were written, but the size given was ${size}`, {
            code: ErrorCode.user_error,
          });
        }
        await t.data.finish();
        await t.end();
        ctx?.signal.throwIfAborted();
        atomic = await renameOver(conn, tmp, name);
      } catch (err) {
        throw await fail(err);
      }
      lease.release();
      committed({ bytes: sent, atomic });
    },
    async abort(reason) {
      await fail(reason);
    },
  });
}
