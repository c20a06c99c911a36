/**
 * The `multi://` backend: several stores as one (duplicity's multibackend).
 *
 * @module
 */

import {
  Backend,
  type BackendOptions,
  type DeclaredCapabilities,
  type NameLimits,
  type OperationContext,
  type QueryResult,
} from "../../core/backend.ts";
import { BackendError, ErrorCode, isAbortError, reasonOf } from "../../core/errors.ts";
import type { ParsedUrl } from "../../core/url.ts";
import type { WrapperOptions } from "../../core/wrapper.ts";
import { readConfig } from "./config.ts";
import { errorCode, type StoreFailure, StoresFailed, toBackendError } from "./error.ts";
import { MULTI_OPTIONS, type MultiOptions, type MultiSettings, multiSettings } from "./options.ts";
import { buildStores, eligible, onStore, splitOptions, type Store } from "./stores.ts";

type Log = (level: "debug" | "info" | "warn", message: string) => void;

/**
 * `multi:///path/config.json?mode=mirror|stripe&onfail=continue|abort&subpath=x`.
 * In mirror mode a put goes to every eligible store; in stripe mode to one,
 * round-robin, moving on to the next store when one fails. A list is the
 * union of every store's (a store that cannot be listed is a warning); a get
 * reads from the first store that has the file; a delete removes the file
 * from every store. Each store retries on its own; `onfail=continue` goes on
 * with the other stores when one gives up, `onfail=abort` fails at once.
 * Nothing is shared between instances.
 *
 * @example
 * ```ts ignore
 * import { getBackend } from "@stowage/backends";
 * await Deno.writeTextFile("/tmp/stores.json", JSON.stringify([
 *   { url: "file:///mnt/usb/backups" },
 *   { url: "sftp://me@offsite.example/backups", description: "offsite" },
 * ]));
 * await using store = await getBackend("multi:///tmp/stores.json?mode=mirror");
 * ```
 */
export class MultiBackend extends Backend {
  /** The declared options (also the URL query keys). */
  static readonly options: typeof MULTI_OPTIONS = MULTI_OPTIONS;
  /** One line for `stowage backends`. */
  static readonly description: string =
    "several stores as one: mirror or stripe, from duplicity's JSON config";
  /** The configuration file's path. */
  readonly configPath: string;
  /** The settings in force. */
  readonly settings: Readonly<MultiSettings>;
  readonly #wrapper: WrapperOptions;
  readonly #backendOptions: BackendOptions;
  readonly #log: Log | undefined;
  #stores?: Promise<Store[]>;
  #built?: Store[];
  #cursor = 0;

  /** Check the URL and settings; the configuration is read on first use. */
  constructor(url: ParsedUrl, options: MultiOptions & BackendOptions = {}) {
    super(url, options);
    const mine = new Set(Object.keys(MULTI_OPTIONS));
    const own = Object.fromEntries(Object.entries(options).filter(([k]) => mine.has(k)));
    const rest = Object.fromEntries(Object.entries(options).filter(([k]) => !mine.has(k)));
    this.settings = multiSettings(url, own);
    this.configPath = url.path.slice(2);
    if (!this.configPath) {
      throw new BackendError(`Invalid URL "${url.stripAuth()}": it names no config file`, {
        code: ErrorCode.user_error,
      });
    }
    const { wrapper, backend } = splitOptions(rest);
    this.#wrapper = wrapper;
    this.#backendOptions = backend;
    this.#log = typeof rest.log === "function" ? rest.log as Log : undefined;
  }

  /** What every store can hold; folders (a missing config is 52, like a missing folder). */
  protected override declareCapabilities(): DeclaredCapabilities {
    const caps = this.#built?.map((s) => s.backend.capabilities) ?? [];
    const names: NameLimits = {};
    for (const c of caps) {
      const n = c.names;
      if (n.maxBytes !== undefined) {
        names.maxBytes = Math.min(names.maxBytes ?? n.maxBytes, n.maxBytes);
      }
      if (n.forbiddenChars) names.forbiddenChars = (names.forbiddenChars ?? "") + n.forbiddenChars;
      if (n.noLeadingSpace) names.noLeadingSpace = true;
      if (n.noTrailingSpace) names.noTrailingSpace = true;
    }
    const chunks = caps.map((c) => c.chunkSize).filter((c): c is number => c !== undefined);
    return {
      atomicOverwrite: caps.length > 0 && caps.every((c) => c.atomicOverwrite),
      folders: true,
      names,
      ...(chunks.length ? { chunkSize: Math.max(...chunks) } : {}),
    };
  }

