/**
 * `memory://name` — a process-local store, for tests and examples. Every
 * `MemoryBackend` with the same URL path sees the same files for the life of
 * the process. Files are held in memory by nature; do not use it for large
 * data.
 *
 * @example
 * ```ts
 * import { getBackend } from "@stowage/backends";
 * await using store = await getBackend("memory://scratch");
 * console.log(await store.list()); // []
 * ```
 *
 * @module
 */

import {
  Backend,
  type BackendOptions,
  type DeclaredCapabilities,
  type OperationContext,
  type QueryResult,
} from "../core/backend.ts";
import { BackendError, ErrorCode } from "../core/errors.ts";
import { type OptionSpecs, parseOptions } from "../core/options.ts";
import type { ReadRange } from "../core/streams.ts";
import type { ParsedUrl } from "../core/url.ts";

/** The options of `memory://`: none besides the wrapper's. */
export const MEMORY_OPTIONS: OptionSpecs = {};

/** Options for {@linkcode MemoryBackend}: none besides the common ones. */
export type MemoryOptions = Record<never, never>;

const stores = new Map<string, Map<string, Uint8Array>>();

function concat(chunks: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.byteLength, 0));
  let off = 0;
  for (const c of chunks) {
    out.set(c, off);
    off += c.byteLength;
  }
  return out;
}

/**
 * A process-local store keyed by the URL's path.
 *
 * @example
 * ```ts
 * import { MemoryBackend, ParsedUrl } from "@stowage/backends";
 * const b = new MemoryBackend(new ParsedUrl("memory://demo"));
 * console.log(await b._list()); // []
 * ```
 */
export class MemoryBackend extends Backend {
  /** The declared options (none). */
  static readonly options: typeof MEMORY_OPTIONS = MEMORY_OPTIONS;
  /** One line for `stowage backends`. */
  static readonly description: string = "a store in this process's memory (for tests)";
  readonly #files: Map<string, Uint8Array>;

  /** Attach to (or create) the store named by the URL's path. */
  constructor(url: ParsedUrl, options: MemoryOptions & BackendOptions = {}) {
    super(url, options);
    parseOptions(url.scheme, MEMORY_OPTIONS, options);
    const key = url.path.replace(/^\/+/, "").replace(/\/+$/, "");
    let files = stores.get(key);
    if (!files) {
      files = new Map();
      stores.set(key, files);
    }
    this.#files = files;
  }

  /** Forget every memory store in the process (for test isolation). */
  static reset(): void {
    stores.clear();
  }

  /** Puts replace the whole entry at once. */
  protected override declareCapabilities(): DeclaredCapabilities {
    return { atomicOverwrite: true, serverSideRename: false };
  }

  /** Write the stored bytes to `localPath`; not found is code 52. */
  override async _get(name: string, localPath: string, ctx?: OperationContext): Promise<void> {
    const data = this.#files.get(name);
    if (!data) {
      throw new BackendError("not found", { code: ErrorCode.backend_not_found });
    }
    await Deno.writeFile(localPath, data);
    ctx?.progress(data.length);
  }

  /** Read the local file and store its bytes under `name`. */
  override async _put(localPath: string, name: string, ctx?: OperationContext): Promise<void> {
    const data = await Deno.readFile(localPath);
    ctx?.progress(data.length);
    ctx?.signal.throwIfAborted();
    this.#files.set(name, data);
  }

  /** The stored bytes of a range, as a stream (a copy, so later puts do not change it). */
  override _openRead(
    name: string,
    range: ReadRange,
    _ctx?: OperationContext,
  ): Promise<ReadableStream<Uint8Array>> {
    const data = this.#files.get(name);
    if (!data) {
      return Promise.reject(new BackendError("not found", { code: ErrorCode.backend_not_found }));
    }
    const end = range.length === undefined ? data.length : range.offset + range.length;
    const part = data.slice(Math.min(range.offset, data.length), Math.min(end, data.length));
    return Promise.resolve(new Blob([part]).stream());
  }

  /** Collects the chunks and stores them under `name` on close only. */
  override _openWrite(
    name: string,
    _options: { size?: number },
    ctx?: OperationContext,
  ): Promise<WritableStream<Uint8Array>> {
    const chunks: Uint8Array[] = [];
    return Promise.resolve(
      new WritableStream<Uint8Array>({
        write: (chunk) => {
          chunks.push(chunk.slice());
          ctx?.progress(chunk.byteLength);
        },
        close: () => {
          this.#files.set(name, new Uint8Array(concat(chunks)));
        },
      }),
    );
  }

  /** The names in this store. */
  override _list(): Promise<string[]> {
    return Promise.resolve([...this.#files.keys()]);
  }

  /** Forget one name; a missing name is fine. */
  override _delete(name: string): Promise<void> {
    this.#files.delete(name);
    return Promise.resolve();
  }

  /** Forget several names; missing ones are fine. */
  override _deleteList(names: string[]): Promise<void> {
    for (const n of names) this.#files.delete(n);
    return Promise.resolve();
  }

  /** The stored size, or -1 when missing. */
  override _query(name: string): Promise<QueryResult> {
    return Promise.resolve({ size: this.#files.get(name)?.length ?? -1 });
  }

  /** Sizes of the names asked, -1 for missing ones. */
  override _queryList(names: string[]): Promise<Record<string, QueryResult>> {
    const out: Record<string, QueryResult> = {};
    for (const n of names) out[n] = { size: this.#files.get(n)?.length ?? -1 };
    return Promise.resolve(out);
  }
}
