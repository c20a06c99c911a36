/**
 * The contract every backend implements: duplicity's `Backend` with its
 * underscore methods, in TypeScript naming.
 *
 * @module
 */

import type { ErrorCode } from "./errors.ts";
import type { OptionSpecs } from "./options.ts";
import type { ParsedUrl } from "./url.ts";

/**
 * Options a backend receives, untyped. Each built-in backend declares its keys
 * once (see `parseOptions` in the kit) and refuses unknown ones; values from
 * the command line (`-o key=value`) arrive as strings.
 */
export interface BackendOptions {
  /** Backend-specific settings. */
  [key: string]: unknown;
}

/** The byte range `_openRead` is asked for. */
export interface ReadRange {
  /** First byte. */
  offset: number;
  /** How many bytes at most; `undefined` to the end. */
  length?: number;
}

/** What one file's query answers: its size in bytes, `-1` when missing. */
export interface QueryResult {
  /** Size in bytes; `-1` when the file does not exist; `null` when unknown. */
  size: number | null;
}

/**
 * Passed by the wrapper as the last argument of every underscore method:
 * the backend calls `progress()` as bytes move (so the no-progress timeout
 * does not fire) and stops when `signal` aborts.
 */
export interface OperationContext {
  /** Aborted when the caller cancels or the operation timed out. */
  signal: AbortSignal;
  /** Report that the operation moved forward (`bytes` transferred since the last call). */
  progress(bytes?: number): void;
  /**
   * The caller's no-progress timeout in ms (0: none): a backend bounds its
   * own waits (connecting, a liveness probe, closing a stuck connection)
   * by it instead of fixed numbers, so `--timeout` bounds every give-up.
   */
  timeout?: number;
  /**
   * For `_put` and `_move`: the local file's size, read once by the wrapper
   * before the first attempt (backends need not stat the file again).
   */
  size?: number;
}

/** Limits on the names a store can hold; the wrapper rejects others with code 23. */
export interface NameLimits {
  /** Longest name in UTF-8 bytes. */
  maxBytes?: number;
  /** Characters the store cannot hold in a name. */
  forbiddenChars?: string;
  /** The store strips or refuses a leading space. */
  noLeadingSpace?: boolean;
  /** The store strips or refuses a trailing space. */
  noTrailingSpace?: boolean;
}

/**
 * What a backend can do, so tools and the conformance suite can ask. The
 * method flags are filled in from the methods a backend defines.
 */
export interface BackendCapabilities {
  /** Has `_deleteList`. */
  deleteList: boolean;
  /** Has `_query`. */
  query: boolean;
  /** Has `_queryList`. */
  queryList: boolean;
  /** Has `_move`. */
  move: boolean;
  /** Has `_retryCleanup`. */
  retryCleanup: boolean;
  /** Has `_close`. */
  close: boolean;
  /** Has `_openRead` (native streamed and ranged reads). */
  openRead: boolean;
  /** Has `_openWrite` (native streamed writes). */
  openWrite: boolean;
  /** A put over an existing name replaces it atomically (readers see old or new, never a mix). */
  atomicOverwrite: boolean;
  /** The store renames on the server (puts go to a temporary name, then rename). */
  serverSideRename: boolean;
  /**
   * The store has real folders: listing one that does not exist fails with
   * code 52 (object stores, where a prefix that holds nothing lists empty,
   * say `false`).
   */
  folders: boolean;
  /** Largest chunk (part, block, buffer) the backend moves in one piece, in bytes. */
  chunkSize?: number;
  /** Names the store cannot hold. */
  names: NameLimits;
}

/** The parts of {@linkcode BackendCapabilities} a backend declares itself. */
export type DeclaredCapabilities = Partial<
  Pick<
    BackendCapabilities,
    "atomicOverwrite" | "serverSideRename" | "folders" | "chunkSize" | "names"
  >
>;

/**
 * The contract. Subclasses implement the four required methods and any of the
 * optional ones; applications do not call these directly but go through
 * {@linkcode BackendWrapper} (see `getBackend`), which adds retries,
 * timeouts, validation and fallbacks.
 *
 * Names are flat file names inside the folder the URL points at (no `/`).
 *
 * @example
 * ```ts
 * import { Backend, type OperationContext, ParsedUrl, registerBackend } from "@stowage/backends";
 *
 * class NullBackend extends Backend {
 *   async _get(_name: string, localPath: string, _ctx?: OperationContext): Promise<void> {
 *     await Deno.writeFile(localPath, new Uint8Array());
 *   }
 *   async _put(_localPath: string, _name: string): Promise<void> {}
 *   async _list(): Promise<string[]> {
 *     return [];
 *   }
 *   async _delete(_name: string): Promise<void> {}
 * }
 * registerBackend("null", NullBackend);
 * ```
 */