  /** Get from the first eligible store that has the file. */
  override async _get(name: string, localPath: string, ctx?: OperationContext): Promise<void> {
    const failures: StoreFailure[] = [];
    for (const s of eligible(await this.#storeList(), name)) {
      try {
        return await onStore(s, this.#wrapper, ctx, (w) => w.get(name, localPath, signalOf(ctx)));
      } catch (err) {
        this.#stopIfCancelled(ctx, err);
        failures.push({ store: s.label, error: err });
        if (errorCode(err) !== ErrorCode.backend_not_found) {
          this.#warn(
            `Cannot get "${name}" from ${s.label}: ${reasonOf(err)}; trying the next store`,
          );
        }
      }
    }
    throw toBackendError(new StoresFailed(failures));
  }

  /** Mirror: put to every eligible store. Stripe: to the next store in turn. */
  override async _put(localPath: string, name: string, ctx?: OperationContext): Promise<void> {
    const stores = eligible(await this.#storeList(), name);
    const put = (s: Store) =>
      onStore(s, this.#wrapper, ctx, (w) => w.put(localPath, name, signalOf(ctx)));
    const failures: StoreFailure[] = [];
    if (this.settings.mode === "mirror") {
      let stored = 0;
      for (const s of stores) {
        if (await this.#attempt(s, put, failures, `put "${name}"`, ctx)) stored++;
      }
      if (stored === 0) throw toBackendError(new StoresFailed(failures));
      return;
    }
    const start = this.#cursor % stores.length;
    for (let k = 0; k < stores.length; k++) {
      const i = (start + k) % stores.length;
      this.#cursor = (i + 1) % stores.length;
      if (await this.#attempt(stores[i]!, put, failures, `put "${name}"`, ctx)) {
        await this.#dropOtherCopies(name, stores.filter((_, j) => j !== i), ctx);
        return;
      }
    }
    throw toBackendError(new StoresFailed(failures));
  }

  /** The union of every store's names; a store that cannot be listed is a warning. */
  override async _list(ctx?: OperationContext): Promise<string[]> {
    const stores = await this.#storeList();
    const failures: StoreFailure[] = [];
    const seen = new Set<string>();
    for (const s of stores) {
      try {
        const names = await onStore(s, this.#wrapper, ctx, (w) => w.list({ all: true }));
        for (const n of names) seen.add(n);
      } catch (err) {
        this.#stopIfCancelled(ctx, err);
        failures.push({ store: s.label, error: err });
        this.#warn(`Cannot list ${s.label}: ${reasonOf(err)}; listing the other stores`);
      }
    }
    // Only when no store could be listed is it a failure (52 when the folder is missing everywhere).
    if (failures.length === stores.length) throw toBackendError(new StoresFailed(failures));
    return [...seen];
  }

  /** Delete from every store. */
  override _delete(name: string, ctx?: OperationContext): Promise<void> {
    return this._deleteList([name], ctx);
  }

  /** Delete from every store (missing names are fine on each). */
  override async _deleteList(names: string[], ctx?: OperationContext): Promise<void> {
    const stores = await this.#storeList();
    const failures: StoreFailure[] = [];
    const label = names.length === 1 ? `delete "${names[0]}"` : `delete ${names.length} files`;
    let done = 0;
    for (const s of stores) {
      const del = (t: Store) => onStore(t, this.#wrapper, ctx, (w) => w.delete(names));
      if (await this.#attempt(s, del, failures, label, ctx)) done++;
    }
    if (done === 0) throw toBackendError(new StoresFailed(failures));
  }

  /** The size on the first eligible store that has the file. */
  override async _query(name: string, ctx?: OperationContext): Promise<QueryResult> {
    return (await this._queryList([name], ctx))[name] ?? { size: null };
  }

  /** Sizes from the first eligible store that has each file; -1 when none has. */
  override async _queryList(
    names: string[],
    ctx?: OperationContext,
  ): Promise<Record<string, QueryResult>> {
    const stores = await this.#storeList();
    const out: Record<string, QueryResult> = {};
    const unknown = new Set<string>();
    const failures: StoreFailure[] = [];
    for (const s of stores) {
      const ask = names.filter((n) => !(n in out) && eligible(stores, n).includes(s));
      if (!ask.length) continue;
      try {
        const got = await onStore(s, this.#wrapper, ctx, (w) => w.queryInfo(ask));
        for (const n of ask) {
          const size = got[n]?.size ?? null;
          if (size === null) unknown.add(n);
          else if (size >= 0) out[n] = { size };
        }
      } catch (err) {
        this.#stopIfCancelled(ctx, err);
        failures.push({ store: s.label, error: err });
        for (const n of ask) unknown.add(n);
        this.#warn(`Cannot query ${s.label}: ${reasonOf(err)}; asking the other stores`);
      }
    }
    if (failures.length === stores.length) throw toBackendError(new StoresFailed(failures));
    for (const n of names) out[n] ??= { size: unknown.has(n) ? null : -1 };
    return out;
  }

  /** Combined store failures carry their code. */
  override _errorCode(_operation: string, err: unknown): ErrorCode | undefined {
    return errorCode(err);
  }

  /** Close every store. */
  override async _close(): Promise<void> {
    const errors: unknown[] = [];
    for (const s of this.#built ?? []) {
      try {
        await s.backend._close?.();
      } catch (err) {
        errors.push(err);
      }
    }
    if (errors.length) throw errors[0];
  }

  // ---- private helpers ----

  /** The stores, built on first use from the configuration. */
  #storeList(): Promise<Store[]> {
    this.#stores ??= (async () => {
      const { subpath, mode } = this.settings;
      const configs = await readConfig(this.configPath, subpath, mode);
      this.#built = await buildStores(configs, this.#backendOptions);
      return this.#built;
    })().catch((err) => {
      this.#stores = undefined;
      throw err;
    });
    return this.#stores;
  }

  /**
   * One store's part of a write: `true` when it succeeded. A failure is
   * recorded and warned about; with `onfail=abort` it ends the operation.
   */
  async #attempt(
    s: Store,
    fn: (s: Store) => Promise<unknown>,
    failures: StoreFailure[],
    what: string,
    ctx?: OperationContext,
  ): Promise<boolean> {
    try {
      await fn(s);
      return true;
    } catch (err) {
      this.#stopIfCancelled(ctx, err);
      failures.push({ store: s.label, error: err });
      if (this.settings.onfail === "abort") {
        throw toBackendError(new StoresFailed([failures.at(-1)!], true));
      }
      this.#warn(
        `Cannot ${what} on ${s.label}: ${reasonOf(err)}; continuing with the other stores`,
      );
      return false;
    }
  }

  /**
   * Stripe mode, after a put: remove older copies of the name from the other
   * stores (one attempt each; a failure is only a warning), so a get never
   * reads a stale copy after an overwrite.
   */
  async #dropOtherCopies(name: string, others: Store[], ctx?: OperationContext): Promise<void> {
    for (const s of others) {
      try {
        await onStore(s, { ...this.#wrapper, maxAttempts: 1 }, ctx, (w) => w.delete(name));
      } catch (err) {
        this.#stopIfCancelled(ctx, err);
        this.#warn(`Cannot remove an older copy of "${name}" from ${s.label}: ${reasonOf(err)}`);
      }
    }
  }

  /** A cancelled call stops at once: no other store is tried. */
  #stopIfCancelled(ctx: OperationContext | undefined, err: unknown): void {
    if (ctx?.signal.aborted || isAbortError(err)) throw err;
  }

  #warn(message: string): void {
    this.#log?.("warn", message);
  }
}

function signalOf(ctx?: OperationContext): { signal?: AbortSignal } {
  return ctx ? { signal: ctx.signal } : {};
}
