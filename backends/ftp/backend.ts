/**
 * The `ftp://` / `ftps://` backend class: the URL and options, and the
 * underscore methods; the connections live in `session.ts`, the commands in
 * `commands.ts`, file transfers in `transfer.ts`, streamed reads and writes
 * in `streams.ts`.
 *
 * @module
 */

import {
  Backend,
  type BackendOptions,
  type DeclaredCapabilities,
  type OperationContext,
  type QueryResult,
} from "../../core/backend.ts";
import { BackendError, ErrorCode } from "../../core/errors.ts";
import { tempName } from "../../core/names.ts";
import { parseOptions } from "../../core/options.ts";
import { askPasswordFrom } from "../../core/password.ts";
import type { ReadRange } from "../../core/streams.ts";
import type { ParsedUrl } from "../../core/url.ts";
import { arg, deleteFile, enterFolder, removeTemp, renameOver, sizeOf } from "./commands.ts";
import { Confirmed } from "./confirmed.ts";
import { errorCode } from "./error.ts";
import { FTP_OPTIONS, type FtpOptions } from "./options.ts";
import { type Connection, Session } from "./session.ts";
import { readStream, writeStream } from "./streams.ts";
import { download, upload } from "./transfer.ts";

/** SIZE round trips are cheaper than a listing up to this many names. */
const QUERY_BY_SIZE_MAX = 8;

/**
 * An FTP or FTPS server folder as a store.
 *
 * @example
 * ```ts
 * import { ParsedUrl } from "@stowage/backends";
 * import { FtpBackend } from "@stowage/backends/backends/ftp";
 * const backend = new FtpBackend(new ParsedUrl("ftp://alice:pw@127.0.0.1:2121/backups"), {
 *   activeMode: false,
 * });
 * console.log(backend.folder); // backups
 * ```
 */
export class FtpBackend extends Backend {
  /** The declared options. */
  static readonly options: typeof FTP_OPTIONS = FTP_OPTIONS;
  /** One line for `stowage backends`. */
  static readonly description: string = "an FTP server folder (explicit FTPS with ftps://)";
  /** The folder as given in the URL: relative to the login folder, or absolute (`/…`). */
  readonly folder: string;
  readonly #session: Session;
  readonly #bufferSize: number;
  /** Sizes that just-finished uploads confirmed, for the size check that follows a put. */
  readonly #confirmed = new Confirmed();
  #renameOverWorks = true;

  /** Read the URL and options; no network I/O. */
  constructor(url: ParsedUrl, options: FtpOptions & BackendOptions = {}) {
    super(url, options);
    if (url.scheme !== "ftp" && url.scheme !== "ftps") {
      throw new BackendError(`Invalid URL "${url.stripAuth()}": the scheme must be ftp or ftps`, {
        code: ErrorCode.user_error,
      });
    }
    const settings = parseOptions(url.scheme, FTP_OPTIONS, options);
    // duplicity: the path after the host's "/" is relative to the login folder.
    const rel = url.path.startsWith("/") ? url.path.slice(1) : url.path;
    this.folder = rel.length > 1 ? rel.replace(/\/+$/, "") : rel;
    if (/[\r\n]/.test(this.folder)) {
      throw new BackendError(`Invalid URL "${url.stripAuth()}": the path has a line break`, {
        code: ErrorCode.user_error,
      });
    }
    this.#bufferSize = settings.bufferSize;
    this.#session = new Session(url, this.folder, settings, askPasswordFrom(this.options));
  }

  /** What the store can do; `atomicOverwrite` turns false once the server refused to rename over a file. */
  protected override declareCapabilities(): DeclaredCapabilities {
    return {
      // RNTO over an existing file is one rename(2) on Unix servers; a server
      // that refuses it makes us delete first, which is not atomic.
      atomicOverwrite: this.#renameOverWorks,
      serverSideRename: true,
      folders: true,
      chunkSize: this.#bufferSize,
      // FTP commands are lines: CR and LF cannot travel in a name.
      names: { forbiddenChars: "\r\n" },
    };
  }

  /** Download `name` into `localPath`, streaming to disk. */
  override async _get(name: string, localPath: string, ctx?: OperationContext): Promise<void> {
    const session = this.#session;
    await session.with(ctx, async (conn) => {
      await this.#enter(conn);
      const file = await Deno.open(localPath, { write: true, create: true, truncate: true });
      try {
        await download(conn, session, `RETR ${arg(name)}`, file, ctx);
      } finally {
        file.close();
      }
    });
  }

  /**
   * Upload to a temporary name, then rename over `name`; the temporary file
   * is removed on failure (on an abort too, before this settles).
   */
  override async _put(localPath: string, name: string, ctx?: OperationContext): Promise<void> {
    const session = this.#session;
    const tmp = tempName(name);
    this.#confirmed.forget(name);
    await session.with(ctx, async (conn) => {
      await enterFolder(conn, session.absFolder, true);
      try {
        const size = ctx?.size ?? (await Deno.stat(localPath)).size;
        const file = await Deno.open(localPath, { read: true });
        let sent: number;
        try {
          sent = await upload(conn, session, `STOR ${arg(tmp)}`, file, ctx);
        } finally {
          file.close();
        }
        if (sent !== size) {
          throw new BackendError(
            `the local file changed during the upload (${sent} of ${size} bytes sent)`,
          );
        }
        ctx?.signal.throwIfAborted();
        if (!await renameOver(conn, tmp, name)) this.#renameOverWorks = false;
        this.#confirmed.set(name, sent);
      } catch (err) {
        await removeTemp(session, conn, tmp);
        throw err;
      }
    });
  }

