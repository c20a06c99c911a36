/**
 * The `par2+` backend: recovery data beside every file of any store.
 *
 * @module
 */

import { dirname, join, resolve } from "node:path";
import {
  Backend,
  type BackendOptions,
  type DeclaredCapabilities,
  type OperationContext,
  type QueryResult,
} from "../../core/backend.ts";
import { BackendError, errnoCode, ErrorCode, reasonOf } from "../../core/errors.ts";
import { parseOptionsWithRest } from "../../core/options.ts";
import { ParsedUrl } from "../../core/url.ts";
import { LazyStore, queryListOf } from "../../core/lazy_store.ts";
import { getBackendObject } from "../../registry.ts";
import { createRecovery, type Par2Settings, repair, verify } from "./command.ts";
import { errorCode, toBackendError } from "./error.ts";
import {
  indexName,
  isPar2Name,
  isVolumeOf,
  localBase,
  ownerIn,
  RECOVERY_SUFFIX_BYTES,
} from "./names.ts";
import { PAR2_OPTIONS, type Par2Options } from "./options.ts";

type Log = (level: "debug" | "info" | "warn", message: string) => void;

/**
 * `par2+<url>`: every put also stores par2 recovery data (`<name>.par2` and
 * `<name>.vol*.par2`) beside the file on the inner store; every get verifies
 * the file and, when it is damaged, fetches the recovery volumes and repairs
 * it before handing it back. A file damaged beyond repair fails with code 56.
 *
 * @example
 * ```ts ignore
 * import { getBackend } from "@stowage/backends";
 * await using store = await getBackend("par2+file:///tmp/stowage-par2", { par2Redundancy: 20 });
 * console.log(await store.list()); // the data files; the .par2 files are hidden
 * ```
 */
export class Par2Backend extends Backend {
  /** The declared options (the inner store's options pass through). */
  static readonly options: typeof PAR2_OPTIONS = PAR2_OPTIONS;
  /** One line for `stowage backends`. */
  static readonly description: string =
    "par2 recovery data beside every file of any store; damaged files are repaired on get";
  /** The inner store's URL (`file:///dir` for `par2+file:///dir`). */
  readonly innerUrl: ParsedUrl;
  readonly #par2: Par2Settings;
  readonly #log: Log | undefined;
  readonly #inner: LazyStore;

