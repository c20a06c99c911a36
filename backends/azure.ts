/**
 * `azure://container[/prefix]` — Azure Blob Storage (and Azurite), with
 * duplicity's URL form and environment variables.
 *
 * - Credentials, first found wins: the options `connectionString`, or
 *   `accountKey` / `sasToken` (with `accountName` or `endpoint`); then the
 *   environment: `AZURE_CONNECTION_STRING` (duplicity's name) or
 *   `AZURE_STORAGE_CONNECTION_STRING`; `AZURE_STORAGE_ACCOUNT` +
 *   `AZURE_STORAGE_KEY` (or duplicity's `AZURE_ACCOUNT_NAME` +
 *   `AZURE_ACCOUNT_KEY`); a SAS token in `AZURE_STORAGE_SAS_TOKEN` (or
 *   duplicity's `AZURE_SHARED_ACCESS_SIGNATURE`) with the account name or
 *   `endpoint`. Keys and tokens never appear in messages.
 * - Puts are block blobs: a file up to `blockSize` goes up in one Put Blob;
 *   a larger one in `blockSize` blocks (Put Block), `concurrency` at a time,
 *   made visible by one Put Block List. Both are atomic, so a failed or
 *   cancelled put leaves nothing (and an overwrite leaves the old content)
 *   under the name; no temporary names are needed. Each request body is sent
 *   from its file range through one reused 256 KiB buffer by a small
 *   HTTP/1.1 client on Deno sockets (Azure needs a Content-Length, and Deno's
 *   `fetch` sends stream bodies chunked): memory stays flat whatever the file
 *   or block size, and progress flows continuously.
 * - A get asks for the first `blockSize` bytes; a larger blob's rest comes in
 *   `concurrency` equal byte ranges (each at least `blockSize`) fetched in
 *   parallel and written at their offsets. Every range is pinned to the
 *   first answer's ETag (If-Match), so a blob replaced during the download
 *   fails the attempt (retried) instead of mixing versions. Lengths are
 *   checked. Listing is paginated (`pageSize`) and returns only the direct
 *   children of the prefix.
 * - Requests carry a SAS for the one blob or container, signed locally when
 *   the credential is an account key (the given SAS otherwise). Gets,
 *   listings and the block-list commit use Deno's `fetch`; with a proxy set
 *   in the environment, uploads use it too (the block then read into
 *   memory). Container creation, deletes and queries use the SDK over
 *   `node:http`.
 * - Deletes of several names use one Blob Batch request per 256 names
 *   (falling back to parallel single deletes when the server refuses batches).
 * - The SDK's own retries are off (`maxTries: 1`): stowage's wrapper retries,
 *   honouring `Retry-After`. 404 → code 52, 401/403 → 51 (not retried);
 *   429/503 → 58 and 5xx, refused or dropped connections → retried.
 *
 * @example
 * ```ts ignore
 * import { getBackend } from "@stowage/backends";
 * // AZURE_CONNECTION_STRING (or account + key, or a SAS token) in the environment
 * await using store = await getBackend("azure://backups/host1", { tier: "Cool" });
 * await store.put("/var/backups/full.tar.gpg");
 * console.log(await store.list());
 * ```
 *
 * @module
 */

import { Agent as HttpAgent } from "node:http";
import { Agent as HttpsAgent } from "node:https";
import {
  type BlobClient,
  BlobSASPermissions,
  BlobServiceClient,
  type BlockBlobTier,
  type ContainerClient,
  ContainerSASPermissions,
  type StoragePipelineOptions,
  StorageSharedKeyCredential,
} from "@azure/storage-blob";
import {
  Backend,
  type BackendOptions,
  type DeclaredCapabilities,
  type OperationContext,
  type QueryResult,
} from "../core/backend.ts";
import { BufferPool } from "../core/buffer_pool.ts";
import { eachLimited } from "../core/concurrency.ts";
import { BackendError, errnoCode, ErrorCode, isAbortError } from "../core/errors.ts";
import { writeStreamToFile } from "../core/stream_file.ts";
import { httpError } from "../core/http.ts";
import { type Http1Answer, Http1Client } from "../core/http1.ts";
import { optBool, optBytes, optNumber, optString } from "../core/options.ts";
import type { ParsedUrl } from "../core/url.ts";
import { xmlText } from "../core/xml.ts";

/** Options for {@linkcode AzureBackend}; every one also has an environment variable or a default. */
export interface AzureOptions extends BackendOptions {
  /** A storage connection string; default `AZURE_CONNECTION_STRING` or `AZURE_STORAGE_CONNECTION_STRING`. */
  connectionString?: string;
  /** The storage account name; default `AZURE_STORAGE_ACCOUNT` or `AZURE_ACCOUNT_NAME`. */
  accountName?: string;
  /** The account key (base64); default `AZURE_STORAGE_KEY` or `AZURE_ACCOUNT_KEY`. */
  accountKey?: string;
  /** A SAS token (with or without the leading `?`); default `AZURE_STORAGE_SAS_TOKEN` or `AZURE_SHARED_ACCESS_SIGNATURE`. */
  sasToken?: string;
  /**
   * The blob service URL, e.g. Azurite's `http://127.0.0.1:10000/devstoreaccount1`;
   * default `https://ACCOUNT.blob.core.windows.net`. Not used with a connection string.
   */
  endpoint?: string;
  /**
   * Block size for uploads, and the smallest download range, bytes or `8M`; files up to this
   * size go in one request; default 8 MiB. Memory does not grow with it (without a proxy).
   */
  blockSize?: number | string;
  /** Blocks uploaded, or ranges downloaded, in parallel (1–64); default 4. */
  concurrency?: number | string;
  /** Names per listing page (1–5000); default 5000. */
  pageSize?: number | string;
  /** Access tier set on upload: `Hot`, `Cool`, `Cold` or `Archive` (duplicity's `--azure-blob-tier`); default: the account's. */
  tier?: string;
  /** Delete a blob's snapshots along with it; default false (a blob with snapshots then fails to delete, code 23). */
  deleteSnapshots?: boolean | string;
  /** Delete several names with Blob Batch requests; default true. */
  batchDelete?: boolean | string;
}