  /** The bytes `range` of `name`: `REST` + `RETR` on a leased connection, cut short at the range's end. */
  override async _openRead(
    name: string,
    range: ReadRange,
    ctx?: OperationContext,
  ): Promise<ReadableStream<Uint8Array>> {
    const lease = await this.#session.lease(ctx);
    try {
      await this.#enter(lease.conn);
      return await readStream(lease, this.#session, name, range, ctx);
    } catch (err) {
      throw lease.release(err);
    }
  }

  /** A stream that uploads to a temporary name, renamed over `name` on close. */
  override async _openWrite(
    name: string,
    options: { size?: number },
    ctx?: OperationContext,
  ): Promise<WritableStream<Uint8Array>> {
    const session = this.#session;
    this.#confirmed.forget(name);
    const lease = await session.lease(ctx);
    try {
      await enterFolder(lease.conn, session.absFolder, true);
      return await writeStream(lease, session, tempName(name), name, options.size, ctx, (w) => {
        if (!w.atomic) this.#renameOverWorks = false;
        this.#confirmed.set(name, w.bytes);
      });
    } catch (err) {
      throw lease.release(err);
    }
  }

  /** The names of the files in the folder (LIST, or MLSD where offered); code 52 when the folder is missing. */
  override async _list(ctx?: OperationContext): Promise<string[]> {
    const session = this.#session;
    return await session.with(ctx, async (conn) => {
      await this.#enter(conn);
      const entries = await conn.client.list();
      return entries.filter((e) => e.isFile || e.isSymbolicLink).map((e) => e.name);
    });
  }

  /** Delete one file; a missing file is not an error. */
  override async _delete(name: string, ctx?: OperationContext): Promise<void> {
    await this._deleteList([name], ctx);
  }

  /** Delete several files on one connection; missing ones are skipped. */
  override async _deleteList(names: string[], ctx?: OperationContext): Promise<void> {
    const session = this.#session;
    for (const name of names) this.#confirmed.forget(name);
    await session.with(ctx, async (conn) => {
      if (!await enterFolder(conn, session.absFolder, false)) return;
      for (const name of names) {
        ctx?.signal.throwIfAborted();
        await deleteFile(conn, name);
        ctx?.progress();
      }
    });
  }

  /** The size of one file by SIZE, `-1` when missing. */
  override async _query(name: string, ctx?: OperationContext): Promise<QueryResult> {
    const got = await this._queryList([name], ctx);
    return got[name] ?? { size: -1 };
  }

  /**
   * Sizes of the names asked: SIZE each for a few, one listing for many.
   * The size check right after a put (one name) takes the size that upload
   * confirmed, without a round trip (see `confirmed.ts`).
   */
  override async _queryList(
    names: string[],
    ctx?: OperationContext,
  ): Promise<Record<string, QueryResult>> {
    const session = this.#session;
    const out: Record<string, QueryResult> = Object.create(null);
    const just = names.length === 1 ? this.#confirmed.take(names[0]!) : undefined;
    if (just !== undefined) {
      out[names[0]!] = { size: just };
      return out;
    }
    for (const n of names) this.#confirmed.forget(n);
    return await session.with(ctx, async (conn) => {
      for (const n of names) out[n] = { size: -1 };
      if (!await enterFolder(conn, session.absFolder, false)) return out;
      if (names.length <= QUERY_BY_SIZE_MAX) {
        for (const n of names) out[n] = { size: await sizeOf(conn, n) };
        return out;
      }
      const asked = new Set(names);
      for (const e of await conn.client.list()) {
        if (asked.has(e.name) && (e.isFile || e.isSymbolicLink)) {
          out[e.name] = { size: e.isFile && Number.isFinite(e.size) ? e.size : null };
        }
      }
      return out;
    });
  }

  /** Drop idle connections so the next attempt logs in afresh. */
  override async _retryCleanup(): Promise<void> {
    this.#confirmed.clear();
    this.#session.dropIdle();
    await Promise.resolve();
  }

  /** Map FTP replies, socket and TLS errors to error codes. */
  override _errorCode(_operation: string, err: unknown): ErrorCode | undefined {
    return errorCode(err);
  }

  /** Close every connection. */
  override async _close(): Promise<void> {
    this.#confirmed.clear();
    this.#session.close();
    await Promise.resolve();
  }

  /** Change into the store's folder; code 52 naming it when it does not exist. */
  async #enter(conn: Connection): Promise<void> {
    if (await enterFolder(conn, this.#session.absFolder, false)) return;
    throw new BackendError(`the folder "${this.folder || "."}" does not exist`, {
      code: ErrorCode.backend_not_found,
    });
  }
}
