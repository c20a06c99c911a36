/**
 * {@linkcode AzureBackend}: the underscore methods of `azure://`, each
 * handing its work to the part that knows it (transport, reader, writer,
 * stream writer, lister, deleter, error), and the sizes just committed
 * (committed.ts) that answer the size check after a put.
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
import { eachLimited } from "../../core/concurrency.ts";
import type { ErrorCode } from "../../core/errors.ts";
import { parseOptions } from "../../core/options.ts";
import type { ReadRange } from "../../core/streams.ts";
import type { ParsedUrl } from "../../core/url.ts";
import { CommittedSizes } from "./committed.ts";
import { AzureDeleter } from "./deleter.ts";
import { errorCode } from "./error.ts";
import { listBlobs } from "./lister.ts";
import { AZURE_OPTIONS, type AzureOptions, type AzureSettings } from "./options.ts";
import { blobSize, getBlob, openBlob } from "./reader.ts";
import { openBlobWriter } from "./stream_writer.ts";
import { AzureTransport } from "./transport.ts";
import { AzureWriter } from "./writer.ts";

/** Size queries in flight at once. */
const QUERY_CONCURRENCY = 16;

/**
 * An Azure Blob Storage container (optionally a folder inside it) as a store.
 *
 * @example
 * ```ts
 * import { AzureBackend } from "@stowage/backends/backends/azure";
 * import { ParsedUrl } from "@stowage/backends";
 * const backend = new AzureBackend(new ParsedUrl("azure://backups/host1"), {
 *   connectionString: "UseDevelopmentStorage=true",
 * });
 * console.log(backend.container, backend.prefix); // backups host1/
 * ```
 */
export class AzureBackend extends Backend {
  /** The declared options. */
  static readonly options: typeof AZURE_OPTIONS = AZURE_OPTIONS;
  /** One line for `stowage backends`. */
  static readonly description: string = "Azure Blob Storage (and Azurite)";
  /** The container name. */
  readonly container: string;
  /** The folder inside the container, `""` or ending with `/`. */
  readonly prefix: string;
  readonly #settings: AzureSettings;
  readonly #t: AzureTransport;
  readonly #writer: AzureWriter;
  readonly #deleter: AzureDeleter;
  readonly #committed = new CommittedSizes();

  /** Check the URL, options (unknown keys are refused with code 23) and credentials; no network I/O. */
  constructor(url: ParsedUrl, options: AzureOptions & BackendOptions = {}) {
    super(url, options);
    const settings = parseOptions(url.scheme, AZURE_OPTIONS, options);
    this.#settings = settings;
    this.#t = new AzureTransport(url, settings);
    this.container = this.#t.container;
    this.prefix = this.#t.prefix;
    this.#writer = new AzureWriter(this.#t, settings, this.#committed);
    this.#deleter = new AzureDeleter(this.#t, settings, this.#committed);
  }

  /** What `console.log` shows: never the options, which hold keys and tokens. */
  [Symbol.for("Deno.customInspect")](): string {
    return `AzureBackend(${this.url.stripAuth()})`;
  }

  /** The same for Node's `util.inspect`. */
  [Symbol.for("nodejs.util.inspect.custom")](): string {
    return `AzureBackend(${this.url.stripAuth()})`;
  }

  /**
   * Puts are atomic (block commit); the chunk is the block size; no folders
   * (a prefix that holds nothing lists empty). A name longer than Azure's
   * 1,024 characters (folder included) is refused by the backend (code 59).
   */
  protected override declareCapabilities(): DeclaredCapabilities {
    return { atomicOverwrite: true, serverSideRename: false, chunkSize: this.#settings.blockSize };
  }

  /**
   * Download the blob to `localPath`: one request up to `blockSize`, else
   * byte ranges `concurrency` at a time, all pinned to one version.
   */
  override async _get(name: string, localPath: string, ctx?: OperationContext): Promise<void> {
    this.#t.note(ctx);
    await this.#t.transfer(() => getBlob(this.#t, this.#settings, name, localPath, ctx));
  }

  /** Upload in one request or in blocks; visible only when complete; the container made if missing. */
  override async _put(localPath: string, name: string, ctx?: OperationContext): Promise<void> {
    this.#t.note(ctx);
    const size = ctx?.size ?? (await Deno.stat(localPath)).size;
    await this.#t.transfer(() => this.#writer.put(localPath, name, size, ctx));
  }

  /** One ranged GET; the stream is the answer's body (cancel it to end the request). */
  override async _openRead(
    name: string,
    range: ReadRange,
    ctx?: OperationContext,
  ): Promise<ReadableStream<Uint8Array>> {
    this.#t.note(ctx);
    return await this.#t.transfer(() => openBlob(this.#t, name, range, ctx));
  }

  /** Staged blocks, committed at `close()` (one Put Blob when it all fits one block). */
  override async _openWrite(
    name: string,
    options: { size?: number },
    ctx?: OperationContext,
  ): Promise<WritableStream<Uint8Array>> {
    this.#t.note(ctx);
    return await openBlobWriter(this.#t, this.#writer, this.#committed, name, options.size, ctx);
  }

  /** The direct children of the prefix, page by page; code 52 for a missing container. */
  override async _list(ctx?: OperationContext): Promise<string[]> {
    this.#t.note(ctx);
    return await this.#t.transfer(() => listBlobs(this.#t, this.#settings.pageSize, ctx));
  }

  /** Delete one blob; a missing one is fine. */
  override async _delete(name: string, ctx?: OperationContext): Promise<void> {
    this.#t.note(ctx);
    await this.#t.transfer(() => this.#deleter.deleteOne(name, ctx));
  }

  /** Blob Batch requests of 256 names (missing names are fine), or parallel single deletes. */
  override async _deleteList(names: string[], ctx?: OperationContext): Promise<void> {
    this.#t.note(ctx);
    await this.#t.transfer(() => this.#deleter.deleteMany(names, ctx));
  }

  /**
   * The blob's size, `-1` when it does not exist: the size this store
   * committed moments ago when the query follows its own put (see
   * committed.ts for why that is safe), else one Get Blob Properties.
   */
  override async _query(name: string, ctx?: OperationContext): Promise<QueryResult> {
    this.#t.note(ctx);
    const size = this.#committed.take(name);
    if (size !== undefined) return { size };
    return await this.#t.transfer(() => blobSize(this.#t, name, ctx));
  }

  /** Sizes of the names asked (from a put moments ago, else asked 16 at a time). */
  override async _queryList(
    names: string[],
    ctx?: OperationContext,
  ): Promise<Record<string, QueryResult>> {
    this.#t.note(ctx);
    const out: Record<string, QueryResult> = {};
    const ask: string[] = [];
    for (const n of names) {
      const size = this.#committed.take(n);
      if (size === undefined) ask.push(n);
      else out[n] = { size };
    }
    await this.#t.transfer(() =>
      eachLimited(ask, QUERY_CONCURRENCY, async (n) => {
        out[n] = await blobSize(this.#t, n, ctx);
        ctx?.progress();
      })
    );
    return out;
  }

  /** Map a failure: 404 → 52, 401/403 → 51, 429/503 → 58, network errors → 38, TLS → 60. */
  override _errorCode(_operation: string, err: unknown): ErrorCode | undefined {
    return errorCode(err);
  }

  /** Drop idle pooled connections so the next attempt connects afresh. */
  override _retryCleanup(): Promise<void> {
    this.#t.reset();
    return Promise.resolve();
  }

  /** Release the connections. */
  override _close(): Promise<void> {
    this.#t.close();
    return Promise.resolve();
  }
}
