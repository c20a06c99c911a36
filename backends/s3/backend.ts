/**
 * {@linkcode S3Backend}: the underscore methods of `s3://` and `gs://`, each
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
import { BackendError, ErrorCode } from "../../core/errors.ts";
import { parseOptions } from "../../core/options.ts";
import type { ReadRange } from "../../core/streams.ts";
import type { ParsedUrl } from "../../core/url.ts";
import { S3Deleter } from "./deleter.ts";
import { errorCode } from "./error.ts";
import { listFolder } from "./lister.ts";
import { S3_OPTIONS, type S3Options, type S3Settings } from "./options.ts";
import { getObject, headSize, openRange } from "./reader.ts";
import { RecentUploads } from "./recent.ts";
import { openUpload } from "./stream_writer.ts";
import { S3Transport } from "./transport.ts";
import { putFile } from "./writer.ts";

/** S3's longest key, in UTF-8 bytes. */
const MAX_KEY_BYTES = 1024;

/**
 * Amazon S3, S3-compatible stores and Google Cloud Storage as a store.
 *
 * @example
 * ```ts
 * import { ParsedUrl } from "@stowage/backends";
 * import { S3Backend } from "@stowage/backends/backends/s3";
 * const b = new S3Backend(new ParsedUrl("s3:///my-bucket/backups/host1"), { region: "eu-west-1" });
 * console.log(b.bucket, b.prefix); // my-bucket backups/host1/
 * ```
 */
export class S3Backend extends Backend {
  /** The declared options. */
  static readonly options: typeof S3_OPTIONS = S3_OPTIONS;
  /** One line for `stowage backends`. */
  static readonly description: string =
    "Amazon S3, S3-compatible stores (MinIO, Ceph, R2, B2, ...) and Google Cloud Storage";
  /** The bucket. */
  readonly bucket: string;
  /** The key prefix that acts as the folder: empty, or ending with `/`. */
  readonly prefix: string;
  readonly #settings: S3Settings;
  readonly #t: S3Transport;
  readonly #deleter: S3Deleter;
  readonly #recent = new RecentUploads();

  /** Parse the URL and options (unknown keys are refused with code 23); no network I/O. */
  constructor(url: ParsedUrl, options: S3Options & BackendOptions = {}) {
    super(url, options);
    const settings = parseOptions(url.scheme, S3_OPTIONS, options);
    if (settings.sseKmsKeyId !== undefined && !settings.sse?.startsWith("aws:kms")) {
      throw new BackendError(
        `Invalid option "sseKmsKeyId" for ${url.scheme}://: it needs sse=aws:kms`,
        { code: ErrorCode.user_error },
      );
    }
    this.#settings = settings;
    this.#t = new S3Transport(url, settings);
    this.bucket = this.#t.bucket;
    this.prefix = this.#t.prefix;
    this.#deleter = new S3Deleter(this.#t, settings.bulkDelete, settings.queryConcurrency);
  }

  /** Atomic puts (S3 PUT and Complete are atomic), no rename, parts of `partSize`, keys ≤ 1024 bytes. */
  protected override declareCapabilities(): DeclaredCapabilities {
    return {
      atomicOverwrite: true,
      serverSideRename: false,
      chunkSize: this.#settings.partSize,
      // S3 keys are at most 1024 UTF-8 bytes, prefix included.
      names: { maxBytes: MAX_KEY_BYTES - new TextEncoder().encode(this.prefix).length },
    };
  }

  /** Stream the object to `localPath`; a large one as byte ranges pinned to one ETag. */
  override async _get(name: string, localPath: string, ctx?: OperationContext): Promise<void> {
    await getObject(this.#t, this.#settings, name, localPath, ctx);
  }

  /** One PutObject up to `partSize`, else a multipart upload; the confirmed size is kept for `_query`. */
  override async _put(localPath: string, name: string, ctx?: OperationContext): Promise<void> {
    const size = ctx?.size ?? (await Deno.stat(localPath)).size;
    this.#recent.forget(name);
    await putFile(this.#t, this.#settings, localPath, name, size, ctx);
    this.#recent.record(name, size);
  }

  /** A ranged GetObject, as a stream (a missing name is 52; past the end, nothing). */
  override async _openRead(
    name: string,
    range: ReadRange,
    ctx?: OperationContext,
  ): Promise<ReadableStream<Uint8Array>> {
    return await openRange(this.#t, name, range, ctx);
  }

  /** Parts of `partSize` from the stream: one PutObject when it fits one, else multipart. */
  override async _openWrite(
    name: string,
    options: { size?: number },
    ctx?: OperationContext,
  ): Promise<WritableStream<Uint8Array>> {
    this.#recent.forget(name);
    return await openUpload(
      this.#t,
      this.#settings,
      name,
      options.size,
      ctx,
      (size) => this.#recent.record(name, size),
    );
  }

  /** Every page of ListObjectsV2 under the prefix: its direct children only. */
  override async _list(ctx?: OperationContext): Promise<string[]> {
    return await listFolder(this.#t, this.#settings.pageSize, ctx);
  }

  /** One DeleteObject (idempotent: a missing key is fine). */
  override async _delete(name: string, ctx?: OperationContext): Promise<void> {
    this.#recent.forget(name);
    await this.#deleter.deleteOne(name, ctx);
  }

  /** DeleteObjects in batches of 1000; per-key failures are reported, missing keys are fine. */
  override async _deleteList(names: string[], ctx?: OperationContext): Promise<void> {
    for (const name of names) this.#recent.forget(name);
    await this.#deleter.deleteMany(names, ctx);
  }

  /** The size this store just wrote (see recent.ts), else HeadObject; -1 when missing. */
  override async _query(name: string, ctx?: OperationContext): Promise<QueryResult> {
    const size = this.#recent.take(name);
    return size !== undefined ? { size } : await headSize(this.#t, name, ctx);
  }

  /** {@linkcode _query} for each name asked, `queryConcurrency` HeadObjects at a time. */
  override async _queryList(
    names: string[],
    ctx?: OperationContext,
  ): Promise<Record<string, QueryResult>> {
    const out: Record<string, QueryResult> = Object.create(null);
    await eachLimited(names, this.#settings.queryConcurrency, async (name) => {
      out[name] = await this._query(name, ctx);
      ctx?.progress();
    });
    return out;
  }

  /** Drop the connections: the next attempt starts afresh. */
  override _retryCleanup(): Promise<void> {
    this.#t.reset();
    return Promise.resolve();
  }

  /** The code for an error that reached the wrapper unconverted. */
  override _errorCode(_operation: string, err: unknown): ErrorCode | undefined {
    return errorCode(err);
  }

  /** Release the connections (the same as a reset between attempts). */
  override _close(): Promise<void> {
    return this._retryCleanup();
  }
}
