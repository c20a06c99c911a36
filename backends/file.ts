/**
 * `file://` — a local folder. `file:///abs/dir` is absolute, `file://rel/dir`
 * is relative to the working directory (duplicity's rules). Puts copy with
 * the OS copy path (`Deno.copyFile`, so they run at `cp` speed) to a hidden
 * temporary name and rename into place, so a reader never sees a partial
 * file; moves are a rename, falling back to copy+delete across devices.
 *
 * @example
 * ```ts
 * import { getBackend } from "@stowage/backends";
 * await using store = await getBackend("file:///tmp/stowage-file-example");
 * console.log(await store.list());
 * ```
 *
 * @module
 */

import { join, resolve } from "node:path";
import {
  Backend,
  type BackendOptions,
  type DeclaredCapabilities,
  type OperationContext,
  type QueryResult,
} from "../core/backend.ts";
import { BackendError, ErrorCode } from "../core/errors.ts";
import { fileRangeStream, fileWriteStream } from "../core/local_file.ts";
import { tempName } from "../core/names.ts";
import type { ReadRange } from "../core/streams.ts";
import { type OptionsInput, parseOptions } from "../core/options.ts";
import type { ParsedUrl } from "../core/url.ts";

/** The options of `file://`, declared once: type, default, doc. */
export const FILE_OPTIONS = {
  dirMode: {
    type: "integer",
    min: 0,
    max: 0o7777,
    default: 0o755,
    doc: "Permission bits for a folder the backend creates (less the umask).",
  },
  progressInterval: {
    type: "duration",
    min: 1,
    default: 1000,
    doc: "How often a long copy reports progress.",
  },
} as const;

/** Options for {@linkcode FileBackend}. */
export type FileOptions = OptionsInput<typeof FILE_OPTIONS>;

/**
 * A local folder as a store.
 *
 * @example
 * ```ts
 * import { FileBackend, ParsedUrl } from "@stowage/backends";
 * const backend = new FileBackend(new ParsedUrl("file:///tmp/stowage-raw"));
 * console.log(backend.dir); // /tmp/stowage-raw
 * ```
 */
export class FileBackend extends Backend {
  /** The declared options. */
  static readonly options: typeof FILE_OPTIONS = FILE_OPTIONS;
  /** One line for `stowage backends`. */
  static readonly description: string = "a local folder";
  /** The absolute path of the folder. */
  readonly dir: string;
  readonly #dirMode: number;
  readonly #interval: number;
  #made = false;

  /** Resolve the folder from the URL; no I/O. */
  constructor(url: ParsedUrl, options: FileOptions & BackendOptions = {}) {
    super(url, options);
    const settings = parseOptions(url.scheme, FILE_OPTIONS, options);
    const raw = url.path.slice(2);
    if (!raw) {
      throw new BackendError(`Invalid URL "${url.stripAuth()}": it names no folder`, {
        code: ErrorCode.user_error,
      });
    }
    this.dir = resolve(raw);
    this.#dirMode = settings.dirMode;
    this.#interval = settings.progressInterval;
  }

  /** Atomic overwrite and server-side rename; names up to 255 bytes. */
  protected override declareCapabilities(): DeclaredCapabilities {
    return {
      atomicOverwrite: true,
      serverSideRename: true,
      folders: true,
      names: { maxBytes: 255 },
    };
  }

  /** Copy the stored file to `localPath`. */
  override async _get(name: string, localPath: string, ctx?: OperationContext): Promise<void> {
    await this.#copy(join(this.dir, name), localPath, ctx);
  }

  /** Copy to a temporary name in the folder, then rename into place. */
  override async _put(localPath: string, name: string, ctx?: OperationContext): Promise<void> {
    await this.#ensureDir();
    const tmp = join(this.dir, tempName(name));
    try {
      await this.#copy(localPath, tmp, ctx);
      ctx?.signal.throwIfAborted();
      await Deno.rename(tmp, join(this.dir, name));
    } catch (err) {
      await Deno.remove(tmp).catch(() => {});
      throw err;
    }
  }

