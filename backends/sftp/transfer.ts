/**
 * The upload and download paths: pipelined SFTP reads and writes (up to
 * `concurrency` outstanding requests of the session's request size, as
 * OpenSSH's sftp does with 64 × 32 KiB), streamed from and to disk so memory
 * stays flat with file size. With the OpenSSH engine, an upload reads the
 * local file straight into the WRITE packet ssh gets.
 *
 * @module
 */

import { Buffer } from "node:buffer";
import type { OperationContext } from "../../core/backend.ts";
import { BackendError, ErrorCode } from "../../core/errors.ts";
import { lostError, req, S_IFDIR, S_IFMT, type Session } from "./session.ts";

/** The default requests in flight per transfer (as OpenSSH's sftp). */
const DEFAULT_CONCURRENCY = 64;
/** With the default concurrency, the data in flight per transfer stays under this. */
const MAX_IN_FLIGHT = 8 << 20;
/** Bytes of an SFTP WRITE packet before the handle and the data: length, type, id, handle length; then offset and data length. */
const WRITE_HEADER = 4 + 1 + 4 + 4 + 8 + 4;

/** How a transfer runs. */
export interface TransferOptions {
  /** Requests in flight (the `concurrency` option); default 64, at most 8 MiB in flight. */
  concurrency?: number;
  /** Ask the server to flush an upload before closing it, when it offers `fsync@openssh.com`. */
  fsync?: boolean;
}

/** Requests in flight per transfer: the option, else 64 but at most 8 MiB (and at least 32). */
function depth(len: number, concurrency: number | undefined): number {
  return concurrency ??
    Math.min(DEFAULT_CONCURRENCY, Math.max(32, Math.floor(MAX_IN_FLIGHT / len)));
}

/** Upload `localPath` to `remote` with up to `concurrency` writes in flight, reading the file in order. */
export async function upload(
  s: Session,
  localPath: string,
  remote: string,
  opts: TransferOptions,
  ctx?: OperationContext,
): Promise<void> {
  const file = await Deno.open(localPath, { read: true });
  let handle: Buffer | undefined;
  try {
    handle = await req<Buffer>(s, (cb) => s.sftp.open(remote, "w", cb));
    const size = s.writeLen;
    const limit = depth(size, opts.concurrency);
    const hdr = s.sendWrite ? WRITE_HEADER + handle.length : 0;
    const free: Buffer[] = [];
    let made = 0;
    let inFlight = 0;
    let failed: unknown;
    let wake: (() => void) | undefined;
    const nudge = () => {
      const w = wake;
      wake = undefined;
      w?.();
    };
    const onAbort = () => {
      failed ??= ctx!.signal.reason;
      nudge();
    };
    const onLost = (err: BackendError) => {
      failed ??= err;
      nudge();
    };
    ctx?.signal.addEventListener("abort", onAbort, { once: true });
    if (s.closed) failed = lostError(s);
    s.watchers.add(onLost);
    try {
      let offset = 0;
      let eof = false;
      while (!eof && failed === undefined) {
        while (
          (inFlight >= limit || (free.length === 0 && made >= limit)) && failed === undefined
        ) {
          await new Promise<void>((r) => wake = r);
        }
        if (failed !== undefined) break;
        // Each buffer has room for the WRITE packet header, so the file is
        // read straight into the packet when the transport takes it as is.
        const buf = free.pop() ?? (made++, Buffer.allocUnsafe(hdr + size));
        const n = await readFull(file, buf.subarray(hdr, hdr + size));
        if (n < size) eof = true;
        if (n === 0) {
          free.push(buf);
          break;
        }
        const pos = offset;
        offset += n;
        inFlight++;
        const done = (err?: Error | null) => {
          inFlight--;
          free.push(buf);
          if (err) failed ??= err;
          else ctx?.progress(n);
          nudge();
        };
        const packet = s.sendWrite ? writeHeader(buf, handle, pos, n) : undefined;
        if (!packet || !s.sendWrite!(packet, done)) {
          s.sftp.write(handle, buf, hdr, n, pos, done);
        }
      }
      // Writes still in flight on a lost connection never answer: do not wait for them.
      while (inFlight > 0 && !s.closed) await new Promise<void>((r) => wake = r);
    } finally {
      ctx?.signal.removeEventListener("abort", onAbort);
      s.watchers.delete(onLost);
    }
    if (failed !== undefined) throw failed;
    if (opts.fsync && s.fsync) {
      await req<unknown>(s, (cb) => s.sftp.ext_openssh_fsync(handle!, cb));
    }
    const h = handle;
    handle = undefined;
    await req<void>(s, (cb) => s.sftp.close(h, cb));
  } finally {
    file.close();
    if (handle && !s.closed) {
      const h = handle;
      await req<void>(s, (cb) => s.sftp.close(h, cb)).catch(() => {});
    }
  }
}

