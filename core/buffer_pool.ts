/**
 * A pool of reused fixed-size byte buffers, so streaming code (uploads,
 * hashing) reads through the same few buffers and makes no garbage per chunk.
 *
 * @example
 * ```ts
 * import { BufferPool } from "./buffer_pool.ts";
 *
 * const pool = new BufferPool(256 * 1024);
 * const buf = pool.take();
 * try {
 *   // read into buf ...
 * } finally {
 *   pool.give(buf);
 * }
 * ```
 *
 * @module
 */

/** Reused byte buffers of one size; the pool keeps at most `max` idle ones. */
export class BufferPool {
  readonly #free: Uint8Array[] = [];

  /**
   * An empty pool.
   *
   * @param size The size of every buffer, in bytes.
   * @param max The most idle buffers kept; default 16.
   */
  constructor(readonly size: number, readonly max: number = 16) {}

  /** A buffer from the pool, or a new one. */
  take(): Uint8Array {
    return this.#free.pop() ?? new Uint8Array(this.size);
  }

  /** Give a buffer back (dropped when the pool is full or it has another size). */
  give(buf: Uint8Array): void {
    if (buf.length === this.size && this.#free.length < this.max) this.#free.push(buf);
  }
}
