/**
 * Streamed writes (`_openWrite`): the bytes written are copied into
 * `blockSize` block buffers, each staged with Put Block once full,
 * `concurrency` at a time; `write()` waits while that many are in flight
 * (back pressure), and the buffers are reused, so memory holds at most
 * `concurrency + 1` blocks whatever the size. `close()` stages the last block and commits the list
 * (Put Block List): only then does the name change. A stream that never
 * filled one block goes up in one Put Blob at `close()`, so a small write is
 * one request. `abort()`, a failed block or the operation's signal stops
 * the blocks in flight; staged blocks that are never committed are
 * invisible and dropped by the service, so nothing is left to remove.
 *
 * @module
 */

import type { OperationContext } from "../../core/backend.ts";
import { abortError, BackendError, ErrorCode } from "../../core/errors.ts";
import type { CommittedSizes } from "./committed.ts";
import type { AzureTransport } from "./transport.ts";
import { type AzureWriter, blockId, MAX_BLOCKS } from "./writer.ts";

/**
 * A stream that stores what is written under `name` when it closes. `size`,
 * when given, is the exact byte count (a stream that gives another count
 * fails at `close()` with code 23 and commits nothing).
 */
export async function openBlobWriter(
  t: AzureTransport,
  writer: AzureWriter,
  committed: CommittedSizes,
  name: string,
  size: number | undefined,
  ctx?: OperationContext,
): Promise<WritableStream<Uint8Array>> {
  committed.forget(name);
  const url = await t.blobUrl(name, "cw");
  const sink = new BlockSink(writer, url, size, ctx);
  return new WritableStream<Uint8Array>({
    write: (chunk) => sink.write(chunk),
    close: async () => {
      const total = await t.transfer(() => sink.close());
      committed.record(name, total);
    },
    abort: (reason) => sink.abort(reason),
  });
}

/** The blocks of one streamed write. */
class BlockSink {
  readonly #writer: AzureWriter;
  readonly #url: string;
  readonly #size: number | undefined;
  readonly #ctx: OperationContext | undefined;
  readonly #blockSize: number;
  readonly #run = crypto.randomUUID().replaceAll("-", "").slice(0, 16);
  readonly #stop = new AbortController();
  readonly #inflight = new Set<Promise<void>>();
  readonly #ids: string[] = [];
  /** Block buffers whose Put Block has settled, for reuse (at most `concurrency + 1` exist). */
  readonly #free: Uint8Array[] = [];
  /** The block being filled, and how much of it is. */
  #buf: Uint8Array | undefined;
  #pendingBytes = 0;
  #total = 0;
  #failure: unknown;

  constructor(
    writer: AzureWriter,
    url: string,
    size: number | undefined,
    ctx: OperationContext | undefined,
  ) {
    this.#writer = writer;
    this.#url = url;
    this.#size = size;
    this.#ctx = ctx;
    this.#blockSize = Math.max(writer.blockSize, Math.ceil((size ?? 0) / MAX_BLOCKS));
    const signal = ctx?.signal;
    const onAbort = () => this.#stop.abort(signal?.reason);
    signal?.addEventListener("abort", onAbort, { once: true });
    if (signal?.aborted) onAbort();
  }

