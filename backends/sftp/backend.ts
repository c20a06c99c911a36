/**
 * The `sftp://` backend class: the URL and options, the capabilities, and
 * the underscore methods. The connection, the engines, the transfers and the
 * metadata calls live in the other files of this folder.
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
import { PasswordSource } from "./auth.ts";
import { pickEngine, SftpConnection } from "./connection.ts";
import { errorCode, toBackendError } from "./error.ts";
import { SFTP_OPTIONS, type SftpOptions } from "./options.ts";
import {
  inFolder,
  listFolder,
  mkdirp,
  removeFile,
  removeMany,
  renameOver,
  statMany,
} from "./remote_files.ts";
import type { Session } from "./session.ts";
import { SFTP_STATUS, sftpCode } from "./sftp_wire.ts";
import {
  downloadFile,
  openForRead,
  openForWrite,
  rangeStream,
  uploadFile,
  writeStream,
} from "./transfer.ts";
import type { TransferOptions } from "./writer.ts";

/**
 * The default request size with ssh2: under Deno it spends less CPU per byte
 * with 64 KiB than with OpenSSH's 32 KiB, while larger requests mostly add
 * memory, since the usual 2 MiB SSH channel window caps the data in flight.
 */
const DEFAULT_CHUNK_SSH2 = 64 * 1024;
/**
 * With the OpenSSH engine, larger requests cost less CPU per byte in this
 * process (fewer packets to build and parse); OpenSSH servers accept up to
 * 255 KiB, others are capped by what they announce.
 */
const DEFAULT_CHUNK_OPENSSH = 256 * 1024;
/** Sizes remembered from uploads, for the validation that follows them (oldest dropped first). */
const MAX_REMEMBERED = 1024;
/** The longest a temporary upload's removal is waited for after a failure or a cancel. */
const CLEANUP_LIMIT = 1000;

/**
 * A folder on an SSH server, reached over SFTP.
 *
 * @example
 * ```ts
 * import { ParsedUrl } from "@stowage/backends";
 * import { SftpBackend } from "@stowage/backends/backends/sftp";
 * const b = new SftpBackend(new ParsedUrl("sftp://backup@example.com//srv/backups"));
 * console.log(b.folder); // /srv/backups
 * ```
 */
export class SftpBackend extends Backend {
  /** The declared options. */
  static readonly options: typeof SFTP_OPTIONS = SFTP_OPTIONS;
  /** One line for `stowage backends`. */
  static readonly description: string = "a folder on an SSH server, over SFTP (also scp://)";
  /** The remote folder: relative to the login folder, or absolute. */
  readonly folder: string;
  readonly #chunk: number;
  readonly #metaConcurrency: number;
  readonly #transfer: TransferOptions;
  readonly #conn: SftpConnection;
  #posixRenameKnown: boolean | undefined;
  /**
   * name → size of an upload this backend just renamed into place, every
   * byte acknowledged by the server: answers the size check that follows a
   * put once, instead of another round trip.
   */
  readonly #uploaded = new Map<string, number>();

  /** Read the URL and options; no network I/O (connects on first use). */
  constructor(url: ParsedUrl, options: SftpOptions & BackendOptions = {}) {
    super(url, options);
    const settings = parseOptions(url.scheme, SFTP_OPTIONS, options);
    if (!url.hostname) {
      throw new BackendError(`Invalid URL "${url.stripAuth()}": it names no host`, {
        code: ErrorCode.user_error,
      });
    }
    this.folder = folderOf(url.path);
    const engine = pickEngine(settings.engine);
    this.#chunk = settings.chunkSize ??
      (engine === "openssh" ? DEFAULT_CHUNK_OPENSSH : DEFAULT_CHUNK_SSH2);
    this.#metaConcurrency = settings.metaConcurrency;
    this.#transfer = { concurrency: settings.concurrency, fsync: settings.fsync };
    const password = new PasswordSource(url, askPasswordFrom(options));
    this.#conn = new SftpConnection(
      engine,
      { url, settings, chunk: this.#chunk, password },
      (s) => this.#posixRenameKnown = s.posixRename,
    );
  }