const MiB = 1024 * 1024;
const MAX_BLOCKS = 50_000;
const MAX_BLOCK_SIZE = 4000 * MiB;
const BATCH_MAX = 256;
const QUERY_CONCURRENCY = 16;
/** Buffer a download range is read through before it is written to the file. */
const GET_BUFFER = 256 * 1024;
/** Buffer an upload is read through, one per request in flight. */
const PUT_BUFFER = 256 * 1024;
/** Idle upload connections older than this are not reused (servers drop idle ones after ~5 s). */
const IDLE_REUSE_MS = 4000;
/** The most an upload's answer body may hold (an error's XML). */
const MAX_ANSWER = 1024 * 1024;
/** The REST version sent with fetch requests (the SAS carries its own `sv`); `Cold` needs 2021-12-02. */
const API_VERSION = "2021-12-02";
const PROXY_ENV = ["HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy"];
const TIERS: readonly BlockBlobTier[] = ["Hot", "Cool", "Cold", "Archive"] as BlockBlobTier[];

/** How the client authenticates, resolved from options and environment (no I/O). */
type Credentials =
  | { kind: "connectionString"; connectionString: string; source: string }
  | { kind: "key"; endpoint: string; accountName: string; accountKey: string; source: string }
  | { kind: "sas"; endpoint: string; sasToken: string; source: string };

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
  /** The container name. */
  readonly container: string;
  /** The folder inside the container, `""` or ending with `/`. */
  readonly prefix: string;
  readonly #creds: Credentials;
  readonly #blockSize: number;
  readonly #concurrency: number;
  readonly #pageSize: number;
  readonly #tier: BlockBlobTier | undefined;
  readonly #deleteSnapshots: boolean;
  #batch: boolean;
  #client: ContainerClient | undefined;
  #agent: HttpAgent | undefined;
  #http: Deno.HttpClient | undefined;
  /** Fetch clients replaced by `_retryCleanup` while transfers were running; closed later. */
  #retired: Deno.HttpClient[] = [];
  #transfers = 0;
  readonly #uploader = new Http1Client({
    idleReuseMs: IDLE_REUSE_MS,
    maxAnswerBytes: MAX_ANSWER,
    buffers: new BufferPool(PUT_BUFFER, 64),
  });
  #containerChecked = false;
  #createDenied = false;

  /** Check the URL, options and credentials; no network I/O. */
  constructor(url: ParsedUrl, options: AzureOptions = {}) {
    super(url, options);
    const parts = url.path.replace(/^\/\//, "").split("/").filter((p) => p !== "");
    const container = parts.shift() ?? "";
    const problem = containerProblem(container);
    if (problem) {
      throw new BackendError(
        `Invalid URL "${url.stripAuth()}": ${problem} (write azure://container[/folder])`,
        { code: ErrorCode.user_error },
      );
    }
    this.container = container;
    this.prefix = parts.length ? `${parts.join("/")}/` : "";
    this.#blockSize = optBytes(options, "blockSize", { min: 1024, max: MAX_BLOCK_SIZE }) ?? 8 * MiB;
    this.#concurrency = optNumber(options, "concurrency", { min: 1, max: 64, integer: true }) ?? 4;
    this.#pageSize = optNumber(options, "pageSize", { min: 1, max: 5000, integer: true }) ?? 5000;
    const tier = optString(options, "tier");
    if (tier !== undefined) {
      const found = TIERS.find((t) => t.toLowerCase() === tier.trim().toLowerCase());
      if (!found) {
        throw new BackendError(
          `Invalid option "tier": ${JSON.stringify(tier)} is not one of ${TIERS.join(", ")}`,
          { code: ErrorCode.user_error },
        );
      }
      this.#tier = found;
    }
    this.#deleteSnapshots = optBool(options, "deleteSnapshots") ?? false;
    this.#batch = optBool(options, "batchDelete") ?? true;
    this.#creds = resolveCredentials(options);
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
    return { atomicOverwrite: true, serverSideRename: false, chunkSize: this.#blockSize };
  }

  /**
   * Download the blob to `localPath`: one request up to `blockSize`, else
   * byte ranges `concurrency` at a time, all pinned to one version.
   */
  override async _get(name: string, localPath: string, ctx?: OperationContext): Promise<void> {
    this.#transfers++;
    try {
      await this.#download(name, localPath, ctx);
    } finally {
      this.#transferDone();
    }
  }

  /**
   * The first request asks for the first `blockSize` bytes; its answer gives
   * the total size and the ETag every other range must match (If-Match).
   * The rest is split into `concurrency` equal ranges, each at least
   * `blockSize`. Each range is written at its offset through its own file
   * handle; the first failure (or an abort) cancels the rest, which are
   * awaited.
   */
  async #download(name: string, localPath: string, ctx?: OperationContext): Promise<void> {
    const url = await this.#blobUrl(name, "r");
    const stop = new AbortController();
    const onAbort = () => stop.abort(ctx?.signal.reason);
    ctx?.signal.addEventListener("abort", onAbort, { once: true });
    if (ctx?.signal.aborted) onAbort();
    try {
      const bs = this.#blockSize;
      let first = await this.#request("GET", url, { range: `bytes=0-${bs - 1}` }, stop.signal, [
        416,
      ]);
      if (first.status === 416) {
        // An empty blob has no byte 0.
        await first.body?.cancel().catch(() => {});
        first = await this.#request("GET", url, {}, stop.signal);
      }
      const range = /\/(\d+)\s*$/.exec(first.headers.get("content-range") ?? "");
      const firstLength = Number(first.headers.get("content-length") ?? NaN);
      const total = range ? Number(range[1]) : firstLength;
      const etag = first.headers.get("etag");
      const file = await Deno.open(localPath, { write: true, create: true, truncate: true });
      file.close();
      if (!Number.isSafeInteger(total) || !Number.isSafeInteger(firstLength)) {
        await first.body?.cancel().catch(() => {});
        throw new BackendError("the server sent no length for the blob", {
          code: ErrorCode.backend_error,
        });
      }
      // The rest in `concurrency` equal ranges (at least `blockSize` each):
      // fewer, longer requests beat many short ones, and memory does not
      // depend on a range's size.
      const piece = Math.max(bs, Math.ceil((total - firstLength) / this.#concurrency));
      const starts: number[] = [0];
      for (let at = firstLength; firstLength > 0 && at < total; at += piece) starts.push(at);
      await eachLimited(starts, this.#concurrency, async (at) => {
        if (at === 0) {
          await this.#writeRange(first, localPath, 0, firstLength, ctx, stop.signal);
          return;
        }
        const end = Math.min(at + piece, total);
        const res = await this.#request(
          "GET",
          url,
          { range: `bytes=${at}-${end - 1}`, ...(etag ? { "if-match": etag } : {}) },
          stop.signal,
        );
        await this.#writeRange(res, localPath, at, end - at, ctx, stop.signal);
      }, stop);
      const size = (await Deno.stat(localPath)).size;
      if (size !== total) {
        throw new BackendError(`the download has ${size} of ${total} bytes`, {
          code: ErrorCode.connection_failed,
        });
      }
    } finally {
      ctx?.signal.removeEventListener("abort", onAbort);
    }
  }

  /** Write an answer's body at `offset` of the local file, checking that it has `length` bytes. */
  async #writeRange(
    res: Response,
    localPath: string,
    offset: number,
    length: number,
    ctx: OperationContext | undefined,
    signal: AbortSignal,
  ): Promise<void> {
    const body = res.body ?? new ReadableStream<Uint8Array>({ start: (c) => c.close() });
    try {
      await writeStreamToFile(body, localPath, {
        offset,
        length,
        signal,
        bufferSize: GET_BUFFER,
        ...(ctx ? { progress: (n: number) => ctx.progress(n) } : {}),
      });
    } catch (err) {
      throw fetchError(signal.aborted ? signal.reason : err);
    }
  }

  /** Upload in one request or in blocks; visible only when complete. */
  override async _put(localPath: string, name: string, ctx?: OperationContext): Promise<void> {
    const container = this.#containerClient();
    await this.#ensureContainer(container, ctx);
    const size = (await Deno.stat(localPath)).size;
    this.#transfers++;
    try {
      const url = await this.#blobUrl(name, "cw");
      const tier: Record<string, string> = this.#tier ? { "x-ms-access-tier": this.#tier } : {};
      if (size <= this.#blockSize) {
        await this.#upload(
          url,
          { "x-ms-blob-type": "BlockBlob", ...tier },
          localPath,
          0,
          size,
          ctx,
          ctx?.signal,
        );
      } else {
        await this.#putBlocks(url, localPath, size, ctx);
      }
    } catch (err) {
      if (err instanceof BackendError && err.code === ErrorCode.backend_not_found) {
        // The container is missing. If these credentials may not create it,
        // that is permanent; else it went away since we made it: make it
        // again on the next attempt.
        const denied = this.#createDenied;
        this.#containerChecked = false;
        throw new BackendError(
          `the container "${this.container}" does not exist${
            denied ? " and these credentials may not create it" : ""
          }`,
          { code: denied ? ErrorCode.backend_not_found : ErrorCode.backend_error, cause: err },
        );
      }
      throw err;
    } finally {
      this.#transferDone();
    }
  }

  /**
   * Stage `size` bytes from `localPath` in blocks (Put Block), `concurrency`
   * at a time, each sent from its file range by {@linkcode Http1Client}; then
   * commit the block list (Put Block List, with the tier).
   * The blob changes only at the commit. On the first failure (or an abort)
   * the other blocks are cancelled and awaited before this throws.
   */
  async #putBlocks(
    url: string,
    localPath: string,
    size: number,
    ctx?: OperationContext,
  ): Promise<void> {
    const blockSize = Math.max(this.#blockSize, Math.ceil(size / MAX_BLOCKS));
    const count = Math.ceil(size / blockSize);
    const run = crypto.randomUUID().replaceAll("-", "").slice(0, 16);
    // Base64 of equal-length ids: Azure wants every block id of a blob the same length.
    const ids = Array.from(
      { length: count },
      (_, i) => btoa(`${run}-${String(i).padStart(6, "0")}`),
    );
    const stop = new AbortController();
    const onAbort = () => stop.abort(ctx?.signal.reason);
    ctx?.signal.addEventListener("abort", onAbort, { once: true });
    if (ctx?.signal.aborted) onAbort();
    const join = url.includes("?") ? "&" : "?";
    try {
      await eachLimited(ids, this.#concurrency, async (id, i) => {
        const start = i * blockSize;
        await this.#upload(
          `${url}${join}comp=block&blockid=${encodeURIComponent(id)}`,
          {},
          localPath,
          start,
          Math.min(blockSize, size - start),
          ctx,
          stop.signal,
        );
      }, stop);
    } finally {
      ctx?.signal.removeEventListener("abort", onAbort);
    }
    ctx?.signal.throwIfAborted();
    const xml = `<?xml version="1.0" encoding="utf-8"?><BlockList>${
      ids.map((id) => `<Latest>${id}</Latest>`).join("")
    }</BlockList>`;
    await this.#request(
      "PUT",
      `${url}${join}comp=blocklist`,
      {
        "content-type": "application/xml",
        ...(this.#tier ? { "x-ms-access-tier": this.#tier } : {}),
      },
      ctx?.signal,
      [],
      new TextEncoder().encode(xml),
    );
  }

  /**
   * PUT `length` bytes of `localPath` from `start` to `url`: through
   * {@linkcode Http1Client}, or, when a proxy is set in the environment (which
   * `fetch` honours), with `fetch` and the range read into memory.
   */
  async #upload(
    url: string,
    headers: Record<string, string>,
    localPath: string,
    start: number,
    length: number,
    ctx: OperationContext | undefined,
    signal: AbortSignal | undefined,
  ): Promise<void> {
    if (PROXY_ENV.some((n) => env(n) !== undefined)) {
      const bytes = await readRange(localPath, start, new Uint8Array(length), signal);
      await this.#request("PUT", url, headers, signal, [], bytes);
      ctx?.progress(length);
      return;
    }
    let answer: Http1Answer;
    try {
      answer = await this.#uploader.send({
        url: new URL(url),
        method: "PUT",
        headers: { "x-ms-version": API_VERSION, ...headers },
        body: { path: localPath, start, length },
        ...(signal ? { signal } : {}),
        ...(ctx ? { onProgress: (n: number) => ctx.progress(n) } : {}),
      });
    } catch (err) {
      throw fetchError(signal?.aborted ? signal.reason : err);
    }
    if (answer.status >= 200 && answer.status < 300) return;
    const code = answer.headers["x-ms-error-code"];
    const message = xmlMessage(new TextDecoder().decode(answer.body));
    throw httpError(answer.status, reasonFor(answer.status, code, scrub(message)), answer.headers);
  }

  /**
   * One request through the fetch client. An answer with a status other than
   * 2xx or one of `pass` throws with its code and `Retry-After`; network
   * failures throw code 38 (or 60 for TLS) without the URL.
   */
  async #request(
    method: string,
    url: string,
    headers: Record<string, string>,
    signal: AbortSignal | undefined,
    pass: number[] = [],
    body?: Uint8Array,
  ): Promise<Response> {
    let res: Response;
    try {
      res = await fetch(url, {
        method,
        headers: { "accept-encoding": "identity", "x-ms-version": API_VERSION, ...headers },
        client: this.#fetchClient(),
        ...(body ? { body: body as Uint8Array<ArrayBuffer> } : {}),
        ...(signal ? { signal } : {}),
      });
    } catch (err) {
      throw fetchError(signal?.aborted ? signal.reason : err);
    }
    if (res.ok && method !== "PUT") return res;
    if (pass.includes(res.status)) return res;
    let text = "";
    try {
      text = await res.text();
    } catch (err) {
      throw fetchError(signal?.aborted ? signal.reason : err);
    }
    if (res.ok) return res;
    const code = res.headers.get("x-ms-error-code") ?? undefined;
    if (res.status === 412) {
      throw new BackendError("the blob changed during the download", {
        code: ErrorCode.backend_error,
      });
    }
    const message = xmlMessage(text);
    throw httpError(res.status, reasonFor(res.status, code, scrub(message)), res.headers);
  }

  /** A fetch transfer ended: close the clients `_retryCleanup` retired once none is running. */
  #transferDone(): void {
    if (--this.#transfers === 0 && this.#retired.length) {
      for (const h of this.#retired) h.close();
      this.#retired = [];
    }
  }

  /**
   * The direct children of the prefix, page by page (List Blobs with the
   * `/` delimiter, `pageSize` names a page); `[]` for a missing container.
   */
  override async _list(ctx?: OperationContext): Promise<string[]> {
    const base = await this.#containerUrl();
    const names: string[] = [];
    let marker: string | undefined;
    for (let page = 0;; page++) {
      const query = [
        "restype=container",
        "comp=list",
        "delimiter=%2F",
        `maxresults=${this.#pageSize}`,
        ...(this.prefix ? [`prefix=${encodeURIComponent(this.prefix)}`] : []),
        ...(marker ? [`marker=${encodeURIComponent(marker)}`] : []),
      ].join("&");
      const xml = await this.#fetchText(`${base}${base.includes("?") ? "&" : "?"}${query}`, ctx);
      if (xml === undefined) {
        if (page === 0) return []; // a container that does not exist yet holds nothing
        throw new BackendError("the container disappeared during the listing", {
          code: ErrorCode.backend_error,
        });
      }
      for (const name of blobNames(xml)) {
        const rest = name.slice(this.prefix.length);
        if (name.startsWith(this.prefix) && rest !== "" && !rest.includes("/")) names.push(rest);
      }
      ctx?.progress();
      const next = xmlText(/<NextMarker>([^<]*)<\/NextMarker>/.exec(xml)?.[1] ?? "");
      if (!next) return names;
      if (next === marker) {
        throw new BackendError("the server repeated a listing page", {
          code: ErrorCode.backend_error,
        });
      }
      marker = next;
    }
  }

  /** Delete one blob; a missing one is fine. */
  override async _delete(name: string, ctx?: OperationContext): Promise<void> {
    try {
      await this.#containerClient().getBlobClient(this.prefix + name).deleteIfExists({
        ...(this.#deleteSnapshots ? { deleteSnapshots: "include" as const } : {}),
        ...(ctx ? { abortSignal: ctx.signal } : {}),
      });
    } catch (err) {
      throw this.#deleteError(err, name);
    }
  }

  /**
   * One Blob Batch request per 256 names (missing names are fine); when the
   * server refuses batches (400/403/404/405/501 for the whole request), the
   * backend falls back to `concurrency` parallel single deletes from then on.
   */
  override async _deleteList(names: string[], ctx?: OperationContext): Promise<void> {
    for (let i = 0; i < names.length; i += BATCH_MAX) {
      const chunk = names.slice(i, i + BATCH_MAX);
      if (this.#batch && chunk.length > 1 && await this.#deleteBatch(chunk, ctx)) {
        ctx?.progress();
        continue;
      }
      await eachLimited(chunk, this.#concurrency, (n) => this._delete(n, ctx));
      ctx?.progress();
    }
  }

  /** The blob's size, `-1` when it does not exist. */
  override async _query(name: string, ctx?: OperationContext): Promise<QueryResult> {
    try {
      const props = await this.#containerClient().getBlobClient(this.prefix + name).getProperties(
        ctx ? { abortSignal: ctx.signal } : {},
      );
      return { size: props.contentLength ?? null };
    } catch (err) {
      if (statusOf(err) === 404) return { size: -1 };
      throw toBackendError(err);
    }
  }

  /** Sizes of the names asked, 16 requests at a time. */
  override async _queryList(
    names: string[],
    ctx?: OperationContext,
  ): Promise<Record<string, QueryResult>> {
    const out: Record<string, QueryResult> = {};
    await eachLimited(names, QUERY_CONCURRENCY, async (n) => {
      out[n] = await this._query(n, ctx);
      ctx?.progress();
    });
    return out;
  }

  /** Map an SDK error: 404 → 52, 401/403 → 51, 429/503 → 58, network errors → 38. */
  override _errorCode(_operation: string, err: unknown): ErrorCode | undefined {
    const e = toBackendError(err);
    return e instanceof BackendError ? e.code : undefined;
  }

  /**
   * Drop idle pooled connections (one may be the broken one) so the next
   * attempt connects afresh; requests of other operations running at the
   * same time on this store keep their connections.
   */
  override _retryCleanup(): Promise<void> {
    const free =
      (this.#agent as { freeSockets?: Record<string, { destroy(): void }[]> } | undefined)
        ?.freeSockets ?? {};
    for (const list of Object.values(free)) for (const socket of [...list]) socket.destroy();
    this.#uploader.closeIdle();
    if (this.#http) {
      if (this.#transfers === 0) this.#http.close();
      else this.#retired.push(this.#http);
      this.#http = undefined;
    }
    return Promise.resolve();
  }

  /** Release the connections. */
  override _close(): Promise<void> {
    this.#drop();
    return Promise.resolve();
  }

  // ---- private helpers ----

  /** The container client, built on first use with its own keep-alive agent. */
  #containerClient(): ContainerClient {
    if (this.#client) return this.#client;
    const c = this.#creds;
    const build = (agent?: HttpAgent): BlobServiceClient => {
      // `agent` is honoured by the pipeline (core-rest-pipeline's agentPolicy)
      // though StoragePipelineOptions does not list it.
      const opts = { retryOptions: { maxTries: 1 }, ...(agent ? { agent } : {}) } as
        & StoragePipelineOptions
        & { agent?: HttpAgent };
      try {
        if (c.kind === "connectionString") {
          return BlobServiceClient.fromConnectionString(c.connectionString, opts);
        }
        if (c.kind === "key") {
          return new BlobServiceClient(
            c.endpoint,
            new StorageSharedKeyCredential(c.accountName, c.accountKey),
            opts,
          );
        }
        return new BlobServiceClient(`${c.endpoint}?${c.sasToken}`, undefined, opts);
      } catch (err) {
        throw new BackendError(
          `the Azure credentials from ${c.source} are not usable (${
            c.kind === "connectionString" ? "the connection string is malformed" : "bad endpoint"
          })`,
          { code: ErrorCode.user_error, cause: scrubError(err) },
        );
      }
    };
    // Our own agent (TCP_NODELAY, closed by _close) — unless a proxy is set in
    // the environment: the SDK's proxy policy skips requests that carry an agent.
    if (PROXY_ENV.some((n) => env(n) !== undefined)) {
      this.#client = build().getContainerClient(this.container);
      return this.#client;
    }
    const probe = build();
    this.#agent = probe.url.startsWith("https:")
      ? new HttpsAgent({ keepAlive: true, noDelay: true } as never)
      : new HttpAgent({ keepAlive: true, noDelay: true } as never);
    this.#client = build(this.#agent).getContainerClient(this.container);
    return this.#client;
  }

  /** Deno's own HTTP client for downloads (faster and leaner than node:http here). */
  #fetchClient(): Deno.HttpClient {
    this.#http ??= Deno.createHttpClient({});
    return this.#http;
  }

  /**
   * A URL for the blob with the `permissions` asked (`r`, or `cw` to write):
   * with an account key, a SAS for this one blob signed locally (valid 24 h,
   * checked only when a request starts); with a SAS token, the blob URL that
   * already carries it.
   */
  async #blobUrl(name: string, permissions: string): Promise<string> {
    const blob = this.#containerClient().getBlobClient(this.prefix + name);
    if (blob.credential instanceof StorageSharedKeyCredential) {
      return await blob.generateSasUrl({
        permissions: BlobSASPermissions.parse(permissions),
        expiresOn: new Date(Date.now() + 24 * 3600_000),
      });
    }
    return blob.url;
  }

  /** The container URL with a SAS that may list it (signed locally with an account key). */
  async #containerUrl(): Promise<string> {
    const container = this.#containerClient();
    if (container.credential instanceof StorageSharedKeyCredential) {
      return await container.generateSasUrl({
        permissions: ContainerSASPermissions.parse("l"),
        expiresOn: new Date(Date.now() + 24 * 3600_000),
      });
    }
    return container.url;
  }

  /** GET a small XML answer with fetch; `undefined` on 404; other statuses throw. */
  async #fetchText(url: string, ctx?: OperationContext): Promise<string | undefined> {
    try {
      const res = await fetch(url, {
        headers: { "accept-encoding": "identity", "x-ms-version": API_VERSION },
        client: this.#fetchClient(),
        ...(ctx ? { signal: ctx.signal } : {}),
      });
      const text = await res.text();
      if (res.ok) return text;
      if (res.status === 404) return undefined;
      const code = res.headers.get("x-ms-error-code") ?? undefined;
      const message = xmlMessage(text);
      throw httpError(res.status, reasonFor(res.status, code, scrub(message)), res.headers);
    } catch (err) {
      throw fetchError(err);
    }
  }

  /** Close every connection; the next call reconnects. */
  #drop(): void {
    this.#agent?.destroy();
    this.#agent = undefined;
    this.#client = undefined;
    this.#uploader.closeIdle();
    for (const h of [...this.#retired, ...(this.#http ? [this.#http] : [])]) h.close();
    this.#retired = [];
    this.#http = undefined;
  }

  /**
   * Create the container before the first put. A credential that may not
   * create containers (a container SAS) gets 403 here: go on, the put itself
   * tells whether the container exists.
   */
  async #ensureContainer(container: ContainerClient, ctx?: OperationContext): Promise<void> {
    if (this.#containerChecked) return;
    try {
      await container.createIfNotExists(ctx ? { abortSignal: ctx.signal } : {});
    } catch (err) {
      const s = statusOf(err);
      if (s !== 403 && s !== 401) throw toBackendError(err);
      this.#createDenied = true;
    }
    this.#containerChecked = true;
  }

  /** One batch delete; `false` when the server refuses batches (then never tried again). */
  async #deleteBatch(names: string[], ctx?: OperationContext): Promise<boolean> {
    const container = this.#containerClient();
    const blobs: BlobClient[] = names.map((n) => container.getBlobClient(this.prefix + n));
    let res;
    try {
      res = await container.getBlobBatchClient().deleteBlobs(blobs, {
        ...(this.#deleteSnapshots ? { deleteSnapshots: "include" as const } : {}),
        ...(ctx ? { abortSignal: ctx.signal } : {}),
      });
    } catch (err) {
      const s = statusOf(err);
      if (s === 400 || s === 403 || s === 404 || s === 405 || s === 501) {
        this.#batch = false;
        return false;
      }
      throw toBackendError(err);
    }
    const unanswered: string[] = [];
    for (const [i, name] of names.entries()) {
      const sub = res.subResponses[i];
      if (!sub) {
        unanswered.push(name); // no sub-response parsed for it: delete it on its own
        continue;
      }
      if (sub.status === 404 || (sub.status >= 200 && sub.status < 300)) continue;
      const err = httpError(
        sub.status,
        `deleting "${name}": the server answered ${sub.status}${
          sub.errorCode ? ` ${sub.errorCode}` : ""
        }`,
        { get: (h: string) => sub.headers.get(h) ?? null },
      );
      throw this.#deleteError(err, name);
    }
    await eachLimited(unanswered, this.#concurrency, (n) => this._delete(n, ctx));
    return true;
  }

  /** A delete failure; a blob with snapshots is a permanent, explained error (code 23). */
  #deleteError(err: unknown, name: string): unknown {
    const snapshots = (statusOf(err) === 409 && errorCodeOf(err) === "SnapshotsPresent") ||
      (err instanceof BackendError && /SnapshotsPresent/.test(err.message));
    if (snapshots) {
      return new BackendError(
        `"${name}" has snapshots; set the option deleteSnapshots=true to delete them with it`,
        { code: ErrorCode.user_error, cause: err },
      );
    }
    return toBackendError(err);
  }
}

