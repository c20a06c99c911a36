/**
 * `BackendWrapper`: what applications call. It adds duplicity's semantics on
 * top of a {@linkcode Backend}: retries with cleanup between attempts,
 * immediate failure on permanent errors, list variants preferred, move
 * fallback, validation — plus a no-progress timeout, exponential backoff with
 * jitter, and secrets kept out of every message.
 *
 * @module
 */

import { basename, dirname } from "./paths.ts";
import type { Backend, OperationContext, QueryResult } from "./backend.ts";
import { OperationRunner } from "./operation.ts";
import {
  openReadStream,
  type ReadOptions,
  type StreamHost,
  writeFromSource,
  type WriteOptions,
  type WriteSource,
} from "./streams.ts";
import { DEFAULT_STALE_AFTER, firstSweepOf, removeStaleParts, staleTempNames } from "./cleanup.ts";
import { checkLocalFile, checkLocalFolder, landDownload, partFileFor } from "./local_file.ts";
import { BackendError, ErrorCode, reasonOf } from "./errors.ts";
import { checkName, isTempName } from "./names.ts";
import type {
  CleanupOptions,
  GetOptions,
  ListOptions,
  ProgressEvent,
  PutOptions,
  QueryInfo,
  WrapperOptions,
} from "./wrapper_options.ts";
import { abortableSleep } from "./retry.ts";

export type { ReadOptions, WriteOptions, WriteSource } from "./streams.ts";
export type {
  CleanupOptions,
  GetOptions,
  ListOptions,
  ProgressEvent,
  PutOptions,
  QueryInfo,
  WrapperOptions,
} from "./wrapper_options.ts";

const DELETE_CHUNK = 100;

/**
 * The application-facing store. Get one with `getBackend(url)`.
 *
 * @example
 * ```ts
 * import { getBackend } from "@stowage/backends";
 * await using store = await getBackend("memory://example");
 * const file = await Deno.makeTempFile();
 * await Deno.writeTextFile(file, "hello");
 * await store.put(file, "hello.txt");
 * console.log(await store.list()); // ["hello.txt"]
 * ```
 */
export class BackendWrapper {
  /** The backend this wraps. */
  readonly backend: Backend;
  readonly #opts: WrapperOptions;
  readonly #ops: OperationRunner;
  #closed = false;
  #swept = false;
  readonly #sweptFolders = new Set<string>();

  /** Wrap a backend with retries, timeouts and validation. */
  constructor(backend: Backend, options: WrapperOptions = {}) {
    this.backend = backend;
    this.#opts = options;
    this.#ops = new OperationRunner(backend, options);
  }

  /** The store's URL without credentials, for messages. */
  get displayUrl(): string {
    return this.backend.url.stripAuth();
  }

  /**
   * Upload a local file under `name` (default: the file's base name). The
   * backend never leaves a partial file visible under `name`.
   */
  async put(
    localPath: string,
    name: string = basename(localPath),
    options: PutOptions = {},
  ): Promise<void> {
    this.#checkName(name, "put");
    const size = checkLocalFile(localPath, "put", name);
    this.#started("put", name, size);
    const put = (ctx: OperationContext) => this.backend._put(localPath, name, ctx);
    await this.#run("put", name, put, size, options.signal);
    if (options.validate) await this.validate(name, size);
    await this.#sweepStore();
  }

