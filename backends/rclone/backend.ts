/**
 * The `rclone://` backend class: each operation is one rclone command.
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
import type { ParsedUrl } from "../../core/url.ts";
import { errorCode, isNotFound, toBackendError } from "./error.ts";
import { RCLONE_OPTIONS, type RcloneOptions } from "./options.ts";
import { joinRemote, remotePath } from "./remote.ts";
import { fitsNameFile, NO_RETRY, Rclone } from "./run.ts";

/** `lsjson` flags for a folder's files. */
const FILES = ["--files-only"] as const;
/** While a server-side move runs, rclone prints its stats so the no-progress timer holds. */
const STATS = ["--stats", "5s", "--stats-log-level", "NOTICE", "--stats-one-line"] as const;

/**
 * Any rclone remote as a store, through the `rclone` program: gets stream
 * from `rclone cat`, puts stream into `rclone rcat` under a hidden
 * temporary name and `rclone moveto` it into place, lists with
 * `rclone lsjson`, deletes with `rclone deletefile` / `rclone delete
 * --files-from-raw`.
 *
 * @example
 * ```ts ignore
 * import { getBackend } from "@stowage/backends";
 * await using store = await getBackend("rclone://backup:/host1", {
 *   env: { RCLONE_CONFIG_BACKUP_TYPE: "local" },
 * });
 * console.log(await store.list());
 * ```
 */
export class RcloneBackend extends Backend {
  /** The declared options. */
  static readonly options: typeof RCLONE_OPTIONS = RCLONE_OPTIONS;
  /** One line for `stowage backends`. */
  static readonly description: string =
    "any rclone remote (S3, Drive, OneDrive, SFTP, ...), through the rclone program";
  /** The rclone path of the folder (`remote:dir`). */
  readonly remote: string;
  readonly #rclone: Rclone;
  readonly #tempUpload: boolean;

  /** Work out the rclone path and flags; no I/O. */
  constructor(url: ParsedUrl, options: RcloneOptions & BackendOptions = {}) {
    super(url, options);
    const settings = parseOptions(url.scheme, RCLONE_OPTIONS, options);
    this.remote = remotePath(url);
    this.#rclone = new Rclone(settings, url.scheme);
    this.#tempUpload = settings.tempUpload;
  }

  /**
   * Puts rename into place (unless tempUpload is off); rclone reports a
   * missing folder (exit status 3), so folders are real (on bucket remotes a
   * missing prefix lists empty, as rclone does); names up to 255 bytes.
   */
  protected override declareCapabilities(): DeclaredCapabilities {
    return {
      atomicOverwrite: false,
      serverSideRename: this.#tempUpload,
      folders: true,
      names: { maxBytes: 255 },
    };
  }

  /** `rclone cat` into the local file. */
  override async _get(name: string, localPath: string, ctx?: OperationContext): Promise<void> {
    const call = { sub: "cat", paths: [this.#path(name)], stdoutFile: localPath };
    await this.#rclone.check(call, ctx).catch(fail);
  }

  /** `rclone rcat` to a temporary name, then `rclone moveto` the name; the temporary file goes on failure. */
  override async _put(localPath: string, name: string, ctx?: OperationContext): Promise<void> {
    const size = ctx?.size ?? (await Deno.stat(localPath)).size;
    const target = this.#path(name);
    const rcat = (to: string) => ({
      sub: "rcat",
      flags: ["--size", String(size)],
      paths: [to],
      stdinFile: localPath,
    });
    if (!this.#tempUpload) {
      await this.#rclone.check(rcat(target), ctx).catch(fail);
      return;
    }
    const tmp = this.#path(tempName(name));
    try {
      await this.#rclone.check(rcat(tmp), ctx);
      ctx?.signal.throwIfAborted();
      const flags = ["--ignore-times", ...STATS];
      await this.#rclone.check({ sub: "moveto", flags, paths: [tmp, target] }, ctx);
    } catch (err) {
      // Not under the operation's signal: this cleanup must run after an abort too.
      await this.#rclone.run({ sub: "deletefile", flags: NO_RETRY, paths: [tmp] }).catch(() => {});
      throw toBackendError(err);
    }
  }

  /** The files in the folder (`rclone lsjson --files-only`); code 52 when rclone finds no folder. */
  override async _list(ctx?: OperationContext): Promise<string[]> {
    const entries = await this.#rclone.lsjson(FILES, this.remote, ctx).catch(fail);
    if (entries !== "missing") return entries.map((e) => e.Name);
    throw new BackendError(`no such folder "${this.remote}"`, {
      code: ErrorCode.backend_not_found,
    });
  }

  /** `rclone deletefile`, failing once (not three times); a missing file is fine. */
  override async _delete(name: string, ctx?: OperationContext): Promise<void> {
    const call = { sub: "deletefile", flags: NO_RETRY, paths: [this.#path(name)] };
    const result = await this.#rclone.run(call, ctx);
    if (result.code === 0) return;
    const err = this.#rclone.error(call, result);
    if (!isNotFound(err)) throw toBackendError(err);
  }

  /** `rclone delete --files-from-raw` in one call; missing names are fine. */
  override async _deleteList(names: string[], ctx?: OperationContext): Promise<void> {
    if (!fitsNameFile(names)) {
      for (const name of names) await this._delete(name, ctx);
      return;
    }
    await this.#rclone.withNameFile(names, async (file) => {
      const flags = [...NO_RETRY, "--files-from-raw", file];
      const call = { sub: "delete", flags, paths: [this.remote] };
      const result = await this.#rclone.run(call, ctx);
      if (result.code !== 0 && result.code !== 3) {
        throw toBackendError(this.#rclone.error(call, result));
      }
    });
  }

  /** `rclone lsjson --stat`: the size, or -1 when missing. */
  override async _query(name: string, ctx?: OperationContext): Promise<QueryResult> {
    const entries = await this.#rclone.lsjson(["--stat"], this.#path(name), ctx).catch(fail);
    const e = entries === "missing" ? undefined : entries[0];
    return { size: e && !e.IsDir ? e.Size : -1 };
  }

  /** One `rclone lsjson --files-from-raw` for all the names; -1 for missing ones. */
  override async _queryList(
    names: string[],
    ctx?: OperationContext,
  ): Promise<Record<string, QueryResult>> {
    const out: Record<string, QueryResult> = {};
    if (!fitsNameFile(names)) {
      for (const name of names) out[name] = await this._query(name, ctx);
      return out;
    }
    const sizes = new Map<string, number>();
    await this.#rclone.withNameFile(names, async (file) => {
      const flags = [...FILES, "--files-from-raw", file];
      const entries = await this.#rclone.lsjson(flags, this.remote, ctx).catch(fail);
      if (entries !== "missing") { for (const e of entries) sizes.set(e.Name, e.Size); }
    });
    for (const name of names) out[name] = { size: sizes.get(name) ?? -1 };
    return out;
  }

  /** rclone's exit status and messages, as codes. */
  override _errorCode(_operation: string, err: unknown): ErrorCode | undefined {
    return errorCode(err);
  }

  #path(name: string): string {
    return joinRemote(this.remote, name);
  }
}

function fail(err: unknown): never {
  throw toBackendError(err);
}