// ---- module helpers ----

/** Why a container name is not valid (Azure's rules), or `undefined`. */
function containerProblem(name: string): string | undefined {
  if (name === "") return "it names no container";
  if (name === "$root" || name === "$web") return undefined;
  if (name.length < 3 || name.length > 63) {
    return `the container name "${name}" must be 3 to 63 characters long`;
  }
  if (!/^[a-z0-9](?:[a-z0-9]|-(?!-))*[a-z0-9]$/.test(name)) {
    return `the container name "${name}" may hold only lowercase letters, digits and single hyphens, ` +
      `and must start and end with a letter or digit`;
  }
  return undefined;
}

function env(name: string): string | undefined {
  try {
    const v = Deno.env.get(name);
    return v === undefined || v === "" ? undefined : v;
  } catch {
    return undefined; // no --allow-env: as if unset
  }
}

function firstEnv(...names: string[]): { value: string; source: string } | undefined {
  for (const n of names) {
    const value = env(n);
    if (value !== undefined) return { value, source: n };
  }
  return undefined;
}

/** Credentials from options first, then the environment; code 23 naming what to set when none. */
function resolveCredentials(options: AzureOptions): Credentials {
  const endpointOpt = optString(options, "endpoint")?.replace(/\/+$/, "");
  const accountOpt = optString(options, "accountName");
  const endpointFor = (account: string | undefined): string | undefined =>
    endpointOpt ?? (account ? `https://${account}.blob.core.windows.net` : undefined);
  const needEndpoint = (what: string, source: string): never => {
    throw new BackendError(
      `the ${what} from ${source} needs an account name: set AZURE_STORAGE_ACCOUNT (or the option ` +
        `accountName), or the option endpoint`,
      { code: ErrorCode.user_error },
    );
  };
  if (endpointOpt !== undefined && !/^https?:\/\/[^/]/.test(endpointOpt)) {
    throw new BackendError(`Invalid option "endpoint": it must be an http:// or https:// URL`, {
      code: ErrorCode.user_error,
    });
  }

  const cs = optString(options, "connectionString");
  if (cs) {
    return {
      kind: "connectionString",
      connectionString: cs,
      source: "the option connectionString",
    };
  }
  const keyOpt = optString(options, "accountKey");
  if (keyOpt) {
    const account = accountOpt ?? firstEnv("AZURE_STORAGE_ACCOUNT", "AZURE_ACCOUNT_NAME")?.value;
    if (!account) return needEndpoint("account key", "the option accountKey");
    return {
      kind: "key",
      endpoint: endpointFor(account)!,
      accountName: account,
      accountKey: keyOpt,
      source: "the option accountKey",
    };
  }
  const sasOpt = optString(options, "sasToken");
  if (sasOpt) {
    const account = accountOpt ?? firstEnv("AZURE_STORAGE_ACCOUNT", "AZURE_ACCOUNT_NAME")?.value;
    const endpoint = endpointFor(account) ?? needEndpoint("SAS token", "the option sasToken");
    return {
      kind: "sas",
      endpoint,
      sasToken: sasOpt.replace(/^\?/, ""),
      source: "the option sasToken",
    };
  }

  const envCs = firstEnv("AZURE_CONNECTION_STRING", "AZURE_STORAGE_CONNECTION_STRING");
  if (envCs) {
    return { kind: "connectionString", connectionString: envCs.value, source: envCs.source };
  }
  const account = accountOpt ? { value: accountOpt, source: "the option accountName" } : firstEnv(
    "AZURE_STORAGE_ACCOUNT",
    "AZURE_ACCOUNT_NAME",
  );
  const key = firstEnv("AZURE_STORAGE_KEY", "AZURE_ACCOUNT_KEY");
  if (key) {
    if (!account) return needEndpoint("account key", key.source);
    return {
      kind: "key",
      endpoint: endpointFor(account.value)!,
      accountName: account.value,
      accountKey: key.value,
      source: key.source,
    };
  }
  const sas = firstEnv("AZURE_STORAGE_SAS_TOKEN", "AZURE_SHARED_ACCESS_SIGNATURE");
  if (sas) {
    const endpoint = endpointFor(account?.value) ?? needEndpoint("SAS token", sas.source);
    return { kind: "sas", endpoint, sasToken: sas.value.replace(/^\?/, ""), source: sas.source };
  }
  throw new BackendError(
    "no Azure credentials: set AZURE_CONNECTION_STRING (or AZURE_STORAGE_CONNECTION_STRING), or " +
      "AZURE_STORAGE_ACCOUNT with AZURE_STORAGE_KEY or AZURE_STORAGE_SAS_TOKEN, or pass the options " +
      "connectionString / accountName + accountKey / sasToken",
    { code: ErrorCode.user_error },
  );
}

