/**
 * `BackendWrapper`: what applications call. It adds duplicity's semantics on
 * top of a {@linkcode Backend}: retries with cleanup between attempts,
 * immediate failure on permanent errors, list variants preferred, move
 * fallback, validation — plus a no-progress timeout, exponential backoff with
 * jitter, and secrets kept out of every message.
 *
 * @module
 */

import { basename, dirname, join } from "node:path";
import type { Backend, OperationContext, QueryResult } from "./backend.ts";
import {
  BackendError,
  errnoCode,
  ErrorCode,
  isAbortError,
  isPermanentCode,
  reasonOf,
} from "./errors.ts";
import { checkName } from "./names.ts";
import { abortableSleep, retry, RetryError, type RetryOptions } from "./retry.ts";
import { redactRaw, secretsOf } from "./url.ts";

/** How the wrapper retries, times out and reports; every field has a default. */
export interface WrapperOptions {
  /** Attempts per operation, not retries; default 5. */
  maxAttempts?: number;
  /** First backoff wait in milliseconds; default 1000. */
  minTimeout?: number;
  /** Longest backoff wait in milliseconds; default 60000. */
  maxTimeout?: number;
  /** Backoff growth per attempt; default 2. */
  multiplier?: number;
  /** Share of each wait that is random, 0..1; default 1 (full jitter). */
  jitter?: number;
  /** Milliseconds an attempt may go without progress before it fails (retryably); default 30000; 0 turns it off. */
  timeout?: number;
  /** Cancels the operation in progress and any further attempts. */
  signal?: AbortSignal;
  /** How to wait between attempts; inject for tests. Default: a real timer. */
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  /** Random numbers for the jitter; default `Math.random`. */
  random?: () => number;
  /** Receives retry and progress messages. */
  log?: (level: "debug" | "info" | "warn", message: string) => void;
  /** Receives transfer progress: bytes moved since the last call. */
  onProgress?: (event: ProgressEvent) => void;
  /**
   * Milliseconds to let a cancelled or timed-out attempt clean up (remove its
   * temporary upload) before the wrapper gives up on it; default 5000.
   */
  abortGrace?: number;
}

/** A progress report for {@linkcode WrapperOptions.onProgress}. */
export interface ProgressEvent {
  /** The operation (`put`, `get`, `move`). */
  operation: string;
  /** The remote name. */
  name: string;
  /** Bytes moved since the last event. */
  bytes: number;
}

