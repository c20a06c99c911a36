/**
 * The `sftp://` backend class: the URL and options, the capabilities, and
 * the underscore methods. The connection, the engines, the transfers and the
 * metadata calls live in the other files of this folder.
 *
 * @module
 */

import { posix } from "node:path";
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
import type { ParsedUrl } from "../../core/url.ts";
import { PasswordSource } from "./auth.ts";
import { pickEngine, SftpConnection } from "./connection.ts";
import { errorCode } from "./error.ts";
import { SFTP_OPTIONS, type SftpOptions } from "./options.ts";
import {
  listFolder,
  mkdirp,
  removeFile,
  removeMany,
  renameOver,
  statMany,
} from "./remote_files.ts";
import { req, type Session, SFTP_STATUS, sftpCode } from "./session.ts";
import { download, type TransferOptions, upload } from "./transfer.ts";

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
  #dirMade = false;
  #posixRenameKnown: boolean | undefined;

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

  /** Atomic overwrite with `posix-rename@openssh.com` (assumed until a server lacks it); server-side rename; the request size. */
  protected override declareCapabilities(): DeclaredCapabilities {
    const atomic = this.#posixRenameKnown ?? true;
    return { atomicOverwrite: atomic, serverSideRename: true, chunkSize: this.#chunk };
  }

  /** Download `name` with pipelined reads. */
  override async _get(name: string, localPath: string, ctx?: OperationContext): Promise<void> {
    const s = await this.#conn.connect(ctx);
    await download(s, this.#path(name), localPath, this.#transfer, ctx);
  }

  /** Upload to a temporary name in the folder (made when missing), then rename over `name`. */
  override async _put(localPath: string, name: string, ctx?: OperationContext): Promise<void> {
    const s = await this.#conn.connect(ctx);
    await this.#ensureFolder(s);
    const tmp = this.#path(tempName(name));
    try {
      try {
        await upload(s, localPath, tmp, this.#transfer, ctx);
      } catch (err) {
        // The folder went away since it was made: make it again, once.
        if (sftpCode(err) !== SFTP_STATUS.NO_SUCH_FILE || !this.#dirMade) throw err;
        this.#dirMade = false;
        await this.#ensureFolder(s);
        await upload(s, localPath, tmp, this.#transfer, ctx);
      }
      ctx?.signal.throwIfAborted();
      await renameOver(s, tmp, this.#path(name));
    } catch (err) {
      if (s.closed) this.#conn.addOrphan(tmp);
      else {
        await req<void>(s, (cb) => s.sftp.unlink(tmp, cb)).catch((e) => {
          if (sftpCode(e) !== SFTP_STATUS.NO_SUCH_FILE) this.#conn.addOrphan(tmp);
        });
      }
      throw err;
    }
  }

  /** The regular files in the folder (and symlinks to them); `[]` when the folder does not exist. */
  override async _list(ctx?: OperationContext): Promise<string[]> {
    const s = await this.#conn.connect(ctx);
    return await listFolder(s, this.folder, this.#metaConcurrency, ctx);
  }

  /** Remove `name`; a missing file is fine. */
  override async _delete(name: string, ctx?: OperationContext): Promise<void> {
    const s = await this.#conn.connect(ctx);
    await removeFile(s, this.#path(name));
  }

  /** Remove several names, a few at a time; missing ones are fine. */
  override async _deleteList(names: string[], ctx?: OperationContext): Promise<void> {
    const s = await this.#conn.connect(ctx);
    await removeMany(s, names.map((n) => this.#path(n)), this.#metaConcurrency, ctx);
  }

  /** The size of `name`, `-1` when it is missing or not a regular file. */
  override async _query(name: string, ctx?: OperationContext): Promise<QueryResult> {
    return (await this._queryList([name], ctx))[name] ?? { size: -1 };
  }

  /** Sizes of the names asked, stat'ed a few at a time. */
  override async _queryList(
    names: string[],
    ctx?: OperationContext,
  ): Promise<Record<string, QueryResult>> {
    const s = await this.#conn.connect(ctx);
    return await statMany(s, names, (n) => this.#path(n), this.#metaConcurrency, ctx);
  }

  /**
   * Drop the connection so the next attempt opens a fresh one — unless it
   * still answers within 5 s (other calls may be using it).
   */
  override async _retryCleanup(): Promise<void> {
    await this.#conn.dropUnlessAlive(5000);
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
    return this.folder === "." ? name : posix.join(this.folder, name);
  }

  async #ensureFolder(s: Session): Promise<void> {
    if (this.#dirMade || this.folder === "." || this.folder === "/") return;
    await mkdirp(s, this.folder);
    this.#dirMade = true;
  }
}

/** The folder from a ParsedUrl path: `/rel/dir` → `rel/dir`, `//abs/dir` → `/abs/dir`, `` → `.`. */
function folderOf(path: string): string {
  let p = path.startsWith("/") ? path.slice(1) : path;
  if (p.length > 1) p = p.replace(/\/+$/, "");
  if (p === "") return ".";
  return p.startsWith("/") ? posix.normalize(p) : p;
}