  /**
   * Copy `chunk` into the block being filled; a full block is staged once
   * more bytes come (so a stream of exactly one block still goes up in one
   * Put Blob), waiting while `concurrency` blocks are in flight.
   */
  async write(chunk: Uint8Array): Promise<void> {
    this.#check();
    let off = 0;
    while (off < chunk.byteLength) {
      if (this.#pendingBytes === this.#blockSize) await this.#stage();
      const take = Math.min(this.#blockSize - this.#pendingBytes, chunk.byteLength - off);
      const buf = this.#room(this.#pendingBytes + take);
      buf.set(chunk.subarray(off, off + take), this.#pendingBytes);
      this.#pendingBytes += take;
      this.#total += take;
      off += take;
    }
  }

  /** Stage the rest and commit (or one Put Blob when no block was staged); the byte count. */
  async close(): Promise<number> {
    this.#check();
    if (this.#size !== undefined && this.#total !== this.#size) {
      await this.abort(undefined);
      throw new BackendError(
        `the stream gave ${this.#total} bytes, not the ${this.#size} announced`,
        { code: ErrorCode.user_error },
      );
    }
    const signal = this.#stop.signal;
    if (this.#ids.length === 0) {
      await this.#writer.putBlob(this.#url, this.#take(), this.#ctx, signal);
      return this.#total;
    }
    if (this.#pendingBytes > 0) await this.#stage();
    await Promise.all(this.#inflight);
    this.#check();
    await this.#writer.commit(this.#url, this.#ids, signal);
    return this.#total;
  }

  /** Stop the blocks in flight and wait for them; nothing was committed. */
  async abort(reason: unknown): Promise<void> {
    if (!this.#stop.signal.aborted) this.#stop.abort(reason);
    await Promise.allSettled(this.#inflight);
  }

  /** Start a Put Block of the pending bytes once fewer than `concurrency` are in flight. */
  async #stage(): Promise<void> {
    while (this.#inflight.size >= this.#writer.concurrency) {
      await Promise.race(this.#inflight);
    }
    this.#check();
    if (this.#ids.length >= MAX_BLOCKS) {
      throw new BackendError(
        `the stream needs more than ${MAX_BLOCKS} blocks of ${this.#blockSize} bytes: pass its ` +
          `size, or set a larger blockSize`,
        { code: ErrorCode.backend_unsupported },
      );
    }
    const id = blockId(this.#run, this.#ids.length);
    this.#ids.push(id);
    const buf = this.#buf!;
    const body = this.#take();
    const p: Promise<void> = this.#writer
      .putBlock(this.#url, id, body, this.#ctx, this.#stop.signal)
      .catch((err) => {
        this.#failure ??= err;
        if (!this.#stop.signal.aborted) this.#stop.abort(err);
      })
      .finally(() => {
        this.#inflight.delete(p);
        if (buf.byteLength === this.#blockSize) this.#free.push(buf);
      });
    this.#inflight.add(p);
  }

  /**
   * The block buffer, able to hold `need` bytes: a free full-size one, or
   * for the first block of a stream of unknown or small size one that grows
   * from 64 KiB (a small write does not allocate a whole block).
   */
  #room(need: number): Uint8Array {
    const buf = this.#buf;
    if (buf && buf.byteLength >= need) return buf;
    let next: Uint8Array;
    if (this.#ids.length > 0 || need > this.#blockSize / 2) {
      next = this.#free.pop() ?? new Uint8Array(this.#blockSize);
    } else {
      const want = Math.max(need, Math.min(this.#size ?? 65536, this.#blockSize));
      let size = Math.max(buf ? buf.byteLength * 2 : 65536, want);
      if (this.#size !== undefined) size = Math.min(size, Math.max(this.#size, need));
      next = new Uint8Array(Math.min(size, this.#blockSize));
    }
    if (buf) next.set(buf.subarray(0, this.#pendingBytes));
    this.#buf = next;
    return next;
  }

  /** The pending bytes (a view of the block buffer, which is then handed over). */
  #take(): Uint8Array {
    const out = this.#buf ? this.#buf.subarray(0, this.#pendingBytes) : new Uint8Array(0);
    this.#buf = undefined;
    this.#pendingBytes = 0;
    return out;
  }

  /** Throw the first failure, or the abort of the operation's signal. */
  #check(): void {
    const signal = this.#ctx?.signal;
    if (signal?.aborted) throw abortError(signal);
    if (this.#failure !== undefined) throw this.#failure;
    if (this.#stop.signal.aborted) throw abortError(this.#stop.signal);
  }
}