export abstract class Backend {
  /** The URL this backend was made for. */
  readonly url: ParsedUrl;
  /** The options it was given. */
  readonly options: BackendOptions;

  /** Initial setup only: no network I/O that can fail transiently (connect lazily). */
  constructor(url: ParsedUrl, options: BackendOptions = {}) {
    this.url = url;
    this.options = options;
  }

  /** Download one file to a local path. */
  abstract _get(name: string, localPath: string, ctx?: OperationContext): Promise<void>;
  /** Upload one local file under `name`; never leave a partial file visible under `name`. */
  abstract _put(localPath: string, name: string, ctx?: OperationContext): Promise<void>;
  /** All file names in the folder (every page; no filtering). */
  abstract _list(ctx?: OperationContext): Promise<string[]>;
  /** Delete one file; a missing file is not an error. */
  abstract _delete(name: string, ctx?: OperationContext): Promise<void>;

  /** Delete several files; used instead of `_delete` when present; tolerates missing names. */
  _deleteList?(names: string[], ctx?: OperationContext): Promise<void>;
  /** The size of one file, `-1` when it does not exist. */
  _query?(name: string, ctx?: OperationContext): Promise<QueryResult>;
  /** Sizes of several files (only the names asked); used instead of `_query` when present. */
  _queryList?(names: string[], ctx?: OperationContext): Promise<Record<string, QueryResult>>;
  /** Reset connections and bookkeeping between attempts. */
  _retryCleanup?(): Promise<void>;
  /** Map a backend-specific error to an error code, or `undefined` to fall through. */
  _errorCode?(operation: string, err: unknown): ErrorCode | undefined;
  /** Move a local file in more cheaply than put+delete; `false` falls back. */
  _move?(localPath: string, name: string, ctx?: OperationContext): Promise<boolean>;
  /** Release connections. */
  _close?(): Promise<void>;
  /**
   * Open the bytes `range` of `name` for reading. Resolves once the store
   * has answered (a missing name rejects with code 52), with a stream of
   * exactly those bytes (fewer only at the end of the file; none for a range
   * past the end). Cancelling the stream releases the connection. Used by
   * the wrapper's `read`, which resumes a broken stream with a new range.
   */
  _openRead?(
    name: string,
    range: ReadRange,
    ctx?: OperationContext,
  ): Promise<ReadableStream<Uint8Array>>;
  /**
   * Open `name` for writing. Nothing is visible under `name` until the
   * stream's `close()` resolves (write to a temporary name, or a staged
   * upload, then commit); `abort()` removes whatever was written. `size`,
   * when given, is the exact number of bytes that will be written.
   */
  _openWrite?(
    name: string,
    options: { size?: number },
    ctx?: OperationContext,
  ): Promise<WritableStream<Uint8Array>>;

  /** What this backend declares about itself; subclasses override to add facts. */
  protected declareCapabilities(): DeclaredCapabilities {
    return {};
  }

  /** The full capabilities: the declared facts plus which optional methods exist. */
  get capabilities(): BackendCapabilities {
    const d = this.declareCapabilities();
    const caps: BackendCapabilities = {
      deleteList: typeof this._deleteList === "function",
      query: typeof this._query === "function",
      queryList: typeof this._queryList === "function",
      move: typeof this._move === "function",
      retryCleanup: typeof this._retryCleanup === "function",
      close: typeof this._close === "function",
      openRead: typeof this._openRead === "function",
      openWrite: typeof this._openWrite === "function",
      atomicOverwrite: d.atomicOverwrite ?? false,
      serverSideRename: d.serverSideRename ?? false,
      folders: d.folders ?? false,
      names: d.names ?? {},
    };
    if (d.chunkSize !== undefined) caps.chunkSize = d.chunkSize;
    return caps;
  }
}

/**
 * A backend class: what {@linkcode registerBackend} takes. A class may carry
 * a static `options` table (its declared options, refused when unknown and
 * listed by `stowage backends`) and a one-line static `description`.
 */
export type BackendClass = (new (url: ParsedUrl, options?: BackendOptions) => Backend) & {
  /** The declared option table, when the backend has one. */
  readonly options?: OptionSpecs;
  /** One line saying what the backend is. */
  readonly description?: string;
};
