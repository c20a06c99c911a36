/**
 * `s3://` — Amazon S3 and every S3-compatible store (MinIO, Ceph, Garage,
 * Cloudflare R2, Backblaze B2, Wasabi, ...), and `gs://` — Google Cloud
 * Storage through its S3-compatible XML API with HMAC keys.
 *
 * URLs are duplicity's: `s3://bucket/prefix` and `s3:///bucket/prefix` mean
 * the same thing (the first path segment is the bucket, the rest is a key
 * prefix that acts as the folder); likewise `gs://bucket/prefix`. Names are
 * flat: only the objects directly under the prefix are listed.
 *
 * How it talks to the store:
 * - Credentials come from the AWS SDK's standard chain (environment,
 *   `~/.aws/credentials` and `~/.aws/config` profiles, `AWS_PROFILE`, SSO,
 *   web identity, container and instance metadata) — or, for `gs://`, from
 *   `GS_ACCESS_KEY_ID`/`GS_SECRET_ACCESS_KEY` as in duplicity.
 * - Files up to `partSize` go up in one streamed PutObject; larger files as a
 *   multipart upload whose parts are streamed straight from the file by byte
 *   range, `concurrency` at a time, so memory stays flat whatever the file
 *   and part size. A failed or cancelled multipart upload is aborted on the
 *   server; S3 puts are atomic, so nothing partial is ever visible.
 * - The SDK's own retries are off (`maxAttempts: 1`): stowage's wrapper
 *   retries, with backoff that honours the server's `Retry-After`.
 * - Checksums are computed only where S3 requires them
 *   (`WHEN_REQUIRED`): the newer default frames streamed bodies as
 *   `aws-chunked`, which several S3-compatible servers store verbatim.
 *   Small puts and every part carry a `Content-MD5` instead (option
 *   `contentMd5`), so the server rejects a body that changed on the way.
 * - On first use the bucket is checked with HeadBucket (a listing's first
 *   page serves as the check): a missing bucket is a clear not-found error
 *   (code 52), never created silently unless `createBucket` is set.
 * - Gets stream to the file; an object larger than `partSize` comes as byte
 *   ranges, `concurrency` at once, all pinned to one ETag (If-Match) so a
 *   replaced object can never be mixed from two versions.
 * - Requests without a file body (get, list, head, delete) go through the
 *   runtime's `fetch`. A put or part is sent by a small HTTP/1.1 client over
 *   `Deno.connect` (TLS verified as for `fetch`) that reads the file into one
 *   reused buffer and writes it to the socket with backpressure: `fetch`
 *   sends a stream body chunked, which S3 refuses, and the SDK's node:http
 *   handler left every chunk to the garbage collector (peak RSS 156–173 MiB
 *   against about 90 MiB now, the same at 256 MiB and 1 GiB).
 * - Listings are parsed by stowage (Key, IsTruncated, NextContinuationToken,
 *   with XML entities and character references decoded), not by the SDK's
 *   generic XML parser.
 * - TLS certificates are always verified, against Deno's trust store; for a
 *   store with a private CA, give Deno the CA (`DENO_CERT=/path/ca.pem`, or
 *   `DENO_TLS_CA_STORE=system`). `AWS_CA_BUNDLE` is not read.
 * - The multipart upload is stowage's own rather than lib-storage's
 *   `Upload`: that one buffers every part in memory, keeps uploading the
 *   remaining parts after one failed, and returns from an abort before the
 *   server-side abort has been sent.
 * - Archived objects (GLACIER, DEEP_ARCHIVE) must be restored before a get;
 *   until then a get fails with InvalidObjectState (code 51, not retried).
 *
 * @example
 * ```ts ignore
 * import { getBackend } from "@stowage/backends";
 * // AWS: credentials and region from the environment or ~/.aws
 * await using aws = await getBackend("s3://my-backups/host1", { storageClass: "STANDARD_IA" });
 * // MinIO (path-style addressing is the default with an endpoint)
 * await using minio = await getBackend("s3://backups/host1", { endpoint: "https://minio.lan:9000" });
 * // Google Cloud Storage with HMAC keys in GS_ACCESS_KEY_ID / GS_SECRET_ACCESS_KEY
 * await using gcs = await getBackend("gs://my-bucket/host1");
 * console.log(await aws.list(), await minio.list(), await gcs.list());
 * ```
 *
 * @module
 */

import { createHash } from "node:crypto";
import { homedir } from "node:os";
import { join } from "node:path";
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateBucketCommand,
  type CreateBucketCommandInput,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  type S3ClientConfig,
  type ServerSideEncryption,
  type StorageClass,
  UploadPartCommand,
} from "@aws-sdk/client-s3";
import { fromNodeProviderChain } from "@aws-sdk/credential-providers";
import {
  Backend,
  type BackendOptions,
  type DeclaredCapabilities,
  type OperationContext,
  type QueryResult,
} from "../core/backend.ts";
import { BufferPool } from "../core/buffer_pool.ts";
import { eachLimited } from "../core/concurrency.ts";
import { BackendError, errnoCode, ErrorCode, reasonOf } from "../core/errors.ts";
import { writeStreamToFile } from "../core/stream_file.ts";
import { codeForHttpStatus } from "../core/http.ts";
import { Http1Client } from "../core/http1.ts";
import { optBool, optBytes, optNumber, optString } from "../core/options.ts";
import { parseRetryAfter } from "../core/retry.ts";
import type { ParsedUrl } from "../core/url.ts";
import { xmlText } from "../core/xml.ts";

const MiB = 1024 * 1024;
/** S3's smallest part (except the last). */
const MIN_PART_SIZE = 5 * MiB;
/** S3's largest part. */
const MAX_PART_SIZE = 5 * 1024 * MiB;
/** S3's most parts per upload. */
const MAX_PARTS = 10_000;
/** S3's longest key, in UTF-8 bytes. */
const MAX_KEY_BYTES = 1024;
/** Keys per DeleteObjects request (S3's limit). */
const DELETE_BATCH = 1000;
/** How long an abort of a multipart upload may take while the caller waits (the wrapper grants 5 s). */
const ABORT_TIMEOUT_MS = 4000;
const GCS_ENDPOINT = "https://storage.googleapis.com";

/** The server-side encryption modes stowage accepts. */
export type S3Sse = "AES256" | "aws:kms" | "aws:kms:dsse";

