/**
 * The `rsync://` backend class: each operation is one rsync run.
 *
 * @module
 */

import { resolve } from "node:path";
import {
  Backend,
  type BackendOptions,
  type DeclaredCapabilities,
  type OperationContext,
  type QueryResult,
} from "../../core/backend.ts";
import { BackendError, ErrorCode } from "../../core/errors.ts";
import { parseOptions } from "../../core/options.ts";
import { askPasswordFrom, resolvePassword, storedPassword } from "../../core/password.ts";
import type { ParsedUrl } from "../../core/url.ts";
import { errorCode, toBackendError } from "./error.ts";
import { type ListEntry, parseListing } from "./listing.ts";
import { RSYNC_OPTIONS, type RsyncOptions } from "./options.ts";
import { Rsync, TRANSFER } from "./run.ts";
import { escapeWildcards, type RsyncTarget, rsyncTarget } from "./target.ts";

/**
 * A folder on an rsync daemon (`rsync://host::module/path`) or reached over
 * ssh (`rsync://user@host/path`), through the `rsync` program. Puts are
 * atomic: rsync writes a hidden temporary file and renames it over the name.
 *
 * @example
 * ```ts ignore
 * import { getBackend } from "@stowage/backends";
 * await using daemon = await getBackend("rsync://backup@nas::backups/host1");
 * await using ssh = await getBackend("rsync://me@nas//srv/backups/host1", {
 *   identityFile: "/home/me/.ssh/id_ed25519",
 * });
 * console.log(await daemon.list(), await ssh.list());
 * ```
 */
export class RsyncBackend extends Backend {
  /** The declared options. */
  static readonly options: typeof RSYNC_OPTIONS = RSYNC_OPTIONS;
  /** One line for `stowage backends`. */
  static readonly description: string =
    "a folder on an rsync daemon or over ssh, through the rsync program";
  /** How rsync reaches the folder. */
  readonly target: RsyncTarget;
  readonly #rsync: Rsync;
  #password: Promise<string | undefined> | undefined;

  /** Work out the rsync location and transport; no I/O. */
  constructor(url: ParsedUrl, options: RsyncOptions & BackendOptions = {}) {
    super(url, options);
    const settings = parseOptions(url.scheme, RSYNC_OPTIONS, options);
    this.target = rsyncTarget(url, settings);
    this.#rsync = new Rsync(settings, this.target);
  }

  /** rsync renames its temporary file over the name: atomic overwrite; real folders. */
  protected override declareCapabilities(): DeclaredCapabilities {
    return {
      atomicOverwrite: true,
      serverSideRename: true,
      folders: true,
      names: { maxBytes: 255 },
    };
  }

  /** rsync the file to the local path; code 52 when it is missing. */
  override async _get(name: string, localPath: string, ctx?: OperationContext): Promise<void> {
    const local = resolve(localPath);
    const args = [...TRANSFER, "--", this.#remote(name, true), local];
    const result = await this.#rsync.run("get", args, await this.#pw(), ctx);
    if (result.code !== 0) throw toBackendError(this.#rsync.error(result));
    const landed = await Deno.stat(local).then((s) => s.isFile, () => false);
    if (!landed) {
      throw new BackendError(`"${name}" is not a file`, { code: ErrorCode.backend_not_found });
    }
  }

  /** rsync the local file to the name (creating the folder); rsync renames into place. */
  override async _put(localPath: string, name: string, ctx?: OperationContext): Promise<void> {
    const args = ["--mkpath", ...TRANSFER, "--", resolve(localPath), this.#remote(name)];
    const result = await this.#rsync.run("put", args, await this.#pw(), ctx);
    if (result.code !== 0) throw toBackendError(this.#rsync.error(result));
  }

  /** The regular files in the folder (`rsync --list-only`); code 52 when it is missing. */
  override async _list(ctx?: OperationContext): Promise<string[]> {
    return (await this.#entries(ctx)).map((e) => e.name);
  }

  /** Delete one file; a missing file is fine. */
  override async _delete(name: string, ctx?: OperationContext): Promise<void> {
    await this._deleteList([name], ctx);
  }

  /**
   * One `rsync -d --delete` from an empty folder, with a filter that
   * includes just the names: missing names are fine. (A missing folder
   * whose parent exists is created, empty, as rsync makes its target.)
   */
  override async _deleteList(names: string[], ctx?: OperationContext): Promise<void> {
    const empty = await Deno.makeTempDir({ prefix: "stowage-rsync-empty-" });
    try {
      const include = names.map((n) => `--include=/${escapeWildcards(n)}`);
      const args = ["-d", "--delete", ...include, "--exclude=*", "--", `${empty}/`, this.#remote()];
      const result = await this.#rsync.run("delete", args, await this.#pw(), ctx);
      if (result.code === 0) return;
      const err = this.#rsync.error(result);
      if (errorCode(err) !== ErrorCode.backend_not_found) throw toBackendError(err);
    } finally {
      await Deno.remove(empty, { recursive: true }).catch(() => {});
    }
  }

  /** The size from a listing of the folder; -1 when missing. */
  override async _query(name: string, ctx?: OperationContext): Promise<QueryResult> {
    return (await this._queryList([name], ctx))[name]!;
  }

  /** Sizes from one listing of the folder; -1 for missing names (or a missing folder). */
  override async _queryList(
    names: string[],
    ctx?: OperationContext,
  ): Promise<Record<string, QueryResult>> {
    let entries: ListEntry[] = [];
    try {
      entries = await this.#entries(ctx);
    } catch (err) {
      if (errorCode(err) !== ErrorCode.backend_not_found) throw err;
    }
    const sizes = new Map(entries.map((e) => [e.name, e.size]));
    const out: Record<string, QueryResult> = {};
    for (const name of names) out[name] = { size: sizes.get(name) ?? -1 };
    return out;
  }

  /** rsync's and ssh's failures, as codes. */
  override _errorCode(_operation: string, err: unknown): ErrorCode | undefined {
    return errorCode(err);
  }

  // ---- private helpers ----

  async #entries(ctx?: OperationContext): Promise<ListEntry[]> {
    const args = ["--list-only", "--no-h", "--", this.#remote(undefined, true)];
    const result = await this.#rsync.run("list", args, await this.#pw(), ctx);
    if (result.code !== 0) {
      const err = this.#rsync.error(result);
      if (errorCode(err) === ErrorCode.backend_not_found && !/@ERROR/.test(result.stderr)) {
        throw new BackendError(`no such folder "${this.target.folder}"`, {
          code: ErrorCode.backend_not_found,
          cause: err,
        });
      }
      throw toBackendError(err);
    }
    return parseListing(result.stdout).filter((e) => e.type === "-");
  }

  /** The folder (with a trailing `/`) or a name in it; as a source, wildcards escaped. */
  #remote(name?: string, source = false): string {
    const path = `${this.target.folder}/${name ?? ""}`;
    return source ? escapeWildcards(path) : path;
  }

  /** The daemon password: the URL's, else FTP_PASSWORD, else asked (when a user is named). */
  #pw(): Promise<string | undefined> {
    if (this.target.mode !== "daemon") return Promise.resolve(undefined);
    return this.#password ??= this.url.username !== undefined
      ? resolvePassword(this.url, { askPassword: askPasswordFrom(this.options) })
      : Promise.resolve(storedPassword(this.url));
  }
}