  /** Rename the local file into the folder; `false` across devices. */
  override async _move(localPath: string, name: string, ctx?: OperationContext): Promise<boolean> {
    await this.#ensureDir();
    ctx?.signal.throwIfAborted();
    try {
      await Deno.rename(localPath, join(this.dir, name));
      return true;
    } catch (err) {
      if (isCrossDevice(err)) return false;
      throw err;
    }
  }

  /** The regular files in the folder (and symlinks to them); code 52 when the folder is missing. */
  override async _list(): Promise<string[]> {
    const names: string[] = [];
    try {
      for await (const entry of Deno.readDir(this.dir)) {
        if (entry.isFile || (entry.isSymlink && await isFile(join(this.dir, entry.name)))) {
          names.push(entry.name);
        }
      }
    } catch (err) {
      if (err instanceof Deno.errors.NotFound || err instanceof Deno.errors.NotADirectory) {
        throw new BackendError(`no such folder "${this.dir}"`, {
          code: ErrorCode.backend_not_found,
          cause: err,
        });
      }
      throw err;
    }
    return names;
  }

  /** A range of the file, read straight from disk. */
  override async _openRead(
    name: string,
    range: ReadRange,
    _ctx?: OperationContext,
  ): Promise<ReadableStream<Uint8Array>> {
    return await fileRangeStream(join(this.dir, name), range.offset, range.length);
  }

  /** A temporary file in the folder, renamed into place on close. */
  override async _openWrite(
    name: string,
    _options: { size?: number },
    ctx?: OperationContext,
  ): Promise<WritableStream<Uint8Array>> {
    await this.#ensureDir();
    const tmp = join(this.dir, tempName(name));
    const commit = () => Deno.rename(tmp, join(this.dir, name));
    return await fileWriteStream(tmp, commit, (n) => ctx?.progress(n));
  }

  /** Remove one file; a missing file is fine. */
  override async _delete(name: string): Promise<void> {
    try {
      await Deno.remove(join(this.dir, name));
    } catch (err) {
      if (!(err instanceof Deno.errors.NotFound)) throw err;
    }
  }

  /** Remove several files; missing ones are fine. */
  override async _deleteList(names: string[]): Promise<void> {
    for (const name of names) await this._delete(name);
  }

  /** The file's size, or -1 when missing. */
  override async _query(name: string): Promise<QueryResult> {
    try {
      const info = await Deno.stat(join(this.dir, name));
      return { size: info.isFile ? info.size : -1 };
    } catch (err) {
      if (err instanceof Deno.errors.NotFound) return { size: -1 };
      throw err;
    }
  }

  /** Sizes of the names asked, -1 for missing ones. */
  override async _queryList(names: string[]): Promise<Record<string, QueryResult>> {
    const out: Record<string, QueryResult> = {};
    for (const name of names) out[name] = await this._query(name);
    return out;
  }

  // ---- private helpers ----

  async #ensureDir(): Promise<void> {
    if (this.#made) return;
    await Deno.mkdir(this.dir, { recursive: true, mode: this.#dirMode });
    this.#made = true;
  }

  /**
   * `Deno.copyFile` (the kernel's copy path), with a ticker that reports the
   * growing size of the target so the wrapper's no-progress timeout holds.
   */
  async #copy(from: string, to: string, ctx?: OperationContext): Promise<void> {
    ctx?.signal.throwIfAborted();
    let last = 0;
    const timer = ctx
      ? setInterval(() => {
        let size = last;
        try {
          size = Deno.statSync(to).size;
        } catch {
          // not created yet
        }
        if (size > last) {
          ctx.progress(size - last);
          last = size;
        }
      }, this.#interval)
      : undefined;
    try {
      await Deno.copyFile(from, to);
    } finally {
      if (timer !== undefined) clearInterval(timer);
    }
    if (ctx) {
      const size = (await Deno.stat(to)).size;
      ctx.progress(size - last);
      ctx.signal.throwIfAborted();
    }
  }
}

async function isFile(path: string): Promise<boolean> {
  try {
    return (await Deno.stat(path)).isFile;
  } catch {
    return false;
  }
}

function isCrossDevice(err: unknown): boolean {
  const code = (err as { code?: unknown })?.code;
  return code === "EXDEV" || (err instanceof Error && /os error 18\b/.test(err.message));
}
