/**
 * The sizes of the last blobs this store committed, so that the wrapper's
 * size check right after a put (`put(..., { validate: true })`) needs no Get
 * Blob Properties request: one request per small file instead of two.
 *
 * Why that is as safe as asking: Azure Blob Storage is strongly consistent,
 * and a 201 to Put Blob means the blob now holds exactly the body sent (the
 * service refuses a body shorter or longer than its Content-Length); a 201
 * to Put Block List means it holds exactly the listed blocks, each of which
 * the service acknowledged with its Content-Length. So the size recorded at
 * the commit is what Get Blob Properties would answer then, unless another
 * writer replaced or deleted the blob in between, a race a Get Properties
 * sent a moment later would not reliably see either. To keep that window
 * as small as the request it replaces, an entry answers one query only, and
 * only within a few seconds of the commit; this store's own delete, a new
 * put of the name, or a failed one forgets it; at most 256 are kept.
 *
 * @module
 */

/** How long after its commit an entry may answer a query. */
const MAX_AGE_MS = 10_000;
/** Entries kept at most (the oldest go first). */
const MAX_ENTRIES = 256;

/** Sizes of blobs just committed by this store, each answering one query. */
export class CommittedSizes {
  readonly #sizes = new Map<string, { size: number; at: number }>();

  /** `name` was committed with `size` bytes just now. */
  record(name: string, size: number): void {
    this.#sizes.delete(name);
    this.#sizes.set(name, { size, at: performance.now() });
    if (this.#sizes.size > MAX_ENTRIES) {
      this.#sizes.delete(this.#sizes.keys().next().value!);
    }
  }

  /** Forget `name` (deleted, or being written again). */
  forget(name: string): void {
    this.#sizes.delete(name);
  }

  /** The size `name` was committed with, if that was moments ago; the entry is used up. */
  take(name: string): number | undefined {
    const e = this.#sizes.get(name);
    if (!e) return undefined;
    this.#sizes.delete(name);
    return performance.now() - e.at <= MAX_AGE_MS ? e.size : undefined;
  }
}
