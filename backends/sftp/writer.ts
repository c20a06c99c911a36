/**
 * Pipelined writes to one open handle: up to `concurrency` WRITE requests
 * in flight, each from a buffer with room for the packet header (so a file
 * is read straight into the packet), and the end of an upload in as few
 * round trips as the server allows: on a server that handles requests in
 * order (OpenSSH's sftp-server) the flush (`fsync@openssh.com`) and the
 * CLOSE go right behind the last WRITE, without waiting; elsewhere after
 * every WRITE was answered. Nothing is renamed here: the caller renames
 * only once every request was answered OK.
 *
 * @module
 */

import type { OperationContext } from "../../core/backend.ts";
import { abortError } from "../../core/errors.ts";
import { lostError, type Session } from "./session.ts";
import { writeHeaderSize } from "./sftp_wire.ts";

/** The default requests in flight per transfer (as OpenSSH's sftp). */
const DEFAULT_CONCURRENCY = 64;
/** With the default concurrency, the data in flight per transfer stays under this. */
const MAX_IN_FLIGHT = 8 << 20;

/** How a transfer runs. */
export interface TransferOptions {
  /** Requests in flight (the `concurrency` option); default 64, at most 8 MiB in flight. */
  concurrency?: number;
  /** Ask the server to flush an upload before closing it, when it offers `fsync@openssh.com`. */
  fsync?: boolean;
}

/** Requests in flight per transfer: the option, else 64 but at most 8 MiB (and at least 32). */
export function depth(len: number, concurrency: number | undefined): number {
  return concurrency ??
    Math.min(DEFAULT_CONCURRENCY, Math.max(32, Math.floor(MAX_IN_FLIGHT / len)));
}

/** `p`, or a rejection as soon as `signal` aborts or the session is lost. */
export function abortable<T>(p: Promise<T>, s: Session, signal?: AbortSignal): Promise<T> {
  if (!signal) return p;
  if (signal.aborted) return Promise.reject(abortError(signal));
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(abortError(signal));
    signal.addEventListener("abort", onAbort, { once: true });
    p.then(resolve, reject).finally(() => signal.removeEventListener("abort", onAbort));
    if (s.closed) reject(lostError(s));
  });
}

/** Writes to one open handle, in order of offset, with bounded requests in flight. */
export class HandleWriter {
  /** Bytes before the data in each buffer (the WRITE header). */
  readonly hdr: number;
  readonly #len: number;
  readonly #s: Session;
  readonly #handle: Uint8Array;
  readonly #opts: TransferOptions;
  readonly #ctx: OperationContext | undefined;
  readonly #limit: number;
  readonly #free: Uint8Array[] = [];
  #inFlight = new Set<Promise<void>>();
  #offset = 0;
  #acked = 0;
  #failed: unknown;
  #wake: (() => void) | undefined;
  #closed = false;

  /**
   * A writer on `handle` (opened for writing on `s`). With `sizeHint` (the
   * bytes expected), a small file gets buffers of its size, not of a full
   * request.
   */
  constructor(
    s: Session,
    handle: Uint8Array,
    opts: TransferOptions,
    ctx?: OperationContext,
    sizeHint?: number,
  ) {
    this.#s = s;
    this.#handle = handle;
    this.#opts = opts;
    this.#ctx = ctx;
    this.hdr = writeHeaderSize(handle.length);
    // One byte more than expected: the last buffer is never full.
    this.#len = Math.min(s.writeLen, sizeHint === undefined ? Infinity : sizeHint + 1);
    this.#limit = depth(s.writeLen, opts.concurrency);
  }

  /** Data bytes per request (per buffer). */
  get len(): number {
    return this.#len;
  }

  /** A buffer of `hdr + len` bytes to fill at `hdr`, once a request slot is free. */
  async buffer(): Promise<Uint8Array> {
    while (this.#inFlight.size >= this.#limit && this.#failed === undefined) {
      await abortable(new Promise<void>((r) => this.#wake = r), this.#s, this.#ctx?.signal);
    }
    if (this.#failed !== undefined) throw this.#failed;
    this.#ctx?.signal.throwIfAborted();
    return this.#free.pop() ?? new Uint8Array(this.hdr + this.#len);
  }

  /** Give back a buffer that was not sent. */
  release(buf: Uint8Array): void {
    this.#free.push(buf);
  }

  /** Send the `n` bytes at `buf[hdr]` as the next WRITE. */
  send(buf: Uint8Array, n: number): void {
    const pos = this.#offset;
    this.#offset += n;
    const p = this.#s.client.writeInPlace(this.#handle, pos, buf, n).then(() => {
      this.#acked += n;
      this.#ctx?.progress(n);
    }, (err) => {
      this.#failed ??= err;
    }).finally(() => {
      this.#inFlight.delete(p);
      this.#free.push(buf);
      const w = this.#wake;
      this.#wake = undefined;
      w?.();
    });
    this.#inFlight.add(p);
  }

  /**
   * Flush (when asked and offered) and close the handle; resolves with the
   * bytes written once every request was answered OK, else rejects with the
   * first failure (the handle is closed either way).
   */
  async finish(): Promise<number> {
    const { client } = this.#s;
    const signal = this.#ctx?.signal;
    const sync = this.#opts.fsync && this.#s.fsync;
    if (!this.#s.inOrder) {
      await abortable(Promise.all(this.#inFlight), this.#s, signal);
      if (this.#failed !== undefined) throw this.#failed;
    }
    // In order: the flush and the close are handled after the writes sent before them.
    const flushed = sync ? client.fsync(this.#handle) : Promise.resolve();
    if (!this.#s.inOrder && sync) await abortable(flushed, this.#s, signal);
    this.#closed = true;
    const closed = client.close(this.#handle);
    const all = Promise.allSettled([...this.#inFlight, flushed, closed]);
    const results = await abortable(all, this.#s, signal);
    if (this.#failed !== undefined) throw this.#failed;
    for (const r of results) if (r.status === "rejected") throw r.reason;
    return this.#acked;
  }

  /** Stop: close the handle without waiting (what was sent is left to the caller to remove). */
  abandon(): void {
    this.#failed ??= new Error("abandoned");
    if (this.#closed || this.#s.closed) return;
    this.#closed = true;
    this.#s.client.close(this.#handle).catch(() => {});
  }
}