/** Options for {@linkcode S3Backend}; from the command line each arrives as `-o key=value`. */
export interface S3Options extends BackendOptions {
  /**
   * The service URL of an S3-compatible store, such as
   * `https://minio.example:9000` or `https://<account>.r2.cloudflarestorage.com`.
   * Default: `AWS_ENDPOINT_URL_S3`, else `AWS_ENDPOINT_URL`, else AWS itself
   * (for `gs://`: `https://storage.googleapis.com`; the AWS variables are not read).
   */
  endpoint?: string;
  /**
   * Address buckets as `endpoint/bucket/key` rather than `bucket.endpoint/key`.
   * Default: `true` when an endpoint is set (MinIO, Ceph, Garage need it and
   * the hosted stores accept it) and for `gs://`; `false` for AWS itself,
   * which is phasing path-style out.
   */
  forcePathStyle?: boolean;
  /**
   * The region to sign for. Default: `AWS_REGION`, else `AWS_DEFAULT_REGION`,
   * else the profile's `region` in `~/.aws/config` (or `AWS_CONFIG_FILE`),
   * else `us-east-1`. On AWS itself a bucket in another region is followed
   * automatically.
   */
  region?: string;
  /** The profile in the shared config and credentials files; default `AWS_PROFILE`, else `default`. */
  profile?: string;
  /**
   * An access key id, for programs that hold keys themselves. Prefer the
   * environment or a profile: options given on a command line are visible
   * to other users of the machine. Needs `secretAccessKey`.
   */
  accessKeyId?: string;
  /** The secret key that goes with `accessKeyId`; never printed. */
  secretAccessKey?: string;
  /** A session token that goes with temporary keys; never printed. */
  sessionToken?: string;
  /**
   * Files larger than this go up as a multipart upload in parts of this
   * size; default 16 MiB, at least 5 MiB, at most 5 GiB. Raised
   * automatically when a file would need more than 10,000 parts.
   */
  partSize?: number | string;
  /** Parts uploaded at once; default 4 (1–64). Memory does not grow with it: parts stream from the file. */
  concurrency?: number;
  /** Keys per listing page (ListObjectsV2 `MaxKeys`); default 1000 (1–1000). */
  pageSize?: number;
  /** HeadObject requests in flight for `queryInfo` of many names; default 16 (1–64). */
  queryConcurrency?: number;
  /**
   * The storage class of new objects (duplicity's `--s3-storage-class`):
   * `STANDARD`, `STANDARD_IA`, `ONEZONE_IA`, `INTELLIGENT_TIERING`,
   * `GLACIER`, `GLACIER_IR`, `DEEP_ARCHIVE`, ...; default: the bucket's.
   * Objects in GLACIER or DEEP_ARCHIVE must be restored before a get.
   */
  storageClass?: string;
  /** Server-side encryption: `AES256` (SSE-S3) or `aws:kms` (SSE-KMS); default: the bucket's. */
  sse?: S3Sse;
  /** The KMS key for `sse: "aws:kms"`; default: the account's S3 key. */
  sseKmsKeyId?: string;
  /**
   * Create the bucket on first use when it does not exist; default `false`
   * (a missing bucket is error 52, so a typo never scatters backups into a
   * new bucket).
   */
  createBucket?: boolean;
  /**
   * Delete many names with one DeleteObjects request per 1000 names; default
   * `true`. Turned off by itself when the store answers NotImplemented (as
   * older Google Cloud Storage does); then names are deleted one by one.
   */
  bulkDelete?: boolean;
  /** Send a `Content-MD5` with every put and part so the server rejects a changed body; default `true`. */
  contentMd5?: boolean;
}

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
  /** The bucket. */
  readonly bucket: string;
  /** The key prefix that acts as the folder: empty, or ending with `/`. */
  readonly prefix: string;
  readonly #gs: boolean;
  readonly #endpoint: string | undefined;
  readonly #pathStyle: boolean;
  readonly #region: string;
  readonly #profile: string | undefined;
  readonly #partSize: number;
  readonly #concurrency: number;
  readonly #pageSize: number;
  readonly #queryConcurrency: number;
  readonly #storageClass: StorageClass | undefined;
  readonly #sse: ServerSideEncryption | undefined;
  readonly #sseKmsKeyId: string | undefined;
  readonly #createBucket: boolean;
  readonly #contentMd5: boolean;
  readonly #credentials: S3ClientConfig["credentials"];
  #bulkDelete: boolean;
  #client: S3Client | undefined;
  #readClient: S3Client | undefined;
  #bucketChecked: Promise<void> | undefined;

  /** Parse the URL and options; no network I/O. */
  constructor(url: ParsedUrl, options: S3Options = {}) {
    super(url, options);
    this.#gs = url.scheme === "gs";
    const raw = url.path.replace(/^\/+/, "");
    const slash = raw.indexOf("/");
    this.bucket = slash === -1 ? raw : raw.slice(0, slash);
    const rest = slash === -1 ? "" : raw.slice(slash + 1).replace(/^\/+/, "").replace(/\/+$/, "");
    this.prefix = rest ? `${rest}/` : "";
    if (!this.bucket) {
      throw new BackendError(`Invalid URL "${url.stripAuth()}": it names no bucket`, {
        code: ErrorCode.user_error,
      });
    }

    const env = (k: string) => Deno.env.get(k) || undefined;
    const endpoint = optString(options, "endpoint") ??
      (this.#gs ? GCS_ENDPOINT : env("AWS_ENDPOINT_URL_S3") ?? env("AWS_ENDPOINT_URL"));
    if (endpoint !== undefined && !/^https?:\/\/[^/]/i.test(endpoint)) {
      throw new BackendError(
        `Invalid option "endpoint": ${JSON.stringify(endpoint)} is not an http(s) URL`,
        {
          code: ErrorCode.user_error,
        },
      );
    }
    this.#endpoint = endpoint;
    this.#pathStyle = optBool(options, "forcePathStyle") ?? (endpoint !== undefined);
    this.#profile = optString(options, "profile") ?? (this.#gs ? undefined : env("AWS_PROFILE"));
    this.#region = optString(options, "region") ??
      (this.#gs
        ? undefined
        : env("AWS_REGION") ?? env("AWS_DEFAULT_REGION") ?? profileRegion(this.#profile)) ??
      "us-east-1";

    const partSize = optBytes(options, "partSize") ?? 16 * MiB;
    if (partSize < MIN_PART_SIZE || partSize > MAX_PART_SIZE) {
      throw new BackendError(
        `Invalid option "partSize": ${partSize} bytes is outside S3's limits (5 MiB to 5 GiB)`,
        { code: ErrorCode.user_error },
      );
    }
    this.#partSize = partSize;
    this.#concurrency = optNumber(options, "concurrency", { min: 1, max: 64, integer: true }) ?? 4;
    this.#pageSize = optNumber(options, "pageSize", { min: 1, max: 1000, integer: true }) ?? 1000;
    this.#queryConcurrency =
      optNumber(options, "queryConcurrency", { min: 1, max: 64, integer: true }) ?? 16;
    this.#storageClass = optString(options, "storageClass")?.toUpperCase() as
      | StorageClass
      | undefined;
    const sse = optString(options, "sse");
    if (sse !== undefined && !["AES256", "aws:kms", "aws:kms:dsse"].includes(sse)) {
      throw new BackendError(
        `Invalid option "sse": ${JSON.stringify(sse)} is not one of AES256, aws:kms`,
        {
          code: ErrorCode.user_error,
        },
      );
    }
    this.#sse = sse as ServerSideEncryption | undefined;
    this.#sseKmsKeyId = optString(options, "sseKmsKeyId");
    if (this.#sseKmsKeyId !== undefined && !this.#sse?.startsWith("aws:kms")) {
      throw new BackendError(`Invalid option "sseKmsKeyId": it needs sse=aws:kms`, {
        code: ErrorCode.user_error,
      });
    }
    this.#createBucket = optBool(options, "createBucket") ?? false;
    this.#bulkDelete = optBool(options, "bulkDelete") ?? true;
    this.#contentMd5 = optBool(options, "contentMd5") ?? true;

    const keyId = optString(options, "accessKeyId") ??
      (this.#gs ? env("GS_ACCESS_KEY_ID") : undefined);
    const secret = optString(options, "secretAccessKey") ??
      (this.#gs ? env("GS_SECRET_ACCESS_KEY") : undefined);
    if ((keyId === undefined) !== (secret === undefined)) {
      throw new BackendError(
        this.#gs
          ? "Incomplete credentials: set both GS_ACCESS_KEY_ID and GS_SECRET_ACCESS_KEY"
          : 'Incomplete credentials: options "accessKeyId" and "secretAccessKey" go together',
        { code: ErrorCode.user_error },
      );
    }
    const token = optString(options, "sessionToken");
    // Made once (no I/O until first use) and shared by both clients, so credentials are
    // resolved and cached once, not again after every retry.
    this.#credentials = keyId !== undefined && secret !== undefined
      ? { accessKeyId: keyId, secretAccessKey: secret, ...(token ? { sessionToken: token } : {}) }
      : this.#gs && !this.#profile
      ? noGsCredentials
      : fromNodeProviderChain(this.#profile ? { profile: this.#profile } : {});
  }

  /** Atomic puts (S3 PUT and Complete are atomic), no rename, parts of `partSize`, keys ≤ 1024 bytes. */
  protected override declareCapabilities(): DeclaredCapabilities {
    return {
      atomicOverwrite: true,
      serverSideRename: false,
      chunkSize: this.#partSize,
      // S3 keys are at most 1024 UTF-8 bytes, prefix included.
      names: { maxBytes: MAX_KEY_BYTES - new TextEncoder().encode(this.prefix).length },
    };
  }

  /**
   * Stream the object to `localPath` through `fetch`. The first request asks
   * for the first `partSize` bytes; a larger object is fetched as byte
   * ranges, `concurrency` at once, each pinned to the first answer's ETag
   * (If-Match) so a replaced object cannot mix two versions, each written
   * at its offset by its own file handle. Lengths are checked.
   */
  override async _get(name: string, localPath: string, ctx?: OperationContext): Promise<void> {
    const client = await this.#reader(ctx);
    const key = this.#key(name);
    const get = (range?: string, etag?: string, signal?: AbortSignal) =>
      this.#send(
        (o) =>
          client.send(
            new GetObjectCommand({
              Bucket: this.bucket,
              Key: key,
              ...(range ? { Range: range } : {}),
              ...(etag ? { IfMatch: etag } : {}),
            }),
            o,
          ),
        ctx,
        signal,
      );
    let first;
    try {
      first = await get(`bytes=0-${this.#partSize - 1}`);
    } catch (err) {
      // An empty object has no byte 0: S3 answers 416 InvalidRange.
      if (!(err instanceof BackendError && statusOf(err.cause) === 416)) throw err;
      first = await get();
    }
    const total = totalSize(first.ContentRange) ?? first.ContentLength ?? 0;
    // "bytes 0-0/0" (s3rver's answer for an empty object) promises a byte it cannot send.
    const firstLength = total === 0 ? 0 : first.ContentLength ?? 0;
    const file = await Deno.open(localPath, { write: true, create: true, truncate: true });
    file.close();
    if (total === 0) {
      await first.Body?.transformToWebStream().cancel().catch(() => {});
      return;
    }
    const stop = new AbortController();
    const onAbort = () => stop.abort(ctx?.signal.reason);
    ctx?.signal.addEventListener("abort", onAbort, { once: true });
    try {
      const head = this.#writeRange(first.Body, localPath, 0, firstLength, ctx, stop.signal);
      head.catch(() => stop.abort());
      const ranges: number[] = [];
      for (let at = firstLength; firstLength > 0 && at < total; at += this.#partSize) {
        ranges.push(at);
      }
      const rest = eachLimited(ranges, Math.max(1, this.#concurrency - 1), async (at) => {
        const end = Math.min(at + this.#partSize, total);
        const part = await get(`bytes=${at}-${end - 1}`, first.ETag, stop.signal);
        await this.#writeRange(part.Body, localPath, at, end - at, ctx, stop.signal);
      }, stop);
      const results = await Promise.allSettled([head, rest]);
      for (const r of results) if (r.status === "rejected") throw this.#convert(r.reason);
    } finally {
      ctx?.signal.removeEventListener("abort", onAbort);
    }
    const size = (await Deno.stat(localPath)).size;
    if (size !== total) {
      throw new BackendError(`the download has ${size} of ${total} bytes`, {
        code: ErrorCode.connection_failed,
      });
    }
  }

  /** One streamed PutObject up to `partSize`, else a multipart upload. */
  override async _put(localPath: string, name: string, ctx?: OperationContext): Promise<void> {
    const size = (await Deno.stat(localPath)).size;
    const client = await this.#ready(ctx);
    if (size <= this.#partSize) {
      await this.#putSingle(client, localPath, name, size, ctx);
    } else {
      await this.#putMultipart(client, localPath, name, size, ctx);
    }
  }

  /**
   * Every page of ListObjectsV2 under the prefix: its direct children only.
   * The SDK signs and sends each request; the answer is parsed here (Key,
   * IsTruncated, NextContinuationToken) rather than by the SDK's generic XML
   * parser, which took most of the client's time per page. The first page
   * doubles as the bucket check: only when it fails with not-found does the
   * HeadBucket check run (for its clear error, or to create the bucket), and
   * the listing is tried again.
   */
  override async _list(ctx?: OperationContext): Promise<string[]> {
    if (this.#bucketChecked) return this.#listAll(await this.#reader(ctx), ctx);
    try {
      const names = await this.#listAll(this.#fetchClient(), ctx);
      this.#bucketChecked ??= Promise.resolve();
      return names;
    } catch (err) {
      if (!(err instanceof BackendError && err.code === ErrorCode.backend_not_found)) throw err;
      return this.#listAll(await this.#reader(ctx), ctx);
    }
  }

  /** Every page of ListObjectsV2 under the prefix, through `client`. */
  async #listAll(client: S3Client, ctx?: OperationContext): Promise<string[]> {
    const names: string[] = [];
    let token: string | undefined;
    const seen = new Set<string>();
    // Bounded by the store's pagination; a repeated token would loop forever, so it is an error.
    while (true) {
      const command = new ListObjectsV2Command({
        Bucket: this.bucket,
        Prefix: this.prefix,
        Delimiter: "/",
        MaxKeys: this.#pageSize,
        ...(token ? { ContinuationToken: token } : {}),
      });
      let page: ListPage | undefined;
      // Innermost: sees the raw answer before the SDK's deserializer. A 2xx body is parsed
      // here and replaced by an empty one; error answers go on to the SDK untouched.
      command.middlewareStack.add(
        (next) => async (args) => {
          const out = await next(args);
          const res = out.response as { statusCode?: number; body?: unknown };
          if (res.statusCode !== undefined && res.statusCode >= 200 && res.statusCode < 300) {
            page = parseListPage(await new Response(res.body as BodyInit).text());
            res.body = new Uint8Array(0);
          }
          return out;
        },
        { step: "deserialize", priority: "low", name: "stowageListPage" },
      );
      await this.#send((o) => client.send(command, o), ctx);
      if (!page) {
        throw new BackendError("the store's listing answer was not parsed", {
          code: ErrorCode.backend_code_error,
        });
      }
      ctx?.progress();
      const prefixLength = this.prefix.length;
      for (const key of page.keys) {
        if (!key.startsWith(this.prefix)) continue;
        // A zero-length "folder marker" or a deeper key is not a file of this folder.
        if (key.length > prefixLength && key.indexOf("/", prefixLength) === -1) {
          names.push(key.slice(prefixLength));
        }
      }
      if (!page.truncated) return names;
      token = page.token;
      if (!token || seen.has(token)) {
        throw new BackendError(
          "the store's listing is truncated but gives no new continuation token",
          {
            code: ErrorCode.backend_code_error,
          },
        );
      }
      seen.add(token);
    }
  }

  /** One DeleteObject (idempotent: a missing key is fine). */
  override async _delete(name: string, ctx?: OperationContext): Promise<void> {
    await this.#deleteOne(await this.#reader(ctx), name, ctx);
  }

  /** DeleteObjects in batches of 1000; per-key failures are reported, missing keys are fine. */
  override async _deleteList(names: string[], ctx?: OperationContext): Promise<void> {
    const client = await this.#ready(ctx);
    // One name is one DeleteObject; so are names with leading or trailing white space, which
    // some S3-compatible servers (s3rver among them) trim from a DeleteObjects XML body.
    const alone = names.length === 1 ? [...names] : names.filter((n) => n.trim() !== n);
    const bulk = names.length === 1 ? [] : names.filter((n) => n.trim() === n);
    for (let i = 0; i < bulk.length; i += DELETE_BATCH) {
      const batch = bulk.slice(i, i + DELETE_BATCH);
      if (this.#bulkDelete) {
        try {
          await this.#deleteBatch(client, batch, ctx);
          continue;
        } catch (err) {
          if (!isNotImplemented(err)) throw err;
          this.#bulkDelete = false; // the store has no DeleteObjects: delete one by one from now on
        }
      }
      alone.push(...batch);
    }
    const reader = await this.#reader(ctx);
    await eachLimited(alone, this.#queryConcurrency, async (name) => {
      await this.#deleteOne(reader, name, ctx);
      ctx?.progress();
    });
  }

  /** HeadObject: the size, or -1 when there is no such object. */
  override async _query(name: string, ctx?: OperationContext): Promise<QueryResult> {
    const client = await this.#reader(ctx);
    try {
      const head = await this.#send(
        (o) => client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: this.#key(name) }), o),
        ctx,
      );
      return { size: head.ContentLength ?? null };
    } catch (err) {
      if (err instanceof BackendError && err.code === ErrorCode.backend_not_found) {
        return { size: -1 };
      }
      throw err;
    }
  }

  /** HeadObject for each name asked, `queryConcurrency` at a time. */
  override async _queryList(
    names: string[],
    ctx?: OperationContext,
  ): Promise<Record<string, QueryResult>> {
    const out: Record<string, QueryResult> = Object.create(null);
    await eachLimited(names, this.#queryConcurrency, async (name) => {
      out[name] = await this._query(name, ctx);
      ctx?.progress();
    });
    return out;
  }

  /** Drop the connections (and the client): the next attempt starts afresh. */
  override _retryCleanup(): Promise<void> {
    this.#client?.destroy();
    this.#client = undefined;
    this.#readClient?.destroy();
    this.#readClient = undefined;
    return Promise.resolve();
  }

  /** The code for an SDK or network error that reached the wrapper unconverted. */
  override _errorCode(_operation: string, err: unknown): ErrorCode | undefined {
    return this.#convert(err).code;
  }

  /** Release the clients and their connections (the same as a reset between attempts). */
  override _close(): Promise<void> {
    return this._retryCleanup();
  }

  // ---- private helpers ----

  #key(name: string): string {
    return this.prefix + name;
  }

  /**
   * The client for requests with a streamed body (node:http), made on first
   * use, after the bucket check passed once.
   */
  async #ready(ctx?: OperationContext): Promise<S3Client> {
    const client = this.#client ?? (this.#client = this.#makeClient(new UploadHandler()));
    if (!this.#bucketChecked) {
      const check = this.#checkBucket(this.#fetchClient(), ctx);
      this.#bucketChecked = check;
      check.catch(() => {
        if (this.#bucketChecked === check) this.#bucketChecked = undefined;
      });
    }
    await this.#bucketChecked;
    return client;
  }

  /** The client for requests without a streamed body (GET, HEAD, DELETE): the runtime's fetch. */
  async #reader(ctx?: OperationContext): Promise<S3Client> {
    await this.#ready(ctx);
    return this.#fetchClient();
  }

  #fetchClient(): S3Client {
    return this.#readClient ?? (this.#readClient = this.#makeClient(fetchHandler));
  }

  #makeClient(handler: FetchHandler): S3Client {
    const config: S3ClientConfig = {
      region: this.#region,
      forcePathStyle: this.#pathStyle,
      maxAttempts: 1, // stowage's wrapper retries
      requestChecksumCalculation: "WHEN_REQUIRED",
      responseChecksumValidation: "WHEN_REQUIRED",
      expectContinueHeader: false,
      requestHandler: handler as S3ClientConfig["requestHandler"],
      logger: SILENT, // a library does not write to the console
      credentials: this.#credentials,
    };
    if (this.#endpoint) config.endpoint = this.#endpoint;
    else config.followRegionRedirects = true;
    const client = new S3Client(config);
    if (this.#contentMd5) {
      // DeleteObjects needs a body checksum: the SDK adds a CRC32 under
      // WHEN_REQUIRED; older Ceph and other S3-compatible stores accept only
      // Content-MD5, so send that too.
      client.middlewareStack.add(
        (next, context) => (args) => {
          const req = args.request as { headers?: Record<string, string>; body?: unknown };
          if (
            context.commandName === "DeleteObjectsCommand" && typeof req.body === "string" &&
            req.headers
          ) {
            req.headers["content-md5"] = createHash("md5").update(req.body).digest("base64");
          }
          return next(args);
        },
        { step: "build", name: "stowageDeleteObjectsMd5" },
      );
    }
    return client;
  }

  async #checkBucket(client: S3Client, ctx?: OperationContext): Promise<void> {
    try {
      await this.#send((o) => client.send(new HeadBucketCommand({ Bucket: this.bucket }), o), ctx);
    } catch (err) {
      if (!(err instanceof BackendError)) throw err;
      // Keys that may write but not list the bucket get 403 here; let the real call speak for itself.
      if (err.code === ErrorCode.backend_permission_denied) return;
      if (err.code !== ErrorCode.backend_not_found) throw err;
      if (!this.#createBucket) {
        throw new BackendError(
          `bucket "${this.bucket}" does not exist (create it first, or pass the option createBucket=true)`,
          { code: ErrorCode.backend_not_found, cause: err },
        );
      }
      const input: CreateBucketCommandInput = { Bucket: this.bucket };
      if (!this.#endpoint && this.#region !== "us-east-1") {
        input.CreateBucketConfiguration = { LocationConstraint: this.#region as never };
      }
      await this.#send((o) => client.send(new CreateBucketCommand(input), o), ctx);
    }
  }

  /** One SDK call under the attempt's signal (or `signal`); SDK errors come back as BackendError. */
  async #send<T>(
    call: (options: { abortSignal?: AbortSignal }) => Promise<T>,
    ctx?: OperationContext,
    signal?: AbortSignal,
  ): Promise<T> {
    const abortSignal = signal ?? ctx?.signal;
    try {
      return await call(abortSignal ? { abortSignal } : {});
    } catch (err) {
      throw this.#convert(err);
    }
  }

  /** Map an SDK or stream error to a BackendError with the right code (DESIGN section 4). */
  #convert(err: unknown): BackendError {
    if (err instanceof BackendError) return err;
    const e = err as {
      name?: string;
      message?: string;
      Code?: string;
      $metadata?: { httpStatusCode?: number };
      $response?: { statusCode?: number; headers?: Record<string, string | undefined> };
    };
    const status = e?.$metadata?.httpStatusCode ?? e?.$response?.statusCode;
    const name = e?.Code ?? e?.name ?? "Error";
    if (name === "AbortError") {
      return new BackendError("cancelled", { code: ErrorCode.backend_aborted, cause: err });
    }
    if (typeof status !== "number" || (status < 300 && !(name in S3_CODES))) {
      // Network-level failures (refused, reset, DNS, TLS) carry a node errno code; fetch
      // (bodiless requests) throws TypeError("fetch failed") with the real error as its cause.
      const inner = err instanceof TypeError && err.cause !== undefined ? err.cause : undefined;
      const code = errnoCode(err) ?? tlsCode(err) ??
        (inner ? errnoCode(inner) ?? tlsCode(inner) : undefined) ??
        (err instanceof TypeError &&
            /fetch failed|error sending request|connection/i.test(reasonOf(err))
          ? ErrorCode.connection_failed
          : undefined) ??
        (name === "TimeoutError" ? ErrorCode.backend_timeout : undefined) ??
        (name === "CredentialsProviderError" ? ErrorCode.backend_permission_denied : undefined) ??
        ErrorCode.backend_error;
      const reason = inner ? `${reasonOf(err)}: ${reasonOf(inner)}` : reasonOf(err);
      return new BackendError(reason, { code, cause: err });
    }
    const code = S3_CODES[name] ?? codeForHttpStatus(status);
    const retryAfter = parseRetryAfter(e.$response?.headers?.["retry-after"]);
    let message = e.message && e.message !== "UnknownError" && e.message !== name
      ? `${name}: ${e.message}`
      : `${name} (HTTP ${status})`;
    if (name === "NoSuchBucket") message = `bucket "${this.bucket}" does not exist`;
    if (status === 301 || name === "PermanentRedirect" || name === "AuthorizationHeaderMalformed") {
      message += ` (is the bucket in another region than "${this.#region}"? set the option region)`;
    }
    return new BackendError(message.replace(/\s*\n\s*/g, " "), {
      code,
      cause: err,
      ...(retryAfter !== undefined ? { retryAfter } : {}),
    });
  }

  /** Write a response body at `offset` of the local file, checking that it has `length` bytes. */
  async #writeRange(
    body: { transformToWebStream(): ReadableStream<Uint8Array> } | undefined,
    localPath: string,
    offset: number,
    length: number,
    ctx: OperationContext | undefined,
    signal: AbortSignal,
  ): Promise<void> {
    if (!body) throw new BackendError("the server sent no body", { code: ErrorCode.backend_error });
    await writeStreamToFile(body.transformToWebStream(), localPath, {
      offset,
      length,
      signal,
      ...(ctx ? { progress: (n: number) => ctx.progress(n) } : {}),
    });
  }

  async #putSingle(
    client: S3Client,
    localPath: string,
    name: string,
    size: number,
    ctx?: OperationContext,
  ): Promise<void> {
    const md5 = this.#contentMd5 ? await md5OfRange(localPath, 0, size, ctx) : undefined;
    await this.#send((o) =>
      client.send(
        new PutObjectCommand({
          ...this.#objectParams(name),
          Body: new FileRange(localPath, 0, size, ctx) as unknown as Uint8Array,
          ContentLength: size,
          ...(md5 ? { ContentMD5: md5 } : {}),
        }),
        o,
      ), ctx);
  }

  /**
   * A multipart upload: parts are byte ranges of the file, each streamed by
   * its own read stream (nothing buffered), `concurrency` at a time. On any
   * failure or abort the other parts stop and the upload is aborted on the
   * server before the error is thrown.
   */
  async #putMultipart(
    client: S3Client,
    localPath: string,
    name: string,
    size: number,
    ctx?: OperationContext,
  ): Promise<void> {
    const partSize = Math.max(this.#partSize, Math.ceil(size / MAX_PARTS / MiB) * MiB);
    const count = Math.ceil(size / partSize);
    const created = await this.#send(
      (o) => client.send(new CreateMultipartUploadCommand(this.#objectParams(name)), o),
      ctx,
    );
    const uploadId = created.UploadId;
    if (!uploadId) {
      throw new BackendError("the store started a multipart upload without an upload id", {
        code: ErrorCode.backend_code_error,
      });
    }
    // Stops the other parts as soon as one fails; follows the attempt's signal.
    const stop = new AbortController();
    const onAbort = () => stop.abort(ctx?.signal.reason);
    ctx?.signal.addEventListener("abort", onAbort, { once: true });
    const etags: string[] = new Array(count);
    try {
      await eachLimited(
        Array.from({ length: count }, (_, i) => i),
        this.#concurrency,
        async (i) => {
          const start = i * partSize;
          const length = Math.min(partSize, size - start);
          const md5 = this.#contentMd5
            ? await md5OfRange(localPath, start, length, ctx, stop.signal)
            : undefined;
          const part = await this.#send(
            (o) =>
              client.send(
                new UploadPartCommand({
                  Bucket: this.bucket,
                  Key: this.#key(name),
                  UploadId: uploadId,
                  PartNumber: i + 1,
                  Body: new FileRange(localPath, start, length, ctx) as unknown as Uint8Array,
                  ContentLength: length,
                  ...(md5 ? { ContentMD5: md5 } : {}),
                }),
                o,
              ),
            ctx,
            stop.signal,
          );
          if (!part.ETag) {
            throw new BackendError(`the store answered part ${i + 1} without an ETag`, {
              code: ErrorCode.backend_code_error,
            });
          }
          etags[i] = part.ETag;
        },
        stop,
      );
      await this.#send((o) =>
        client.send(
          new CompleteMultipartUploadCommand({
            Bucket: this.bucket,
            Key: this.#key(name),
            UploadId: uploadId,
            MultipartUpload: { Parts: etags.map((ETag, i) => ({ ETag, PartNumber: i + 1 })) },
          }),
          o,
        ), ctx);
    } catch (err) {
      stop.abort();
      await this.#abortUpload(client, name, uploadId);
      throw this.#convert(err);
    } finally {
      ctx?.signal.removeEventListener("abort", onAbort);
    }
  }

  /** Abort a multipart upload on the server, with its own short deadline (the attempt's signal may be aborted). */
  async #abortUpload(client: S3Client, name: string, uploadId: string): Promise<void> {
    try {
      await this.#send(
        (o) =>
          client.send(
            new AbortMultipartUploadCommand({
              Bucket: this.bucket,
              Key: this.#key(name),
              UploadId: uploadId,
            }),
            o,
          ),
        undefined,
        AbortSignal.timeout(ABORT_TIMEOUT_MS),
      );
    } catch {
      // Best effort: the parts are invisible, and a bucket lifecycle rule
      // (AbortIncompleteMultipartUpload) reclaims what a failed abort leaves.
    }
  }

  /** Storage class and encryption for a new object. */
  #objectParams(name: string): {
    Bucket: string;
    Key: string;
    ContentType: string;
    StorageClass?: StorageClass;
    ServerSideEncryption?: ServerSideEncryption;
    SSEKMSKeyId?: string;
  } {
    return {
      Bucket: this.bucket,
      Key: this.#key(name),
      ContentType: "application/octet-stream",
      ...(this.#storageClass ? { StorageClass: this.#storageClass } : {}),
      ...(this.#sse ? { ServerSideEncryption: this.#sse } : {}),
      ...(this.#sseKmsKeyId ? { SSEKMSKeyId: this.#sseKmsKeyId } : {}),
    };
  }

  async #deleteOne(client: S3Client, name: string, ctx?: OperationContext): Promise<void> {
    await this.#send(
      (o) => client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: this.#key(name) }), o),
      ctx,
    );
  }

  async #deleteBatch(client: S3Client, batch: string[], ctx?: OperationContext): Promise<void> {
    const out = await this.#send((o) =>
      client.send(
        new DeleteObjectsCommand({
          Bucket: this.bucket,
          Delete: { Objects: batch.map((name) => ({ Key: this.#key(name) })), Quiet: true },
        }),
        o,
      ), ctx);
    ctx?.progress();
    const errors = (out.Errors ?? []).filter((e) => e.Code !== "NoSuchKey");
    if (errors.length === 0) return;
    const shown = errors.slice(0, 3).map((e) =>
      `"${(e.Key ?? "?").slice(this.prefix.length)}" (${e.Code ?? "error"}${
        e.Message ? `: ${e.Message}` : ""
      })`
    );
    const more = errors.length > 3 ? ` and ${errors.length - 3} more` : "";
    const denied = errors.every((e) => e.Code === "AccessDenied");
    throw new BackendError(
      `${errors.length} of ${batch.length} deletes failed: ${shown.join(", ")}${more}`,
      {
        code: denied ? ErrorCode.backend_permission_denied : ErrorCode.backend_error,
      },
    );
  }
}

const SILENT = { trace() {}, debug() {}, info() {}, warn() {}, error() {} };

/** S3 error names whose code differs from what the HTTP status alone says. */
const S3_CODES: Readonly<Record<string, ErrorCode>> = {
  NoSuchKey: ErrorCode.backend_not_found,
  NotFound: ErrorCode.backend_not_found,
  NoSuchBucket: ErrorCode.backend_not_found,
  NoSuchUpload: ErrorCode.backend_not_found,
  AccessDenied: ErrorCode.backend_permission_denied,
  Forbidden: ErrorCode.backend_permission_denied,
  InvalidAccessKeyId: ErrorCode.backend_permission_denied,
  SignatureDoesNotMatch: ErrorCode.backend_permission_denied,
  ExpiredToken: ErrorCode.backend_permission_denied,
  InvalidToken: ErrorCode.backend_permission_denied,
  TokenRefreshRequired: ErrorCode.backend_permission_denied,
  AccountProblem: ErrorCode.backend_permission_denied,
  AllAccessDisabled: ErrorCode.backend_permission_denied,
  InvalidObjectState: ErrorCode.backend_permission_denied, // archived (GLACIER): restore first
  SlowDown: ErrorCode.backend_rate_limited,
  Throttling: ErrorCode.backend_rate_limited,
  ThrottlingException: ErrorCode.backend_rate_limited,
  TooManyRequests: ErrorCode.backend_rate_limited,
  RequestLimitExceeded: ErrorCode.backend_rate_limited,
  RequestTimeout: ErrorCode.backend_timeout,
  RequestTimeTooSkewed: ErrorCode.backend_permission_denied,
  InvalidStorageClass: ErrorCode.user_error,
  InvalidBucketName: ErrorCode.user_error,
  InvalidArgument: ErrorCode.user_error,
  KMS: ErrorCode.user_error,
  "KMS.NotFoundException": ErrorCode.user_error,
  EntityTooLarge: ErrorCode.user_error,
  PermanentRedirect: ErrorCode.user_error,
  AuthorizationHeaderMalformed: ErrorCode.user_error,
  QuotaExceeded: ErrorCode.backend_no_space,
  XMinioStorageFull: ErrorCode.backend_no_space,
  InternalError: ErrorCode.backend_error,
  ServiceUnavailable: ErrorCode.backend_rate_limited,
  BadDigest: ErrorCode.backend_error, // the body changed on the way: try again
};

/** The parts of a signed SDK request that {@linkcode fetchHandler} sends. */
interface SignedRequest {
  method: string;
  protocol: string;
  hostname: string;
  port?: number;
  path: string;
  query?: Record<string, string | string[] | null>;
  headers: Record<string, string>;
  body?: unknown;
}

/** A request handler for the SDK: `handle(request, { abortSignal })`. */
interface FetchHandler {
  metadata: { handlerProtocol: string };
  handle(
    request: SignedRequest,
    options?: { abortSignal?: AbortSignal },
  ): Promise<
    {
      response: {
        statusCode: number;
        reason: string;
        headers: Record<string, string>;
        body: unknown;
      };
    }
  >;
  updateHttpClientConfig(): void;
  httpHandlerConfigs(): Record<string, never>;
  destroy?(): void;
}

/**
 * Bodiless requests (GET, HEAD, DELETE) go through the runtime's own `fetch`
 * rather than the SDK's node:http handler: under Deno, node:http reads a
 * response ahead without backpressure (memory grew with the file: 245 MiB
 * RSS for a 512 MiB get) and ran 2–3x slower. The request is the SDK's,
 * signed. Streamed uploads stay on node:http: Deno's fetch sends a stream
 * body chunked, and S3 wants a Content-Length.
 */
const fetchHandler: FetchHandler = {
  metadata: { handlerProtocol: "http/1.1" },
  async handle(request, options) {
    const body = request.body;
    if (
      body !== undefined && body !== null && typeof body !== "string" &&
      !(body instanceof Uint8Array)
    ) {
      throw new BackendError("internal: the fetch handler does not send streamed bodies", {
        code: ErrorCode.exception,
      });
    }
    const query = request.query ? buildQuery(request.query) : "";
    const port = request.port ? `:${request.port}` : "";
    const url = `${request.protocol}//${request.hostname}${port}${request.path}${
      query ? `?${query}` : ""
    }`;
    const headers = new Headers();
    for (const [k, v] of Object.entries(request.headers)) {
      if (k.toLowerCase() !== "host") headers.set(k, v);
    }
    // The object's bytes as stored: never let fetch decompress a Content-Encoding.
    headers.set("accept-encoding", "identity");
    const res = await fetch(url, {
      method: request.method,
      headers,
      ...(body !== undefined && body !== null && body !== ""
        ? { body: body as string | Uint8Array<ArrayBuffer> }
        : {}),
      redirect: "manual",
      ...(options?.abortSignal ? { signal: options.abortSignal } : {}),
    });
    const out: Record<string, string> = {};
    res.headers.forEach((v, k) => out[k] = v);
    return {
      response: {
        statusCode: res.status,
        reason: res.statusText,
        headers: out,
        // HEAD and 204 answers have no body: give the SDK an empty, finished stream.
        body: res.body ?? new ReadableStream({ start: (c) => c.close() }),
      },
    };
  },
  updateHttpClientConfig() {},
  httpHandlerConfigs() {
    return {};
  },
};

/** The SDK's query string: sorted keys, RFC 3986 escapes (what was signed). */
function buildQuery(query: Record<string, string | string[] | null>): string {
  const esc = (s: string) =>
    encodeURIComponent(s).replace(
      /[!'()*]/g,
      (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`,
    );
  const parts: string[] = [];
  for (const key of Object.keys(query).sort()) {
    const value = query[key];
    if (Array.isArray(value)) { for (const v of value) parts.push(`${esc(key)}=${esc(v)}`); }
    else parts.push(value || typeof value === "string" ? `${esc(key)}=${esc(value)}` : esc(key));
  }
  return parts.join("&");
}

/**
 * A byte range of a local file as an upload body. The SDK signs it as
 * UNSIGNED-PAYLOAD (it is neither a string nor bytes) and passes it through
 * untouched to {@linkcode UploadHandler}, which sends it.
 */
class FileRange {
  constructor(
    readonly path: string,
    readonly start: number,
    readonly length: number,
    readonly ctx: OperationContext | undefined,
  ) {}
}

/** The most an answer to an upload may hold (they are a few headers and a short XML document). */
const MAX_ANSWER_BYTES = MiB;
/** How long an idle upload connection is reused (servers close idle keep-alive connections after ~5 s). */
const IDLE_REUSE_MS = 2000;

/**
 * Reused 256 KiB file buffers: uploads (through {@linkcode Http1Client}) and
 * part hashing read through these, so they make no garbage.
 */
const buffers = new BufferPool(256 * 1024);

/**
 * The SDK request handler for uploads. A {@linkcode FileRange} body is sent
 * by {@linkcode Http1Client}, a minimal HTTP/1.1 client over `Deno.connect`
 * (and `Deno.startTls`, which verifies the certificate against Deno's trust
 * store): the file is read into one reused 256 KiB buffer and each chunk is
 * written to the socket before the next is read, so an upload makes no
 * garbage and memory stays flat however large the file. Deno's `fetch`
 * cannot do this (it sends a stream body chunked, which S3 refuses), and
 * under Deno the SDK's node:http handler buffered ahead and left every chunk
 * to the garbage collector (peak RSS 156–173 MiB for 256 MiB–1 GiB). Every
 * other request (create, complete, abort) goes through
 * {@linkcode fetchHandler}.
 */
class UploadHandler implements FetchHandler {
  readonly metadata = { handlerProtocol: "http/1.1" };
  readonly #client = new Http1Client({
    idleReuseMs: IDLE_REUSE_MS,
    maxAnswerBytes: MAX_ANSWER_BYTES,
    buffers,
  });

  handle(
    request: SignedRequest,
    options?: { abortSignal?: AbortSignal },
  ): ReturnType<FetchHandler["handle"]> {
    if (!(request.body instanceof FileRange)) return fetchHandler.handle(request, options);
    return this.#upload(request, request.body, options?.abortSignal);
  }

  updateHttpClientConfig(): void {}

  httpHandlerConfigs(): Record<string, never> {
    return {};
  }

  /** Close the idle connections (the SDK calls this from `client.destroy()`). */
  destroy(): void {
    this.#client.closeIdle();
  }

  async #upload(
    request: SignedRequest,
    body: FileRange,
    signal: AbortSignal | undefined,
  ): ReturnType<FetchHandler["handle"]> {
    const port = request.port ? `:${request.port}` : "";
    const query = request.query ? buildQuery(request.query) : "";
    const headers = { ...request.headers };
    if (!Object.keys(headers).some((k) => k.toLowerCase() === "host")) {
      headers["host"] = `${request.hostname}${port}`;
    }
    const answer = await this.#client.send({
      url: new URL(`${request.protocol}//${bracketed(request.hostname)}${port}/`),
      target: `${request.path}${query ? `?${query}` : ""}`,
      method: request.method,
      headers,
      body: { path: body.path, start: body.start, length: body.length },
      ...(signal ? { signal } : {}),
      ...(body.ctx ? { onProgress: (n: number) => body.ctx!.progress(n) } : {}),
    });
    return {
      response: {
        statusCode: answer.status,
        reason: answer.reason,
        headers: answer.headers,
        body: answer.body,
      },
    };
  }
}

/** A host name for a URL: an IPv6 address in brackets. */
function bracketed(hostname: string): string {
  return hostname.includes(":") && !hostname.startsWith("[") ? `[${hostname}]` : hostname;
}

/** What stowage needs from one ListObjectsV2 answer. */
interface ListPage {
  /** The objects' keys (prefix included), decoded. */
  keys: string[];
  /** Whether more pages follow. */
  truncated: boolean;
  /** The token for the next page. */
  token: string | undefined;
}

/** XML text content: plain characters, entity and character references, CDATA sections. */
const XML_TEXT = String.raw`(?:[^<]|<!\[CDATA\[[\s\S]*?\]\]>)*`;
const XML_CONTENTS = new RegExp(
  String.raw`<Contents(?:\s[^>]*)?>[\s\S]*?<Key>(${XML_TEXT})</Key>[\s\S]*?</Contents>`,
  "g",
);
const XML_TRUNCATED = new RegExp(String.raw`<IsTruncated>(${XML_TEXT})</IsTruncated>`);
const XML_TOKEN = new RegExp(
  String.raw`<NextContinuationToken>(${XML_TEXT})</NextContinuationToken>`,
);
/**
 * Parse a ListObjectsV2 answer: the Key of every Contents element,
 * IsTruncated and NextContinuationToken. Only these leaf elements are read
 * (S3 puts nothing nested in them), so a few regular expressions suffice.
 */
function parseListPage(xml: string): ListPage {
  const keys: string[] = [];
  XML_CONTENTS.lastIndex = 0;
  for (let m = XML_CONTENTS.exec(xml); m !== null; m = XML_CONTENTS.exec(xml)) {
    keys.push(xmlText(m[1]!));
  }
  const truncated = XML_TRUNCATED.exec(xml);
  const token = XML_TOKEN.exec(xml);
  return {
    keys,
    truncated: truncated !== null && xmlText(truncated[1]!).trim() === "true",
    token: token ? xmlText(token[1]!) : undefined,
  };
}

/** The base64 MD5 of `length` bytes of a file from `start`, read 256 KiB at a time. */
async function md5OfRange(
  path: string,
  start: number,
  length: number,
  ctx?: OperationContext,
  signal?: AbortSignal,
): Promise<string> {
  const hash = createHash("md5");
  if (length > 0) {
    using file = await Deno.open(path);
    await file.seek(start, Deno.SeekMode.Start);
    const buf = buffers.take();
    let left = length;
    try {
      while (left > 0) {
        ctx?.signal.throwIfAborted();
        signal?.throwIfAborted();
        const n = await file.read(buf.subarray(0, Math.min(buf.length, left)));
        if (n === null) {
          throw new BackendError("the local file shrank while it was being uploaded", {
            code: ErrorCode.backend_error,
          });
        }
        hash.update(buf.subarray(0, n));
        left -= n;
        ctx?.progress();
      }
    } finally {
      buffers.give(buf);
    }
  }
  return hash.digest("base64");
}

/** A credentials provider for `gs://` without keys: a clear code-51 error, not AWS keys sent to Google. */
function noGsCredentials(): Promise<never> {
  return Promise.reject(
    new BackendError(
      "no credentials for gs://: set GS_ACCESS_KEY_ID and GS_SECRET_ACCESS_KEY (HMAC keys), or the option profile",
      { code: ErrorCode.backend_permission_denied },
    ),
  );
}

/** The HTTP status an SDK error carries. */
function statusOf(err: unknown): number | undefined {
  const e = err as { $metadata?: { httpStatusCode?: number }; $response?: { statusCode?: number } };
  return e?.$metadata?.httpStatusCode ?? e?.$response?.statusCode;
}

/** The total size from a `Content-Range: bytes 0-99/1234` header. */
function totalSize(contentRange: string | undefined): number | undefined {
  const m = /\/(\d+)\s*$/.exec(contentRange ?? "");
  return m ? Number(m[1]) : undefined;
}

/** Whether a converted error says the store lacks the operation (HTTP 501 NotImplemented). */
function isNotImplemented(err: unknown): boolean {
  const cause = (err as { cause?: { name?: string; $metadata?: { httpStatusCode?: number } } })
    ?.cause;
  return cause?.name === "NotImplemented" || cause?.$metadata?.httpStatusCode === 501;
}

/** TLS certificate failures → 60 (untrusted), never retried. */
function tlsCode(err: unknown): ErrorCode | undefined {
  const code = (err as { code?: unknown })?.code;
  if (
    typeof code === "string" &&
    /^(CERT_|UNABLE_TO_VERIFY|SELF_SIGNED|DEPTH_ZERO_SELF_SIGNED|ERR_TLS_CERT)/.test(code)
  ) return ErrorCode.backend_untrusted_host;
  if (
    err instanceof Error &&
    /invalid peer certificate|certificate verify failed|UnknownIssuer/i.test(err.message)
  ) {
    return ErrorCode.backend_untrusted_host;
  }
  return undefined;
}

/** The `region` of a profile in the shared config file (`AWS_CONFIG_FILE`, else `~/.aws/config`). */
function profileRegion(profile: string | undefined): string | undefined {
  const name = profile ?? "default";
  let text: string;
  try {
    text = Deno.readTextFileSync(
      Deno.env.get("AWS_CONFIG_FILE") || join(homedir(), ".aws", "config"),
    );
  } catch {
    return undefined;
  }
  let inSection = false;
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.replace(/[#;].*$/, "").trim();
    const section = /^\[\s*(.+?)\s*\]$/.exec(line);
    if (section) {
      const s = section[1]!.replace(/^profile\s+/, "");
      inSection = s === name;
      continue;
    }
    const kv = /^region\s*=\s*(\S+)$/.exec(line);
    if (inSection && kv) return kv[1];
  }
  return undefined;
}