/** The HTTP status of an SDK error (RestError), if it has one. */
function statusOf(err: unknown): number | undefined {
  const s = (err as { statusCode?: unknown } | null)?.statusCode;
  return typeof s === "number" ? s : undefined;
}

/** The storage error code (`BlobNotFound`, `AuthorizationFailure`, ...) of an SDK error. */
function errorCodeOf(err: unknown): string | undefined {
  const e = err as { code?: unknown; details?: { errorCode?: unknown } } | null;
  const c = e?.details?.errorCode ?? e?.code;
  return typeof c === "string" ? c : undefined;
}

/** An error message without SAS signatures or keys that might have slipped in. */
function scrub(text: string): string {
  return text
    .replace(/(sig|se|sp|sv|AccountKey|SharedAccessSignature)=([^&;\s"']+)/gi, "$1=***")
    .replace(/\s*\n[\s\S]*$/, "") // first line only: drop RequestId/Time
    .trim();
}

function scrubError(err: unknown): Error {
  return new Error(scrub(err instanceof Error ? err.message : String(err)));
}

/**
 * An SDK error as a {@linkcode BackendError}: HTTP answers through
 * `httpError` (status → code, `Retry-After` kept), network failures → 38 (or
 * their errno's code), aborts and our own errors unchanged.
 */
function toBackendError(err: unknown): unknown {
  if (err instanceof BackendError || isAbortError(err)) return err;
  if (!(err instanceof Error) || err.name !== "RestError") return err;
  const status = statusOf(err);
  const code = errorCodeOf(err);
  const msg = scrub(err.message);
  if (status !== undefined) {
    const reason = reasonFor(status, code, msg);
    const headers = (err as { response?: { headers?: { get(n: string): string | undefined } } })
      .response?.headers;
    const h = headers ? { get: (n: string) => headers.get(n) ?? null } : undefined;
    return httpError(status, reason, h, scrubError(err));
  }
  return new BackendError(msg || "the request failed", {
    code: networkCode(`${msg} ${errorCodeOf(err) ?? ""}`, err),
    cause: scrubError(err),
  });
}

/**
 * The code for a request that got no HTTP answer: an untrusted TLS
 * certificate → 60 (permanent), else the errno's code, else 38 (retried).
 */
function networkCode(text: string, err: unknown): ErrorCode {
  if (/certificate|UnknownIssuer|CERT_|SELF_SIGNED|ALTNAME/i.test(text)) {
    return ErrorCode.backend_untrusted_host;
  }
  return errnoCode(err) ?? ErrorCode.connection_failed;
}

/** The names of the `<Blob>` entries of a List Blobs answer (not the `<BlobPrefix>` ones). */
function blobNames(xml: string): string[] {
  const out: string[] = [];
  for (const m of xml.matchAll(/<Blob>([\s\S]*?)<\/Blob>/g)) {
    const n = /<Name( Encoded="true")?>([^<]*)<\/Name>/.exec(m[1]!);
    if (!n) continue;
    const text = xmlText(n[2]!);
    // Names with characters XML cannot carry come percent-encoded.
    out.push(n[1] ? decodeURIComponent(text) : text);
  }
  return out;
}

/** The `<Message>` of an error answer, decoded (as received when it is not well-formed XML). */
function xmlMessage(xml: string): string {
  const raw = /<Message>([^<]*)<\/Message>/.exec(xml)?.[1] ?? "";
  try {
    return xmlText(raw);
  } catch {
    return raw;
  }
}

/** A short reason for an HTTP status and storage error code. */
function reasonFor(status: number, code: string | undefined, msg: string): string {
  if (status === 404) {
    return code === "ContainerNotFound" ? "the container does not exist" : "not found";
  }
  if (status === 401 || status === 403) {
    return `access denied (${status}${code ? ` ${code}` : ""}): check the account key or SAS token`;
  }
  return `the server answered ${status}${code ? ` ${code}` : ""}${msg ? `: ${msg}` : ""}`;
}

/**
 * A fetch failure as a {@linkcode BackendError}: aborts unchanged; network
 * errors → 38 with the reason but never the URL (it may carry a SAS).
 */
function fetchError(err: unknown): unknown {
  if (err instanceof BackendError || isAbortError(err)) return err;
  // Deno says "fetch failed" and puts the reason (with the URL) in `cause`.
  const parts: string[] = [];
  for (let e: unknown = err, i = 0; e !== undefined && e !== null && i < 4; i++) {
    parts.push(e instanceof Error ? e.message : String(e));
    e = e instanceof Error ? e.cause : undefined;
  }
  const text = parts.join(": ")
    .replace(/\s*\(?\bhttps?:\/\/[^\s)]*\)?/g, "")
    .replace(/\s*\n[\s\S]*$/, "")
    .trim();
  return new BackendError(text || "the connection failed", {
    code: networkCode(text, err),
    cause: new Error(text),
  });
}

/** Fill `buf` from `path` at `offset`; a file that ends early is an error. */
async function readRange(
  path: string,
  offset: number,
  buf: Uint8Array,
  signal: AbortSignal | undefined,
): Promise<Uint8Array> {
  signal?.throwIfAborted();
  using file = await Deno.open(path, { read: true });
  if (offset) await file.seek(offset, Deno.SeekMode.Start);
  let got = 0;
  while (got < buf.length) {
    const n = await file.read(buf.subarray(got));
    if (n === null) {
      throw new BackendError("the local file shrank while it was being uploaded", {
        code: ErrorCode.backend_error,
      });
    }
    got += n;
  }
  return buf;
}