/** The answer of {@linkcode BackendWrapper.queryInfo}: one entry per name asked. */
export type QueryInfo = Record<string, QueryResult>;

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
  #closed = false;

  /** Wrap a backend with retries, timeouts and validation. */
  constructor(backend: Backend, options: WrapperOptions = {}) {
    this.backend = backend;
    this.#opts = options;
  }

  /** The store's URL without credentials, for messages. */
  get displayUrl(): string {
    return this.backend.url.stripAuth();
  }

  /**
   * Upload a local file under `name` (default: the file's base name). The
   * backend never leaves a partial file visible under `name`.
   */
  async put(localPath: string, name: string = basename(localPath)): Promise<void> {
    this.#checkName(name, "put");
    await this.#checkLocalFile(localPath, "put", name);
    await this.#run("put", name, (ctx) => this.backend._put(localPath, name, ctx));
  }

  /**
   * Move a local file into the store: `_move` when the backend has it and
   * accepts, else put and then delete the local file.
   */
  async move(localPath: string, name: string = basename(localPath)): Promise<void> {
    this.#checkName(name, "move");
    await this.#checkLocalFile(localPath, "move", name);
    const move = this.backend._move?.bind(this.backend);
    if (move) {
      const moved = await this.#run("move", name, (ctx) => move(localPath, name, ctx));
      if (moved) return;
    }
    await this.#run("put", name, (ctx) => this.backend._put(localPath, name, ctx));
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
   * no local file.
   */
  async get(name: string, localPath: string): Promise<void> {
    this.#checkName(name, "get");
    const folder = dirname(localPath);
    const isDir = await Deno.stat(folder).then((i) => i.isDirectory, () => false);
    if (!isDir) {
      throw new BackendError(
        `Cannot get "${name}" to "${localPath}": the local folder "${folder}" does not exist`,
        { code: ErrorCode.backend_not_found, operation: "get" },
      );
    }
    await this.#run("get", name, async (ctx) => {
      const tmp = join(
        dirname(localPath),
        `.${basename(localPath).slice(0, 60)}.stowage-part-${crypto.randomUUID().slice(0, 8)}`,
      );
      try {
        await this.backend._get(name, tmp, ctx);
        let ok = false;
        try {
          ok = (await Deno.stat(tmp)).isFile;
        } catch {
          ok = false;
        }
        if (!ok) {
          throw new BackendError("the file was not found locally after the download", {
            code: ErrorCode.backend_error,
          });
        }
        await Deno.rename(tmp, localPath);
      } catch (err) {
        await Deno.remove(tmp).catch(() => {});
        throw err;
      }
    });
  }

  /** Every file name in the folder. */
  list(): Promise<string[]> {
    return this.#run("list", undefined, (ctx) => this.backend._list(ctx));
  }

  /**
   * Delete one or more files; missing names are not an error. Uses
   * `_deleteList` in chunks of 100 when the backend has it, else `_delete`.
   */
  async delete(names: string | string[]): Promise<void> {
    const list = typeof names === "string" ? [names] : [...names];
    for (const n of list) this.#checkName(n, "delete");
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

  async #checkLocalFile(localPath: string, operation: string, name: string): Promise<void> {
    let info: Deno.FileInfo;
    try {
      info = await Deno.stat(localPath);
    } catch (err) {
      const code = errnoCode(err) ?? ErrorCode.backend_error;
      const reason = code === ErrorCode.backend_not_found ? "no such local file" : reasonOf(err);
      throw new BackendError(`Cannot ${operation} "${localPath}" as "${name}": ${reason}`, {
        code,
        operation,
        cause: err,
      });
    }
    if (!info.isFile) {
      throw new BackendError(`Cannot ${operation} "${localPath}": not a regular file`, {
        code: ErrorCode.user_error,
        operation,
      });
    }
  }

  /** The error code for a failure, in DESIGN order: own code, `_errorCode`, errno, 50. */
  #classify(operation: string, err: unknown): ErrorCode {
    if (err instanceof BackendError) return err.code;
    if (isAbortError(err)) return ErrorCode.backend_aborted;
    let code: ErrorCode | undefined;
    try {
      code = this.backend._errorCode?.(operation, err);
    } catch {
      code = undefined;
    }
    return code ?? errnoCode(err) ?? ErrorCode.backend_error;
  }

  #log(level: "debug" | "info" | "warn", message: string): void {
    this.#opts.log?.(level, this.#scrub(message));
  }

  /** Remove the password and any credentials in URLs from a message. */
  #scrub(text: string): string {
    let out = text.replace(/[A-Za-z][A-Za-z0-9+.-]*:\/\/[^\s"'<>]+/g, (u) => redactRaw(u));
    const secrets = new Set(secretsOf(this.backend.url.geturl()));
    if (this.backend.url.password) secrets.add(this.backend.url.password);
    // Very short values would blank out ordinary letters; they are not worth hiding.
    for (const s of secrets) if (s.length >= 3) out = out.split(s).join("***");
    return out;
  }

  #wrap(
    operation: string,
    subject: string | undefined,
    err: unknown,
    attempts: number,
  ): BackendError {
    const code = this.#classify(operation, err);
    const reason = this.#scrub(reasonOf(err));
    const where = this.displayUrl;
    let message: string;
    switch (operation) {
      case "list":
        message = `Cannot list "${where}": ${reason}`;
        break;
      case "get":
        message = `Cannot get "${subject}" from "${where}": ${reason}`;
        break;
      case "put":
      case "move":
        message = `Cannot ${operation} "${subject}" to "${where}": ${reason}`;
        break;
      default:
        message = `Cannot ${operation} "${subject}" on "${where}": ${reason}`;
    }
    if (attempts > 1) message += ` (after ${attempts} attempts)`;
    const retryAfter = err instanceof BackendError ? err.retryAfter : undefined;
    return new BackendError(message, {
      code,
      operation,
      attempts,
      cause: err,
      ...(retryAfter !== undefined ? { retryAfter } : {}),
    });
  }

  async #run<T>(
    operation: string,
    subject: string | undefined,
    fn: (ctx: OperationContext) => Promise<T>,
  ): Promise<T> {
    if (this.#closed) {
      throw new BackendError(`Cannot ${operation} on "${this.displayUrl}": the store is closed`, {
        code: ErrorCode.user_error,
        operation,
      });
    }
    const o = this.#opts;
    let attempts = 0;
    const retryOptions: RetryOptions = {
      maxAttempts: o.maxAttempts ?? 5,
      minTimeout: o.minTimeout ?? 1000,
      maxTimeout: o.maxTimeout ?? 60000,
      multiplier: o.multiplier ?? 2,
      jitter: o.jitter ?? 1,
      isRetriable: (err) => !isPermanentCode(this.#classify(operation, err)),
      onRetry: async (err, attempt, wait) => {
        this.#log(
          "warn",
          `Attempt ${attempt} of ${o.maxAttempts ?? 5} to ${operation}${
            subject ? ` "${subject}"` : ""
          } failed: ${reasonOf(err)}; retrying in ${(wait / 1000).toFixed(1)} s`,
        );
        try {
          await this.backend._retryCleanup?.();
        } catch (cleanupErr) {
          this.#log("debug", `Cleanup before the next attempt failed: ${reasonOf(cleanupErr)}`);
        }
      },
    };
    if (o.signal) retryOptions.signal = o.signal;
    if (o.sleep) retryOptions.sleep = o.sleep;
    if (o.random) retryOptions.random = o.random;
    try {
      return await retry(() => {
        attempts++;
        return this.#attempt(operation, subject, fn);
      }, retryOptions);
    } catch (err) {
      const last = err instanceof RetryError ? err.cause : err;
      if (
        o.signal?.aborted &&
        !(last instanceof BackendError && last.code === ErrorCode.backend_aborted)
      ) {
        throw this.#wrap(operation, subject, abortError(o.signal), attempts);
      }
      throw this.#wrap(operation, subject, last, attempts);
    }
  }

  /** One attempt, under the no-progress timeout and the caller's signal. */
  #attempt<T>(
    operation: string,
    subject: string | undefined,
    fn: (ctx: OperationContext) => Promise<T>,
  ): Promise<T> {
    const outer = this.#opts.signal;
    const timeout = this.#opts.timeout ?? 30000;
    const onProgress = this.#opts.onProgress;
    const grace = this.#opts.abortGrace ?? 5000;
    const ac = new AbortController();
    return new Promise<T>((resolve, reject) => {
      let timer: ReturnType<typeof setTimeout> | undefined;
      let settled = false;
      // deno-lint-ignore prefer-const -- assigned once fn() has started, below
      let running: Promise<unknown> | undefined;
      /** Abort the attempt, give it `grace` ms to clean up, then reject. */
      const stop = (err: BackendError) => {
        finish();
        ac.abort(err);
        if (!running || !grace) return reject(err);
        let graceTimer: ReturnType<typeof setTimeout> | undefined;
        Promise.race([
          running.catch(() => {}),
          new Promise<void>((r) => graceTimer = setTimeout(r, grace)),
        ]).finally(() => {
          clearTimeout(graceTimer);
          reject(err);
        });
      };
      const finish = () => {
        settled = true;
        if (timer !== undefined) clearTimeout(timer);
        outer?.removeEventListener("abort", onAbort);
      };
      const arm = () => {
        if (settled || !timeout) return;
        if (timer !== undefined) clearTimeout(timer);
        timer = setTimeout(() => {
          const err = new BackendError(
            `no progress for ${formatSeconds(timeout)}; timed out`,
            { code: ErrorCode.backend_timeout, operation },
          );
          stop(err);
        }, timeout);
      };
      const onAbort = () => stop(abortError(outer!));
      if (outer?.aborted) return onAbort();
      outer?.addEventListener("abort", onAbort, { once: true });
      const ctx: OperationContext = {
        signal: ac.signal,
        progress: (bytes = 0) => {
          arm();
          if (onProgress && subject && bytes > 0) onProgress({ operation, name: subject, bytes });
        },
      };
      arm();
      let p: Promise<T>;
      try {
        p = fn(ctx);
      } catch (err) {
        finish();
        return reject(err);
      }
      running = p;
      p.then(
        (v) => {
          if (settled) return;
          finish();
          resolve(v);
        },
        (err) => {
          if (settled) return;
          finish();
          reject(err);
        },
      );
    });
  }
}

function sizeOf(r: QueryResult | undefined): number | null {
  if (!r || typeof r.size !== "number" || !Number.isFinite(r.size)) return null;
  return r.size < 0 ? -1 : r.size;
}

function abortError(signal: AbortSignal): BackendError {
  const reason = signal.reason;
  if (reason instanceof BackendError) return reason;
  return new BackendError("cancelled", { code: ErrorCode.backend_aborted, cause: reason });
}

function formatSeconds(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000} s` : `${(ms / 1000).toFixed(2)} s`;
}
