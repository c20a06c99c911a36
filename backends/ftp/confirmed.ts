/**
 * The sizes that just-finished uploads confirmed, so that the size check
 * right after a put (the wrapper's `validate`, which the CLI runs after
 * every put) costs no `SIZE` round trip.
 *
 * Why this is as safe as asking: an upload counts as confirmed only when
 * the data connection carried exactly the local file's bytes (in binary
 * mode, `TYPE I`, so no line-ending rewriting), the server then replied
 * `226` to the `STOR` (it read to our EOF and wrote everything: a failed
 * write is `451`/`452`/`552`), and the server renamed that very file over
 * the name (`RNTO` → `250`). `SIZE` a moment later would stat the same
 * file on the same server. What it could add is a change by another
 * client in between, which a check a moment later can miss just as well.
 * So the answer is given once, only for a query of that one name, only
 * within {@linkcode FRESH_MS} of the upload, and never after a delete or
 * another upload of the name, a retry or a close; any other query asks
 * the server.
 *
 * @module
 */

/** How long after an upload its confirmed size stands in for a `SIZE` (not a wait: a freshness window). */
const FRESH_MS = 1000;
/** Entries kept at most (puts whose size was never asked for expire anyway). */
const MAX_ENTRIES = 64;

/** Sizes confirmed by recent uploads, each given out once. */
export class Confirmed {
  readonly #sizes = new Map<string, { size: number; at: number }>();

  /** Remember that an upload of `name` just stored `size` bytes. */
  set(name: string, size: number): void {
    this.#sizes.delete(name);
    this.#sizes.set(name, { size, at: performance.now() });
    if (this.#sizes.size > MAX_ENTRIES) {
      this.#sizes.delete(this.#sizes.keys().next().value!);
    }
  }

  /** The confirmed size of `name` when it is fresh, once; `undefined`: ask the server. */
  take(name: string): number | undefined {
    const entry = this.#sizes.get(name);
    if (!entry) return undefined;
    this.#sizes.delete(name);
    return performance.now() - entry.at <= FRESH_MS ? entry.size : undefined;
  }

  /** Drop what is known about `name` (it is being changed). */
  forget(name: string): void {
    this.#sizes.delete(name);
  }

  /** Drop everything. */
  clear(): void {
    this.#sizes.clear();
  }
}
