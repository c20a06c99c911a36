/**
 * The `webdav://` backend class: the underscore methods, each a few
 * requests through {@linkcode DavClient}.
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
import type { ErrorCode } from "../../core/errors.ts";
import { parseOptions } from "../../core/options.ts";
import { askPasswordFrom, resolvePassword } from "../../core/password.ts";
import type { ReadRange } from "../../core/streams.ts";
import type { ParsedUrl } from "../../core/url.ts";
import { DavClient } from "./client.ts";
import { download } from "./download.ts";
import { errorCode, toBackendError } from "./error.ts";
import { isSuccess } from "./exchange.ts";
import { WEBDAV_OPTIONS, type WebdavOptions } from "./options.ts";
import { filesOf, propfind } from "./propfind.ts";
import { openRange } from "./ranged.ts";
import { Uploader } from "./upload.ts";
import { openUpload } from "./write.ts";

/** At most this many names are queried one by one; more use one listing. */
const QUERY_ONE_BY_ONE = 10;

/**
 * A folder on a WebDAV server.
 *
 * @example
 * ```ts
 * import { ParsedUrl } from "@stowage/backends";
 * import { WebdavBackend } from "@stowage/backends/backends/webdav";
 * const dav = new WebdavBackend(new ParsedUrl("webdavs://bob:pw@dav.example.com:8443/backups"));
 * console.log(dav.baseUrl); // https://dav.example.com:8443/backups/
 * ```
 */
export class WebdavBackend extends Backend {
  /** The declared options. */
  static readonly options: typeof WEBDAV_OPTIONS = WEBDAV_OPTIONS;
  /** One line for `stowage backends`. */
  static readonly description: string =
    "a folder on a WebDAV server (Apache, nginx, rclone, Nextcloud)";
  readonly #dav: DavClient;
  readonly #uploads: Uploader;
  readonly #bufferSize: number;

  /** Work out the server, folder and options; no network I/O (the password is resolved at the first request). */
  constructor(url: ParsedUrl, options: WebdavOptions & BackendOptions = {}) {
    super(url, options);
    const settings = parseOptions(url.scheme, WEBDAV_OPTIONS, options);
    this.#dav = new DavClient(
      url,
      settings,
      () => resolvePassword(url, { askPassword: askPasswordFrom(this.options) }),
    );
    this.#uploads = new Uploader(this.#dav);
    this.#bufferSize = settings.bufferSize;
  }

  /** The folder as a plain HTTP(S) URL, without credentials (after any redirect of the folder). */
  get baseUrl(): string {
    return this.#dav.baseUrl;
  }

  /** MOVE with `Overwrite: T` replaces atomically; real folders; uploads move `bufferSize` at a time. */
  protected override declareCapabilities(): DeclaredCapabilities {
    return {
      atomicOverwrite: true,
      serverSideRename: true,
      folders: true,
      chunkSize: this.#bufferSize,
      names: {},
    };
  }

  /** GET the file, streamed to `localPath`; the length is checked against Content-Length. */
  override async _get(name: string, localPath: string, ctx?: OperationContext): Promise<void> {
    await download(this.#dav, name, localPath, ctx);
  }

  /** PUT to a temporary name (streamed from the file), then MOVE onto `name`; the temporary file is removed on failure. */
  override async _put(localPath: string, name: string, ctx?: OperationContext): Promise<void> {
    const size = ctx?.size ?? (await Deno.stat(localPath)).size;
    await this.#uploads.put(localPath, size, name, ctx);
  }

  /** GET with a `Range` header; exactly the bytes asked, as a stream. */
  override async _openRead(
    name: string,
    range: ReadRange,
    ctx?: OperationContext,
  ): Promise<ReadableStream<Uint8Array>> {
    return await openRange(this.#dav, name, range, ctx);
  }

  /** A PUT of the stream to a temporary name, moved onto `name` on `close()`. */
  override async _openWrite(
    name: string,
    options: { size?: number },
    ctx?: OperationContext,
  ): Promise<WritableStream<Uint8Array>> {
    return await openUpload(this.#dav, this.#uploads, name, options.size, ctx);
  }

  /** PROPFIND `Depth: 1` on the folder: its files (not sub-folders); a missing folder is code 52. */
  override async _list(ctx?: OperationContext): Promise<string[]> {
    const folder = this.#dav.folderName;
    const entries = await propfind(this.#dav, this.#dav.folder, "1", ctx, { folder });
    return filesOf(this.#dav, entries).map((e) => e.name);
  }

  /** DELETE the file; a 404 is fine. */
  override async _delete(name: string, ctx?: OperationContext): Promise<void> {
    const res = await this.#dav.request("DELETE", this.#dav.pathOf(name), { ctx });
    if (res.statusCode !== 404 && !isSuccess(res.statusCode)) {
      throw toBackendError(res, "DELETE", undefined, { name });
    }
    res.resume();
  }

  /** DELETE each name in turn over the kept-alive connection; missing names are fine. */
  override async _deleteList(names: string[], ctx?: OperationContext): Promise<void> {
    for (const name of names) await this._delete(name, ctx);
  }

  /**
   * PROPFIND `Depth: 0` on the file: its size, or -1 when missing (or a
   * folder). Right after a put the server acknowledged in full, its size
   * without asking again (see `upload.ts`).
   */
  override async _query(name: string, ctx?: OperationContext): Promise<QueryResult> {
    const acknowledged = this.#uploads.acknowledgedSize(name);
    if (acknowledged !== undefined) return { size: acknowledged };
    const entries = await propfind(this.#dav, this.#dav.pathOf(name), "0", ctx, { name });
    const file = entries.find((e) => !e.collection);
    return { size: file ? file.size : -1 };
  }

  /** A few names one by one (`Depth: 0`), many with one listing; answers only the names asked. */
  override async _queryList(
    names: string[],
    ctx?: OperationContext,
  ): Promise<Record<string, QueryResult>> {
    const out: Record<string, QueryResult> = Object.create(null);
    if (names.length <= QUERY_ONE_BY_ONE) {
      for (const name of names) out[name] = await this._query(name, ctx);
      return out;
    }
    const sizes = new Map<string, number | null>();
    const entries = await propfind(this.#dav, this.#dav.folder, "1", ctx);
    for (const e of filesOf(this.#dav, entries)) sizes.set(e.name, e.size);
    for (const name of names) out[name] = { size: sizes.has(name) ? sizes.get(name)! : -1 };
    return out;
  }

  /** TLS failures → 60; HTTP parse errors and premature closes → 38. */
  override _errorCode(_operation: string, err: unknown): ErrorCode | undefined {
    return errorCode(err);
  }

  /** Drop every kept-alive connection, so the next attempt connects afresh. */
  override _retryCleanup(): Promise<void> {
    this.#dav.close();
    return Promise.resolve();
  }

  /** Close every connection. */
  override _close(): Promise<void> {
    this.#dav.close();
    return Promise.resolve();
  }
}
