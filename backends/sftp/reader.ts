/**
 * Pipelined reads of one open handle, delivered in order: up to
 * `concurrency` READ requests in flight over the byte range asked, sized by
 * the file's size as a stat gave it, plus one read past that size (sent
 * with the others) to learn whether the file ended there. A short answer is
 * asked again for the rest; an answer of 0 bytes is the end of the file.
 *
 * @module
 */

import type { OperationContext } from "../../core/backend.ts";
import type { Session } from "./session.ts";
import { abortable, depth, type TransferOptions } from "./writer.ts";

interface ReadRequest {
  pos: number;
  len: number;
  buf: Uint8Array;
  done: Promise<number>;
  /** Asked past the size the stat gave. */
  probe: boolean;
}

/** Reads `[start, end)` of a handle in order; `next()` gives each piece. */
export class ReadPipeline {
  readonly #s: Session;
  readonly #handle: Uint8Array;
  readonly #end: number;
  readonly #limit: number;
  readonly #ctx: OperationContext | undefined;
  readonly #reuse: boolean;
  readonly #free: Uint8Array[] = [];
  readonly #queue: ReadRequest[] = [];
  #next: number;
  #known: number;
  #probing = false;
  #eof = false;
  /** The file ended before the size its stat gave. */
  shrunk = false;

  /**
   * Read from `start` to `end` (exclusive; `Infinity`: to the end of the
   * file) of `handle`, a file of `size` bytes when it was stat'ed. With
   * `reuse`, buffers given back with {@linkcode ReadPipeline.recycle} are
   * used again.
   */
  constructor(
    s: Session,
    handle: Uint8Array,
    range: { start: number; end: number; size: number },
    opts: TransferOptions & { reuse?: boolean },
    ctx?: OperationContext,
  ) {
    this.#s = s;
    this.#handle = handle;
    this.#next = range.start;
    this.#end = range.end;
    this.#known = range.size;
    this.#limit = depth(s.readLen, opts.concurrency);
    this.#ctx = ctx;
    this.#reuse = opts.reuse ?? false;
  }

  #read(pos: number, len: number, probe: boolean): ReadRequest {
    const size = this.#s.readLen;
    const buf = (this.#reuse ? this.#free.pop() : undefined) ?? new Uint8Array(size);
    const done = this.#s.client.read(this.#handle, pos, buf.subarray(0, len));
    done.catch(() => {}); // awaited in order by next(); no unhandled rejection meanwhile
    return { pos, len, buf, done, probe };
  }

  #fill(): void {
    while (this.#queue.length < this.#limit && !this.#eof && this.#next < this.#end) {
      const stop = Math.min(this.#end, this.#known);
      const probe = this.#next >= stop;
      if (probe && this.#probing) break;
      const len = Math.min(this.#s.readLen, (probe ? this.#end : stop) - this.#next);
      this.#queue.push(this.#read(this.#next, len, probe));
      this.#next += len;
      if (probe) this.#probing = true;
    }
  }

  /** The next piece in order, `null` at the end of the range or of the file. */
  async next(): Promise<Uint8Array | null> {
    for (;;) {
      this.#fill();
      const head = this.#queue.shift();
      if (!head) return null;
      const n = await abortable(head.done, this.#s, this.#ctx?.signal);
      if (head.probe) this.#probing = false;
      if (n === 0) {
        this.#eof = true;
        if (this.#known !== Infinity && head.pos < Math.min(this.#known, this.#end)) {
          this.shrunk = true;
        }
        this.#drop();
        return null;
      }
      // The file is longer than its stat said: read on until its end.
      if (head.probe) this.#known = Infinity;
      if (n < head.len) {
        // A short answer: ask for the rest first.
        this.#queue.unshift(this.#read(head.pos + n, head.len - n, head.probe));
        if (head.probe) this.#probing = true;
      }
      this.#ctx?.progress(n);
      return head.buf.subarray(0, n);
    }
  }

  /** Give back a piece's memory for the next reads (with `reuse`). */
  recycle(piece: Uint8Array): void {
    if (this.#reuse) this.#free.push(new Uint8Array(piece.buffer));
  }

  /** Stop: the reads in flight are left to finish unseen. */
  cancel(): void {
    this.#eof = true;
    this.#drop();
  }

  #drop(): void {
    this.#queue.length = 0;
  }
}
