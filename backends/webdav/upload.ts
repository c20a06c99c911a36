/**
 * Puts: the file goes to a hidden temporary name in the folder (`PUT`, the
 * body streamed from the file with `Content-Length`), then `MOVE`s onto the
 * final name with `Overwrite: T`; the temporary file is deleted when
 * anything fails or the operation is cancelled. Missing folders are made
 * with `MKCOL` (parents first) on the first put.
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

/** How long removing a temporary file after a failure may take. */
const CLEANUP_MS = 2000;

/** Uploads into one folder, which it makes once as needed. */
export class Uploader {
  readonly #dav: DavClient;
  #folderReady = false;

  /** Uploads through `dav`; no I/O. */
  constructor(dav: DavClient) {
    this.#dav = dav;
  }

  /** PUT to a temporary name, then MOVE onto `name`; the temporary file is removed on failure. */
  async put(localPath: string, size: number, name: string, ctx?: OperationContext): Promise<void> {
    await this.#ensureFolder(ctx);
    const tmp = tempName(name);
    try {
      await this.#upload(localPath, size, tmp, ctx);
      ctx?.signal.throwIfAborted();
      await this.#move(tmp, name, ctx);
    } catch (err) {
      await this.#removeQuietly(tmp);
      throw err;
    }
  }

  /** Make sure the folder exists before the first put (PROPFIND, then MKCOL as needed). */
  async #ensureFolder(ctx?: OperationContext): Promise<void> {
    if (this.#folderReady) return;
    if (!await folderExists(this.#dav, ctx)) await this.#mkcol(this.#dav.folder, ctx);
    this.#folderReady = true;
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
      throw toBackendError(res, "MKCOL");
    }
  }

  /** PUT a file under `remote`; makes the folder and tries again once when it has gone. */
  async #upload(
    localPath: string,
    size: number,
    remote: string,
    ctx?: OperationContext,
  ): Promise<void> {
    for (let attempt = 0; attempt < 2; attempt++) {
      const res = await this.#dav.put(this.#dav.pathOf(remote), localPath, size, ctx);
      const s = res.statusCode ?? 0;
      if (isSuccess(s)) {
        res.resume();
        return;
      }
      if ((s === 404 || s === 409) && attempt === 0) {
        res.resume();
        this.#folderReady = false;
        await this.#mkcol(this.#dav.folder, ctx);
        this.#folderReady = true;
        continue;
      }
      throw toBackendError(res, "PUT");
    }
  }

  /** MOVE `from` onto `to` in the folder, replacing it. */
  async #move(from: string, to: string, ctx?: OperationContext): Promise<void> {
    const res = await this.#dav.request("MOVE", this.#dav.pathOf(from), {
      headers: { Overwrite: "T" },
      destination: to,
      ctx,
    });
    if (!isSuccess(res.statusCode)) throw toBackendError(res, "MOVE");
    res.resume();
  }

  /**
   * Delete a temporary file after a failure, ignoring errors, within a few
   * seconds. A server may still be finishing the aborted upload for a moment:
   * rclone answers 423 Locked while it holds the upload's lock, and its
   * writer can bring the file back just after a delete (or, under load, start
   * on the dropped request only after our delete). So the delete is repeated
   * until the name has been gone four times in a row over about 0.7 s.
   */
  async #removeQuietly(name: string): Promise<void> {
    const ac = new AbortController();
    const timer = setTimeout(() => ac.abort(new Error("cleanup timed out")), CLEANUP_MS);
    const ctx: OperationContext = { signal: ac.signal, progress: () => {} };
    const path = this.#dav.pathOf(name);
    let gone = 0;
    try {
      for (let wait = 100; !ac.signal.aborted; wait = Math.min(wait * 2, 800)) {
        try {
          const res = await this.#dav.request("DELETE", path, { ctx });
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