  /**
   * Move a local file into the store: `_move` when the backend has it and
   * accepts, else put and then delete the local file.
   */
  async move(
    localPath: string,
    name: string = basename(localPath),
    options: PutOptions = {},
  ): Promise<void> {
    this.#checkName(name, "move");
    const size = checkLocalFile(localPath, "move", name);
    this.#started("move", name, size);
    const move = this.backend._move?.bind(this.backend);
    if (move) {
      const moved = await this.#run(
        "move",
        name,
        (ctx) => move(localPath, name, ctx),
        size,
        options.signal,
      );
      if (moved) {
        if (options.validate) await this.validate(name, size);
        return;
      }
    }
    const put = (ctx: OperationContext) => this.backend._put(localPath, name, ctx);
    await this.#run("put", name, put, size, options.signal);
    if (options.validate) await this.validate(name, size);
    try {
      await Deno.remove(localPath);
    } catch (err) {
      if (!(err instanceof Deno.errors.NotFound)) {
        throw this.#wrap("move", name, err, 1);
      }
    }
  }

  /**
   * Download `name` to `localPath`. The file is written under a temporary
   * name next to `localPath` and renamed into place, so a failed get leaves
   * no local file. With `options.size`, a download of another size fails
   * (code 56) before it is renamed into place.
   */
  async get(name: string, localPath: string, options: GetOptions = {}): Promise<void> {
    this.#checkName(name, "get");
    await checkLocalFolder(localPath, name);
    await this.#sweepLocal(dirname(localPath));
    this.#started("get", name, options.size);
    const parts = new Set<string>();
    try {
      await this.#run(
        "get",
        name,
        async (ctx) => {
          const tmp = partFileFor(localPath);
          parts.add(tmp);
          try {
            await this.backend._get(name, tmp, ctx);
            await landDownload(tmp, localPath, options.size);
          } catch (err) {
            await Deno.remove(tmp).catch(() => {});
            throw err;
          }
        },
        undefined,
        options.signal,
      );
    } finally {
      // An attempt cut off by a timeout or a cancel may still be writing:
      // whatever it left is removed before the caller hears of the failure.
      for (const tmp of parts) await Deno.remove(tmp).catch(() => {});
    }
  }

  /**
   * The bytes of `name` (or of the range `offset`/`length`) as a stream,
   * without a local copy where the backend reads natively. A missing name
   * rejects with 52; a stream that breaks mid-way is resumed from the byte
   * reached, within the retry budget.
   *
   * @example
   * ```ts
   * import { getBackend } from "@stowage/backends";
   * await using store = await getBackend("memory://read-example");
   * await store.write("hello.txt", "hello, world");
   * const tail = await store.read("hello.txt", { offset: 7 });
   * console.log(await new Response(tail).text()); // world
   * ```
   */
  read(name: string, options: ReadOptions = {}): Promise<ReadableStream<Uint8Array>> {
    this.#checkName(name, "read");
    return openReadStream(this.#streamHost(), name, options);
  }

  /** The bytes of `name` (or a range of it) in memory: for small files. */
  async readBytes(name: string, options: ReadOptions = {}): Promise<Uint8Array> {
    return new Uint8Array(await new Response(await this.read(name, options)).arrayBuffer());
  }

  /** The text of `name` (UTF-8), or of a range of it. */
  async readText(name: string, options: ReadOptions = {}): Promise<string> {
    return new TextDecoder().decode(await this.readBytes(name, options));
  }

  /**
   * Store `source` (bytes, text, a stream, an async iterable, or a function
   * that opens one) under `name`, without a local copy where the backend
   * writes natively. Nothing is visible under `name` until the write is
   * complete; a failed or cancelled write leaves nothing.
   */
  write(name: string, source: WriteSource, options: WriteOptions = {}): Promise<void> {
    this.#checkName(name, "write");
    return writeFromSource(this.#streamHost(), name, source, options);
  }

  #streamHost(): StreamHost {
    return {
      backend: this.backend,
      run: (operation, subject, fn, signal) => this.#run(operation, subject, fn, undefined, signal),
      put: (path, name, signal) => this.put(path, name, signal ? { signal } : {}),
      get: (name, path, signal) => this.get(name, path, signal ? { signal } : {}),
      fail: (operation, name, err, attempts) => this.#wrap(operation, name, err, attempts),
      maxAttempts: this.#opts.maxAttempts ?? 5,
      timeout: this.#opts.timeout ?? 30000,
    };
  }

  /**
   * Every file name in the folder, without stowage's own temporary upload
   * names (a put in progress, or debris of a killed one) unless `all`.
   */
  async list(options: ListOptions = {}): Promise<string[]> {
    const names = await this.#run("list", undefined, (ctx) => this.backend._list(ctx));
    return options.all ? names : names.filter((n) => !isTempName(n));
  }

  /**
   * Remove stale temporary uploads (debris of killed processes) from the
   * store; never one younger than `olderThan` (another process may still be
   * writing it). Returns the names removed (or, with `dryRun`, that would be).
   */
  async cleanup(options: CleanupOptions = {}): Promise<string[]> {
    const olderThan = options.olderThan ?? (this.#opts.staleAfter || DEFAULT_STALE_AFTER);
    const all = await this.list({ all: true });
    const stale = staleTempNames(all, olderThan, this.#now());
    if (stale.length && !options.dryRun) await this.#deleteNames(stale);
    return stale;
  }

  /**
   * Delete one or more files; missing names are not an error. Uses
   * `_deleteList` in chunks of 100 when the backend has it, else `_delete`.
   */
  async delete(names: string | string[]): Promise<void> {
    const list = typeof names === "string" ? [names] : [...names];
    for (const n of list) this.#checkName(n, "delete");
    await this.#deleteNames(list);
  }

  async #deleteNames(list: string[]): Promise<void> {
    const deleteList = this.backend._deleteList?.bind(this.backend);
    if (deleteList) {
      for (let i = 0; i < list.length; i += DELETE_CHUNK) {
        const chunk = list.slice(i, i + DELETE_CHUNK);
        const label = chunk.length === 1 ? chunk[0] : `${chunk.length} files`;
        await this.#run("delete", label, (ctx) => deleteList(chunk, ctx));
      }
      return;
    }
    for (const n of list) {
      await this.#run("delete", n, (ctx) => this.backend._delete(n, ctx));
    }
  }

  /**
   * Sizes of the named files: every name asked gets an entry, with size ≥ 0,
   * `-1` when missing, or `null` when the backend cannot tell.
   */
  async queryInfo(names: string | string[]): Promise<QueryInfo> {
    const list = typeof names === "string" ? [names] : [...names];
    for (const n of list) this.#checkName(n, "query");
    const out: QueryInfo = Object.create(null);
    const queryList = this.backend._queryList?.bind(this.backend);
    const query = this.backend._query?.bind(this.backend);
    if (queryList) {
      const got = list.length
        ? await this.#run(
          "query",
          list.length === 1 ? list[0] : `${list.length} files`,
          (ctx) => queryList(list, ctx),
        )
        : {};
      for (const n of list) out[n] = { size: sizeOf(Object.hasOwn(got, n) ? got[n] : undefined) };
    } else if (query) {
      for (const n of list) {
        try {
          out[n] = { size: sizeOf(await this.#run("query", n, (ctx) => query(n, ctx))) };
        } catch (err) {
          if (err instanceof BackendError && err.code === ErrorCode.backend_not_found) {
            out[n] = { size: -1 };
          } else throw err;
        }
      }
    } else {
      for (const n of list) out[n] = { size: null };
    }
    return out;
  }

  /**
   * Check that `name` has `expectedSize` bytes on the store, re-checking a
   * few times with growing waits (stores can be eventually consistent).
   * Passes when the backend cannot tell sizes; throws code 56 otherwise.
   */
  async validate(name: string, expectedSize: number): Promise<void> {
    const checks = Math.max(1, this.#opts.maxAttempts ?? 5);
    const sleep = this.#opts.sleep ?? abortableSleep;
    let size: number | null = null;
    for (let i = 0; i < checks; i++) {
      size = (await this.queryInfo([name]))[name]?.size ?? null;
      if (size === null || size === expectedSize) return;
      if (i + 1 < checks) {
        const wait = Math.min(
          this.#opts.maxTimeout ?? 60000,
          (this.#opts.minTimeout ?? 1000) * 2 ** i,
        );
        this.#log("info", `Size of "${name}" is ${size}, expected ${expectedSize}; checking again`);
        await sleep(wait, this.#opts.signal);
      }
    }
    const what = size === -1
      ? "the file is missing"
      : `remote size ${size} does not match local size ${expectedSize}`;
    throw new BackendError(`Cannot validate "${name}" on "${this.displayUrl}": ${what}`, {
      code: ErrorCode.backend_validation_failed,
      operation: "validate",
      attempts: checks,
    });
  }

  /** Release the backend's connections. Safe to call more than once. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    // A cancelled attempt may still be removing its temporary upload: let it.
    await this.#ops.settle(this.#opts.closeGrace ?? 5000);
    await this.backend._close?.();
  }

  /** `await using store = await getBackend(url)` closes the store at the end of the scope. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  // ---- private helpers ----

  #checkName(name: string, operation: string): void {
    try {
      checkName(name, this.backend.capabilities.names, operation);
    } catch (err) {
      const reason = reasonOf(err);
      throw new BackendError(`Cannot ${operation} on "${this.displayUrl}": ${reason}`, {
        code: ErrorCode.user_error,
        operation,
        cause: err,
      });
    }
  }

  #now(): number {
    return (this.#opts.now ?? Date.now)();
  }

  /**
   * Once per store location and process: remove stale temporary uploads
   * after a put (best effort, never fails the put). Only stores whose puts go
   * through a temporary name can hold such debris; the others skip the list.
   */
  async #sweepStore(): Promise<void> {
    const olderThan = this.#opts.staleAfter ?? DEFAULT_STALE_AFTER;
    if (this.#swept || !olderThan) return;
    this.#swept = true;
    if (!this.backend.capabilities.serverSideRename || !firstSweepOf(this.displayUrl)) return;
    try {
      const removed = await this.cleanup({ olderThan });
      if (removed.length) {
        this.#log("info", `Removed ${removed.length} stale temporary upload(s) from the store`);
      }
    } catch (err) {
      this.#log("debug", `Could not clean stale temporary uploads: ${reasonOf(err)}`);
    }
  }

  /** Once per local folder: remove partial downloads a killed process left there. */
  async #sweepLocal(folder: string): Promise<void> {
    const olderThan = this.#opts.staleAfter ?? DEFAULT_STALE_AFTER;
    if (!olderThan || this.#sweptFolders.has(folder)) return;
    this.#sweptFolders.add(folder);
    const removed = await removeStaleParts(folder, olderThan, this.#now());
    if (removed.length) this.#log("info", `Removed ${removed.length} stale partial download(s)`);
  }

  /** The first progress event of a transfer, carrying its total size when known. */
  #started(operation: string, name: string, total: number | undefined): void {
    const e: ProgressEvent = { operation, name, bytes: 0 };
    if (total !== undefined && total >= 0) e.total = total;
    this.#opts.onProgress?.(e);
  }

  #log(level: "debug" | "info" | "warn", message: string): void {
    this.#ops.log(level, message);
  }

  #wrap(
    operation: string,
    subject: string | undefined,
    err: unknown,
    attempts: number,
  ): BackendError {
    return this.#ops.wrap(operation, subject, err, attempts);
  }

  #run<T>(
    operation: string,
    subject: string | undefined,
    fn: (ctx: OperationContext) => Promise<T>,
    size?: number,
    callSignal?: AbortSignal,
  ): Promise<T> {
    if (this.#closed) {
      throw new BackendError(`Cannot ${operation} on "${this.displayUrl}": the store is closed`, {
        code: ErrorCode.user_error,
        operation,
      });
    }
    return this.#ops.run(operation, subject, fn, size, callSignal);
  }
}

function sizeOf(r: QueryResult | undefined): number | null {
  if (!r || typeof r.size !== "number" || !Number.isFinite(r.size)) return null;
  return r.size < 0 ? -1 : r.size;
}