  /** Take the par2 options; the rest go to the inner store, built on first use. */
  constructor(url: ParsedUrl, options: Par2Options & BackendOptions = {}) {
    super(new ParsedUrl(`par2+${url.geturl()}`), options);
    const { settings, rest } = parseOptionsWithRest(`par2+${url.scheme}`, PAR2_OPTIONS, options);
    if (settings.par2Args.some((a) => a === "-p" || a.startsWith("-p"))) {
      throw new BackendError(
        'Invalid option "par2Args" for par2+: -p would delete the recovery files after a repair',
        { code: ErrorCode.user_error },
      );
    }
    this.innerUrl = url;
    this.#par2 = {
      program: settings.par2Path,
      redundancy: settings.par2Redundancy,
      volumes: settings.par2Volumes,
      extraArgs: settings.par2Args,
    };
    this.#inner = new LazyStore(() => getBackendObject(this.innerUrl, rest));
    this.#log = typeof rest.log === "function" ? rest.log as Log : undefined;
  }

  /** The inner store's facts, less the room the recovery suffix needs in a name. */
  protected override declareCapabilities(): DeclaredCapabilities {
    const inner = this.#inner.opened?.capabilities;
    const limit = Math.min(255, inner?.names.maxBytes ?? 255) - RECOVERY_SUFFIX_BYTES;
    return {
      atomicOverwrite: false,
      serverSideRename: inner?.serverSideRename ?? false,
      folders: inner?.folders ?? false,
      names: { ...inner?.names, maxBytes: limit },
      ...(inner?.chunkSize !== undefined ? { chunkSize: inner.chunkSize } : {}),
    };
  }

  /** Fetch the file, verify it, repair it from the recovery volumes when damaged. */
  override async _get(name: string, localPath: string, ctx?: OperationContext): Promise<void> {
    const inner = await this.#inner.get();
    const dir = await Deno.makeTempDir({ dir: dirname(localPath), prefix: ".stowage-par2-" });
    try {
      const base = localBase(name);
      await inner._get(name, join(dir, base), ctx);
      await this.#check(inner, name, dir, base, ctx);
      await Deno.rename(join(dir, base), localPath);
    } finally {
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    }
  }

  /**
   * Create the recovery data in a private folder, upload it, then the file
   * (so a visible file has its recovery data); on an overwrite, delete the
   * old version's volumes that the new one did not replace.
   */
  override async _put(localPath: string, name: string, ctx?: OperationContext): Promise<void> {
    if (isPar2Name(name)) {
      throw new BackendError(
        `Cannot put "${name}" through par2+: names ending in .par2 hold recovery data`,
        { code: ErrorCode.user_error },
      );
    }
    const inner = await this.#inner.get();
    const size = ctx?.size ?? (await Deno.stat(localPath)).size;
    const existed = await this.#exists(inner, name, ctx);
    const dir = await Deno.makeTempDir({ prefix: "stowage-par2-" });
    const uploaded: string[] = [];
    try {
      const base = localBase(name);
      let made: string[] = [];
      if (size > 0) {
        await Deno.symlink(resolve(localPath), join(dir, base));
        made = await createRecovery(this.#par2, dir, base, ctx).catch((err) => {
          throw toBackendError(err, name);
        });
      }
      for (const file of made) {
        const remote = name + file.slice(base.length);
        await inner._put(join(dir, file), remote, quiet(ctx));
        uploaded.push(remote);
      }
      await inner._put(localPath, name, ctx);
    } catch (err) {
      if (!existed && uploaded.length) await this.#deleteQuietly(inner, uploaded);
      throw err;
    } finally {
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    }
    if (existed) await this.#removeStale(inner, name, new Set(uploaded), ctx);
  }

  /** The inner store's names without the recovery files. */
  override async _list(ctx?: OperationContext): Promise<string[]> {
    const inner = await this.#inner.get();
    return (await inner._list(ctx)).filter((n) => !isPar2Name(n));
  }

  /** Delete the file and its recovery files. */
  override _delete(name: string, ctx?: OperationContext): Promise<void> {
    return this._deleteList([name], ctx);
  }

  /** Delete the files and all their recovery files (one listing finds them). */
  override async _deleteList(names: string[], ctx?: OperationContext): Promise<void> {
    const inner = await this.#inner.get();
    const wanted = new Set(names);
    let listed: string[];
    try {
      listed = await inner._list(ctx);
    } catch (err) {
      // A folder that does not exist holds nothing to delete.
      if (this.#codeOf(inner, "list", err) !== ErrorCode.backend_not_found) throw err;
      listed = [];
    }
    const recovery = listed.filter((n) => ownerIn(n, wanted) !== undefined);
    await deleteAll(inner, [...names, ...recovery], ctx);
  }

  /** The data file's size (`-1` when missing). */
  override async _query(name: string, ctx?: OperationContext): Promise<QueryResult> {
    return (await this._queryList([name], ctx))[name] ?? { size: null };
  }

  /** The data files' sizes, from the inner store. */
  override async _queryList(
    names: string[],
    ctx?: OperationContext,
  ): Promise<Record<string, QueryResult>> {
    return await queryListOf(await this.#inner.get(), names, ctx);
  }

  /** Reset the inner store between attempts. */
  override async _retryCleanup(): Promise<void> {
    await this.#inner.opened?._retryCleanup?.();
  }

  /** par2's own failures here; the inner store's through its own mapping. */
  override _errorCode(operation: string, err: unknown): ErrorCode | undefined {
    return errorCode(err) ?? this.#inner.opened?._errorCode?.(operation, err);
  }

  /** Close the inner store. */
  override async _close(): Promise<void> {
    await this.#inner.opened?._close?.();
  }

  // ---- private helpers ----

  /**
   * Verify `dir/base` against its index; when it is damaged (or the index is
   * missing or unreadable) fetch the volumes and repair. Without any recovery
   * data the file is handed back unchecked, as duplicity does.
   */
  async #check(
    inner: Backend,
    name: string,
    dir: string,
    base: string,
    ctx?: OperationContext,
  ): Promise<void> {
    const index = indexName(base);
    const haveIndex = await this.#fetchIfPresent(inner, indexName(name), join(dir, index), ctx);
    let damaged = false;
    if (haveIndex) {
      const v = await verify(this.#par2, dir, index, ctx).catch((err) => {
        throw toBackendError(err, name);
      });
      if (v.status === 0) return;
      damaged = v.status === 1 || v.status === 2;
      this.#log?.("warn", `"${name}" failed its par2 check (status ${v.status}); repairing`);
    }
    const volumes = (await inner._list(ctx)).filter((n) => isVolumeOf(n, name)).sort();
    if (!haveIndex && volumes.length === 0) {
      this.#log?.("info", `"${name}" has no par2 recovery data; handed back unchecked`);
      return;
    }
    for (const vol of volumes) {
      await inner._get(vol, join(dir, base + vol.slice(name.length)), quiet(ctx));
    }
    const main = haveIndex ? index : base + volumes[0]!.slice(name.length);
    try {
      await repair(this.#par2, dir, main, base, ctx);
    } catch (err) {
      const code = errorCode(err);
      if (!damaged && code === ErrorCode.backend_validation_failed) {
        // Only the recovery data is unreadable: nothing says the file is damaged.
        this.#log?.("warn", `"${name}": its par2 data is unreadable; handed back unchecked`);
        return;
      }
      throw toBackendError(err, name);
    }
    this.#log?.("warn", `"${name}" was damaged and has been repaired from its par2 data`);
  }

  /** Get `remote` to `local`; `false` when the store does not have it. */
  async #fetchIfPresent(
    inner: Backend,
    remote: string,
    local: string,
    ctx?: OperationContext,
  ): Promise<boolean> {
    try {
      await inner._get(remote, local, quiet(ctx));
      return true;
    } catch (err) {
      await Deno.remove(local).catch(() => {});
      if (this.#codeOf(inner, "get", err) === ErrorCode.backend_not_found) return false;
      throw err;
    }
  }

  /** Whether `name` is on the store (true when the store cannot tell). */
  async #exists(inner: Backend, name: string, ctx?: OperationContext): Promise<boolean> {
    if (!inner._query && !inner._queryList) return true;
    const size = (await this._query(name, ctx)).size;
    return size === null || size >= 0;
  }

  /** After an overwrite: delete the recovery files of `name` that were not just uploaded. */
  async #removeStale(
    inner: Backend,
    name: string,
    fresh: ReadonlySet<string>,
    ctx?: OperationContext,
  ): Promise<void> {
    const own = new Set([name]);
    const stale = (await inner._list(ctx)).filter((n) => !fresh.has(n) && ownerIn(n, own));
    if (stale.length) await deleteAll(inner, stale, ctx);
  }

  async #deleteQuietly(inner: Backend, names: string[]): Promise<void> {
    try {
      await deleteAll(inner, names);
    } catch (err) {
      this.#log?.("debug", `Could not remove partial recovery files: ${reasonOf(err)}`);
    }
  }

  /** The code of an inner failure, in the wrapper's order. */
  #codeOf(inner: Backend, operation: string, err: unknown): ErrorCode | undefined {
    if (err instanceof BackendError) return err.code;
    return inner._errorCode?.(operation, err) ?? errnoCode(err);
  }
}

/** A context for the recovery files: it keeps the timeout alive but counts no bytes. */
function quiet(ctx?: OperationContext): OperationContext | undefined {
  return ctx && { signal: ctx.signal, progress: () => ctx.progress(0) };
}

async function deleteAll(inner: Backend, names: string[], ctx?: OperationContext): Promise<void> {
  if (inner._deleteList) return await inner._deleteList(names, ctx);
  for (const n of names) await inner._delete(n, ctx);
}