  /** Atomic overwrite with `posix-rename@openssh.com` (assumed until a server lacks it); server-side rename; real folders; the request size. */
  protected override declareCapabilities(): DeclaredCapabilities {
    const atomic = this.#posixRenameKnown ?? true;
    return {
      atomicOverwrite: atomic,
      serverSideRename: true,
      folders: true,
      chunkSize: this.#chunk,
    };
  }

  /** Download `name` with pipelined reads. */
  override async _get(name: string, localPath: string, ctx?: OperationContext): Promise<void> {
    const s = await this.#conn.connect(ctx);
    const path = this.#path(name);
    await downloadFile(s, path, localPath, this.#transfer, ctx).catch((err) => {
      throw toBackendError(err, { name, path });
    });
  }

  /** Upload to a temporary name in the folder (made when missing), then rename over `name`. */
  override async _put(localPath: string, name: string, ctx?: OperationContext): Promise<void> {
    this.#uploaded.delete(name);
    const s = await this.#conn.connect(ctx);
    const tmp = this.#path(tempName(name));
    try {
      const bytes = await this.#inFolder(
        s,
        () => uploadFile(s, localPath, tmp, this.#transfer, ctx),
      );
      ctx?.signal.throwIfAborted();
      await this.#commit(s, tmp, name, bytes);
    } catch (err) {
      await this.#removeTemp(s, tmp);
      throw toBackendError(err, { name, path: this.#path(name) });
    }
  }

  /** The bytes `range` of `name`, read ahead with pipelined requests. */
  override async _openRead(
    name: string,
    range: ReadRange,
    ctx?: OperationContext,
  ): Promise<ReadableStream<Uint8Array>> {
    const s = await this.#conn.connect(ctx);
    const path = this.#path(name);
    const opened = await openForRead(s, path, ctx).catch((err) => {
      throw toBackendError(err, { name, path });
    });
    return rangeStream(s, opened, range, this.#transfer, ctx);
  }

  /** A stream into a temporary name in the folder, renamed over `name` on close. */
  override async _openWrite(
    name: string,
    _options: { size?: number },
    ctx?: OperationContext,
  ): Promise<WritableStream<Uint8Array>> {
    this.#uploaded.delete(name);
    const s = await this.#conn.connect(ctx);
    const tmp = this.#path(tempName(name));
    let handle: Uint8Array;
    try {
      handle = await this.#inFolder(s, () => openForWrite(s, tmp, ctx));
    } catch (err) {
      await this.#removeTemp(s, tmp);
      throw toBackendError(err, { name, path: this.#path(name) });
    }
    const commit = async (bytes: number) => {
      ctx?.signal.throwIfAborted();
      await this.#commit(s, tmp, name, bytes).catch((err) => {
        throw toBackendError(err, { name, path: this.#path(name) });
      });
    };
    return writeStream(s, handle, this.#transfer, ctx, commit, () => this.#removeTemp(s, tmp));
  }

  /** The regular files in the folder (and symlinks to them); code 52 when the folder does not exist. */
  override async _list(ctx?: OperationContext): Promise<string[]> {
    const s = await this.#conn.connect(ctx);
    return await listFolder(s, this.folder, this.folder, this.#metaConcurrency, ctx);
  }

  /** Remove `name`; a missing file is fine. */
  override async _delete(name: string, ctx?: OperationContext): Promise<void> {
    this.#uploaded.delete(name);
    const s = await this.#conn.connect(ctx);
    await removeFile(s, this.#path(name));
  }

  /** Remove several names, a few at a time; missing ones are fine. */
  override async _deleteList(names: string[], ctx?: OperationContext): Promise<void> {
    for (const n of names) this.#uploaded.delete(n);
    const s = await this.#conn.connect(ctx);
    await removeMany(s, names.map((n) => this.#path(n)), this.#metaConcurrency, ctx);
  }

  /** The size of `name`, `-1` when it is missing or not a regular file. */
  override async _query(name: string, ctx?: OperationContext): Promise<QueryResult> {
    return (await this._queryList([name], ctx))[name] ?? { size: -1 };
  }

  /**
   * Sizes of the names asked, stat'ed a few at a time — except a name this
   * backend just uploaded, answered once from what the upload learned: the
   * size every WRITE of which the server acknowledged, flushed, closed and
   * renamed into place without error, which is what a stat right after
   * would read.
   */
  override async _queryList(
    names: string[],
    ctx?: OperationContext,
  ): Promise<Record<string, QueryResult>> {
    const out: Record<string, QueryResult> = {};
    const ask: string[] = [];
    for (const n of names) {
      const size = this.#uploaded.get(n);
      if (size === undefined) ask.push(n);
      else {
        out[n] = { size };
        this.#uploaded.delete(n);
      }
    }
    if (!ask.length) return out;
    const s = await this.#conn.connect(ctx);
    const pathOf = (n: string) => this.#path(n);
    return { ...out, ...(await statMany(s, ask, pathOf, this.#metaConcurrency, ctx)) };
  }

  /**
   * Drop the connection so the next attempt opens a fresh one — unless it
   * still answers within the caller's timeout (other calls may be using it).
   */
  override async _retryCleanup(): Promise<void> {
    await this.#conn.dropUnlessAlive();
  }

  /** Map SFTP status codes and ssh2 errors to error codes. */
  override _errorCode(_operation: string, err: unknown): ErrorCode | undefined {
    return errorCode(err);
  }

  /** End the connection. */
  override async _close(): Promise<void> {
    await this.#conn.disconnect();
  }

  #path(name: string): string {
    return inFolder(this.folder, name);
  }

  /** Run `open`; when the folder is missing, make it (`mkdir -p`) and run it once more. */
  async #inFolder<T>(s: Session, open: () => Promise<T>): Promise<T> {
    try {
      return await open();
    } catch (err) {
      if (sftpCode(err) !== SFTP_STATUS.NO_SUCH_FILE || this.folder === ".") throw err;
      if (this.folder === "/") throw err;
      await mkdirp(s, this.folder);
      return await open();
    }
  }

  /** Rename the finished temporary over `name` and remember its size. */
  async #commit(s: Session, tmp: string, name: string, bytes: number): Promise<void> {
    await renameOver(s, tmp, this.#path(name));
    this.#uploaded.delete(name);
    this.#uploaded.set(name, bytes);
    if (this.#uploaded.size > MAX_REMEMBERED) {
      this.#uploaded.delete(this.#uploaded.keys().next().value!);
    }
  }

  /**
   * Remove a temporary upload after a failure or a cancel, waiting at most
   * a second (the wrapper's grace); when the connection is gone or stuck,
   * it is removed by the next connection.
   */
  async #removeTemp(s: Session, tmp: string): Promise<void> {
    if (s.closed) {
      // The connection is gone: remove the temporary through a new one, now.
      this.#conn.addOrphan(tmp);
      return await this.#conn.removeOrphansNow(this.#conn.waitLimit);
    }
    let timer: ReturnType<typeof setTimeout> | undefined;
    const removed = s.client.remove(tmp).then(
      () => true,
      (e) => sftpCode(e) === SFTP_STATUS.NO_SUCH_FILE,
    );
    const limit = Math.min(this.#conn.waitLimit, CLEANUP_LIMIT);
    const timeout = new Promise<undefined>((r) => timer = setTimeout(() => r(undefined), limit));
    const done = await Promise.race([removed, timeout]);
    clearTimeout(timer);
    if (done === true) return;
    this.#conn.addOrphan(tmp);
    if (done === undefined) {
      // It did not answer: the session is stuck (or buried under queued
      // writes). Drop it and remove the temporary through a fresh one.
      this.#conn.destroy();
      await this.#conn.removeOrphansNow(this.#conn.waitLimit);
    }
  }
}

/** The folder from a ParsedUrl path: `/rel/dir` → `rel/dir`, `//abs/dir` → `/abs/dir`, `` → `.`. */
function folderOf(path: string): string {
  let p = path.startsWith("/") ? path.slice(1) : path;
  if (p.length > 1) p = p.replace(/\/+$/, "");
  if (p === "") return ".";
  if (!p.startsWith("/")) return p;
  // posix.normalize of an absolute path: no empty, "." or ".." segments.
  const parts: string[] = [];
  for (const seg of p.split("/")) {
    if (seg === "" || seg === ".") continue;
    if (seg === "..") parts.pop();
    else parts.push(seg);
  }
  return "/" + parts.join("/");
}