/** Download `remote` to `localPath` with up to `concurrency` reads in flight, writing the file in order. */
export async function download(
  s: Session,
  remote: string,
  localPath: string,
  opts: TransferOptions,
  ctx?: OperationContext,
): Promise<void> {
  const handle = await req<Buffer>(s, (cb) => s.sftp.open(remote, "r", cb));
  let out: Deno.FsFile | undefined;
  try {
    const st = await req<{ size: number; mode: number }>(s, (cb) => s.sftp.fstat(handle, cb));
    if ((st.mode & S_IFMT) === S_IFDIR) {
      throw new BackendError("it is a folder, not a file", { code: ErrorCode.backend_not_found });
    }
    out = await Deno.open(localPath, { write: true, create: true, truncate: true });
    const total = st.size;
    const size = s.readLen;
    const limit = depth(size, opts.concurrency);
    const free: Buffer[] = [];
    type Req = { pos: number; len: number; done: Promise<{ n: number; buf: Buffer }> };
    const queue: Req[] = [];
    const read = (pos: number, len: number): Req => {
      const buf = free.pop() ?? Buffer.allocUnsafe(size);
      const done = req<number>(
        s,
        (cb) => s.sftp.read(handle, buf, 0, len, pos, (err, n) => cb(err, n)),
      ).then((n) => ({ n: n ?? 0, buf }));
      done.catch(() => {}); // awaited in order below; avoid an unhandled rejection meanwhile
      return { pos, len, done };
    };
    let next = 0;
    const fill = () => {
      while (queue.length < limit && next < total) {
        const len = Math.min(size, total - next);
        queue.push(read(next, len));
        next += len;
      }
    };
    try {
      fill();
      while (queue.length) {
        ctx?.signal.throwIfAborted();
        const head = queue.shift()!;
        const { n, buf } = await head.done;
        if (n === 0) {
          throw new BackendError("the remote file became shorter during the download", {
            code: ErrorCode.backend_error,
          });
        }
        let off = 0;
        while (off < n) off += await out.write(buf.subarray(off, n));
        free.push(buf);
        ctx?.progress(n);
        if (n < head.len) queue.unshift(read(head.pos + n, head.len - n)); // short read: ask for the rest first
        fill();
      }
    } finally {
      // Let outstanding reads finish before the handle is closed.
      await Promise.allSettled(queue.map((q) => q.done));
    }
  } finally {
    out?.close();
    if (!s.closed) await req<void>(s, (cb) => s.sftp.close(handle, cb)).catch(() => {});
  }
}

/** Fill the header of a WRITE packet whose `n` data bytes sit at its end; the request id is set when sent. */
function writeHeader(buf: Buffer, handle: Buffer, pos: number, n: number): Buffer {
  const hdr = WRITE_HEADER + handle.length;
  buf.writeUInt32BE(hdr - 4 + n, 0);
  buf[4] = 6; // SSH_FXP_WRITE
  buf.writeUInt32BE(handle.length, 9);
  handle.copy(buf, 13);
  const p = 13 + handle.length;
  buf.writeUInt32BE(Math.floor(pos / 0x100000000), p);
  buf.writeUInt32BE(pos >>> 0, p + 4);
  buf.writeUInt32BE(n, p + 8);
  return buf.subarray(0, hdr + n);
}

async function readFull(f: Deno.FsFile, buf: Uint8Array): Promise<number> {
  let off = 0;
  while (off < buf.length) {
    const n = await f.read(buf.subarray(off));
    if (n === null) break;
    off += n;
  }
  return off;
}
