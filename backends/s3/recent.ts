/**
 * The sizes of objects this store just wrote, so that the size check after
 * a put (`validate`) needs no HeadObject.
 *
 * Why that is as safe as asking: S3 answers a PutObject with 200 and an
 * ETag only once it has stored the whole body, exactly the
 * `Content-Length` sent (and, with a `Content-MD5`, exactly those bytes),
 * and a CompleteMultipartUpload only once the object is the parts sent,
 * each confirmed the same way; S3 is strongly consistent (read-after-write)
 * since December 2020, so a HeadObject right after could only repeat what
 * the answer said. What the HEAD adds over the answer is another request.
 *
 * Each size answers one query, within a minute of the upload, and only
 * here (another process's query still asks the store); a delete or a newer
 * write of the name through this store drops it.
 *
 * @module
 */

/** How long a recorded size may answer a query. */
const FRESH_MS = 60_000;
/** The most sizes kept (the oldest go first). */
const MAX_ENTRIES = 256;

/** Sizes of objects just written through this store, each answered once. */
export class RecentUploads {
  readonly #sizes = new Map<string, { size: number; at: number }>();

  /** Record that `name` now holds `size` bytes (the store confirmed it). */
  record(name: string, size: number): void {
    this.#sizes.delete(name);
    this.#sizes.set(name, { size, at: Date.now() });
    if (this.#sizes.size > MAX_ENTRIES) this.#sizes.delete(this.#sizes.keys().next().value!);
  }

  /** The size recorded for `name` within the last minute, once; `undefined` otherwise. */
  take(name: string): number | undefined {
    const entry = this.#sizes.get(name);
    if (!entry) return undefined;
    this.#sizes.delete(name);
    return Date.now() - entry.at < FRESH_MS ? entry.size : undefined;
  }

  /** Forget `name` (it was deleted, or is being written again). */
  forget(name: string): void {
    this.#sizes.delete(name);
  }
}
