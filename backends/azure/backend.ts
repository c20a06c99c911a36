/**
 * {@linkcode AzureBackend}: the underscore methods of `azure://`, each
 * handing its work to the part that knows it (transport, reader, writer,
 * lister, deleter, error).
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
import type { ParsedUrl } from "../../core/url.ts";
import { AzureDeleter } from "./deleter.ts";
import { errorCode } from "./error.ts";
import { listBlobs } from "./lister.ts";
import { AZURE_OPTIONS, type AzureOptions, type AzureSettings } from "./options.ts";
import { blobSize, getBlob } from "./reader.ts";
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

  /** Check the URL, options (unknown keys are refused with code 23) and credentials; no network I/O. */
  constructor(url: ParsedUrl, options: AzureOptions & BackendOptions = {}) {
    super(url, options);
    const settings = parseOptions(url.scheme, AZURE_OPTIONS, options);
    this.#settings = settings;
    this.#t = new AzureTransport(url, settings);
    this.container = this.#t.container;
    this.prefix = this.#t.prefix;
    this.#writer = new AzureWriter(this.#t, settings);
    this.#deleter = new AzureDeleter(this.#t, settings);
  }

  /** What `console.log` shows: never the options, which hold keys and tokens. */
  [Symbol.for("Deno.customInspect")](): string {
    return `AzureBackend(${this.url.stripAuth()})`;
  }

  /** The same for Node's `util.inspect`. */
  [Symbol.for("nodejs.util.inspect.custom")](): string {
    return `AzureBackend(${this.url.stripAuth()})`;
  }

  /** Puts are atomic (block commit); the chunk is the block size; no name limits beyond the wrapper's. */
  protected override declareCapabilities(): DeclaredCapabilities {
    return { atomicOverwrite: true, serverSideRename: false, chunkSize: this.#settings.blockSize };
  }

  /**
   * Download the blob to `localPath`: one request up to `blockSize`, else
   * byte ranges `concurrency` at a time, all pinned to one version.
   */
  override async _get(name: string, localPath: string, ctx?: OperationContext): Promise<void> {
    await this.#t.transfer(() => getBlob(this.#t, this.#settings, name, localPath, ctx));
  }

  /** Upload in one request or in blocks; visible only when complete. */
  override async _put(localPath: string, name: string, ctx?: OperationContext): Promise<void> {
    const size = ctx?.size ?? (await Deno.stat(localPath)).size;
    await this.#t.transfer(() => this.#writer.put(localPath, name, size, ctx));
  }

  /** The direct children of the prefix, page by page; `[]` for a missing container. */
  override async _list(ctx?: OperationContext): Promise<string[]> {
    return await this.#t.transfer(() => listBlobs(this.#t, this.#settings.pageSize, ctx));
  }

  /** Delete one blob; a missing one is fine. */
  override async _delete(name: string, ctx?: OperationContext): Promise<void> {
    await this.#deleter.deleteOne(name, ctx);
  }

  /** Blob Batch requests of 256 names (missing names are fine), or parallel single deletes. */
  override async _deleteList(names: string[], ctx?: OperationContext): Promise<void> {
    await this.#deleter.deleteMany(names, ctx);
  }

  /** The blob's size, `-1` when it does not exist. */
  override async _query(name: string, ctx?: OperationContext): Promise<QueryResult> {
    return await blobSize(this.#t, name, ctx);
  }

  /** Sizes of the names asked, 16 requests at a time. */
  override async _queryList(
    names: string[],
    ctx?: OperationContext,
  ): Promise<Record<string, QueryResult>> {
    const out: Record<string, QueryResult> = {};
    await eachLimited(names, QUERY_CONCURRENCY, async (n) => {
      out[n] = await blobSize(this.#t, n, ctx);
      ctx?.progress();
    });
    return out;
  }

  /** Map an SDK error: 404 → 52, 401/403 → 51, 429/503 → 58, network errors → 38. */
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
