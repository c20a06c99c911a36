/**
 * Puts: the file goes to a hidden temporary name in the folder (`PUT`, the
 * body streamed from the file with `Content-Length`), then `MOVE`s onto the
 * final name with `Overwrite: T`; the temporary file is deleted when
 * anything fails or the operation is cancelled, within the wrapper's
 * one-second grace (less when the caller's timeout is shorter). The folder
 * is checked (and made with `MKCOL`, parents first) once per store, before
 * the first upload; a put into a folder removed since makes it again.
 *
 * Two round trips per put. A size check that follows a put at once (the
 * wrapper's `validate`) costs none: when the server answered `201`/`204` to
 * a `PUT` whose whole body went out with its `Content-Length`, and to the
 * `MOVE`, the stored size is that length — the same the server would then
 * report in a `PROPFIND`. The answer holds only until the next request to
 * the server; after that a query asks the server again.
 *
 * @module
 */

import type { OperationContext } from "../../core/backend.ts";
import { tempName } from "../../core/names.ts";
import type { DavClient } from "./client.ts";
import { toBackendError } from "./error.ts";
import { isSuccess } from "./exchange.ts";
import { parentOf } from "./paths.ts";
import { folderExists } from "./propfind.ts";

/** The most a clean-up after a failure may take: the wrapper's grace for an aborted attempt. */
const CLEANUP_MS = 1000;

/** The answers that acknowledge a whole upload (or move) as stored. */
const STORED: ReadonlySet<number> = new Set([201, 204]);

/** Uploads into one folder, which it makes once as needed. */
export class Uploader {
  readonly #dav: DavClient;
  #folderReady = false;
  /** The last put the server acknowledged in full, and the request count just after it. */
  #acknowledged: { name: string; size: number; sent: number } | undefined;

  /** Uploads through `dav`; no I/O. */
  constructor(dav: DavClient) {
    this.#dav = dav;
  }

  /** PUT to a temporary name, then MOVE onto `name`; the temporary file is removed on failure. */
  async put(localPath: string, size: number, name: string, ctx?: OperationContext): Promise<void> {
    this.#acknowledged = undefined;
    await this.ensureFolder(ctx);
    const tmp = tempName(name);
    let whole = false;
    try {
      whole = await this.#upload(localPath, size, tmp, ctx);
      ctx?.signal.throwIfAborted();
      const before = this.#dav.sent;
      // Acknowledged only when the MOVE was the one request meanwhile (no redirect, no other caller).
      whole = await this.commit(tmp, name, ctx) && whole && this.#dav.sent === before + 1;
    } catch (err) {
      await this.discard(tmp, ctx);
      throw err;
    }
    if (whole) this.#acknowledged = { name, size, sent: this.#dav.sent };
  }

  /**
   * The size of `name` when its put was acknowledged in full and nothing
   * has been sent to the server since; else `undefined` (ask the server).
   */
  acknowledgedSize(name: string): number | undefined {
    const a = this.#acknowledged;
    return a && a.name === name && a.sent === this.#dav.sent ? a.size : undefined;
  }

  /** Make sure the folder exists before the first upload (PROPFIND, then MKCOL as needed). */
  async ensureFolder(ctx?: OperationContext): Promise<void> {
    if (this.#folderReady) return;
    if (!await folderExists(this.#dav, ctx)) await this.#mkcol(this.#dav.folder, ctx);
    this.#folderReady = true;
  }

  /**
   * MOVE the temporary file `tmp` onto `name`, replacing it; resolves with
   * whether the server acknowledged it as stored (201 or 204).
   */
  async commit(tmp: string, name: string, ctx?: OperationContext): Promise<boolean> {
    const res = await this.#dav.request("MOVE", this.#dav.pathOf(tmp), {
      headers: { Overwrite: "T" },
      destination: name,
      ctx,
    });
    if (!isSuccess(res.statusCode)) throw toBackendError(res, "MOVE", undefined, { name });
    res.resume();
    return STORED.has(res.statusCode ?? 0);
  }

  /**
   * Delete a temporary file after a failure, ignoring errors, within the
   * caller's timeout and at most a second. A server may still be finishing
   * the aborted upload for a moment: rclone answers 423 Locked while it
   * holds the upload's lock, and its writer can bring the file back just
   * after a delete (or, under load, start on the dropped request only after
   * our delete). So the delete is repeated until the name has been gone
   * four times in a row over about 0.7 s.
   */
  async discard(name: string, ctx?: OperationContext): Promise<void> {
    const budget = Math.min(CLEANUP_MS, ctx?.timeout || CLEANUP_MS);
    const ac = new AbortController();
    const timer = setTimeout(() => ac.abort(new Error("cleanup timed out")), budget);
    const cleanup: OperationContext = { signal: ac.signal, progress: () => {} };
    const path = this.#dav.pathOf(name);
    let gone = 0;
    try {
      for (let wait = 100; !ac.signal.aborted; wait *= 2) {
        try {
          const res = await this.#dav.request("DELETE", path, { ctx: cleanup });
          res.resume();
          const s = res.statusCode ?? 0;
          gone = isSuccess(s) || s === 404 ? gone + 1 : 0;
          if (gone >= 4) return;
        } catch {
          gone = 0; // a dropped connection: try again
        }
        await sleepUnless(wait, ac.signal);
      }
    } finally {
      clearTimeout(timer);
    }
  }

  /** MKCOL a folder, making missing parents first; 405 means it exists. */
  async #mkcol(path: string, ctx?: OperationContext, depth = 0): Promise<void> {
    if (path === "/" || depth > 64) return;
    for (let attempt = 0; attempt < 2; attempt++) {
      const res = await this.#dav.request("MKCOL", path, { ctx });
      res.resume();
      const s = res.statusCode ?? 0;
      if (isSuccess(s) || s === 405) return;
      if ((s === 409 || s === 404) && attempt === 0) {
        await this.#mkcol(parentOf(path), ctx, depth + 1);
        continue;
      }
      // Another client (or another store of this process) may have made it a
      // moment ago: some servers then answer 403 rather than 405.
      if (path === this.#dav.folder && await folderExists(this.#dav, ctx)) return;
      throw toBackendError(res, "MKCOL");
    }
  }

  /**
   * PUT a file under `remote`; makes the folder and tries again once when
   * it has gone. Resolves with whether the server acknowledged the whole
   * body as stored (201 or 204 after every byte went out).
   */
  async #upload(
    localPath: string,
    size: number,
    remote: string,
    ctx?: OperationContext,
  ): Promise<boolean> {
    for (let attempt = 0;; attempt++) {
      const res = await this.#dav.put(this.#dav.pathOf(remote), localPath, size, ctx);
      const s = res.statusCode ?? 0;
      if (isSuccess(s)) {
        res.resume();
        return STORED.has(s) && res.bodySent === size;
      }
      if ((s !== 404 && s !== 409) || attempt > 0) throw toBackendError(res, "PUT");
      res.resume();
      this.#folderReady = false;
      await this.#mkcol(this.#dav.folder, ctx);
      this.#folderReady = true;
    }
  }
}

/** Wait `ms`, or less when the signal aborts; never rejects. */
function sleepUnless(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise<void>((resolve) => {
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      signal.removeEventListener("abort", done);
      resolve();
    }
    signal.addEventListener("abort", done, { once: true });
  });
}
