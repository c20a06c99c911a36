/**
 * Uploads as block blobs: a file up to `blockSize` goes up in one Put Blob;
 * a larger one in `blockSize` blocks (Put Block), `concurrency` at a time,
 * made visible by one Put Block List. Both are atomic, so a failed or
 * cancelled put leaves nothing (and an overwrite leaves the old content)
 * under the name; no temporary names are needed (staged blocks that are
 * never committed are invisible, and the service drops them at the name's
 * next commit or after a week). Each body is sent from its file range
 * through one reused 256 KiB buffer by core/http1.ts: memory stays flat
 * whatever the file or block size, and progress flows continuously. With a
 * proxy set, a body is read into memory and sent with `fetch`.
 *
 * The container is created when missing, lazily: a put is sent straight
 * away, and only an answer "container not found" creates it (once, shared
 * by the blocks in flight) and sends again. A small put is thus one request
 * even in a new process. The size of each committed blob is recorded (see
 * committed.ts) for the wrapper's size check.
 *
 * @module
 */

import type { OperationContext } from "../../core/backend.ts";
import { eachLimited } from "../../core/concurrency.ts";
import { BackendError, ErrorCode } from "../../core/errors.ts";
import type { FileRangeBody } from "../../core/http1.ts";
import type { CommittedSizes } from "./committed.ts";
import { answerError, isContainerMissing } from "./error.ts";
import type { AzureSettings } from "./options.ts";
import { type AzureTransport, proxyConfigured } from "./transport.ts";

/** Azure's most blocks per blob. */
export const MAX_BLOCKS = 50_000;

/** The settings a writer reads. */
export type WriterSettings = Pick<AzureSettings, "blockSize" | "concurrency" | "tier">;

/** Puts into one container; creates the container when a put finds it missing. */
export class AzureWriter {
  readonly #t: AzureTransport;
  readonly #committed: CommittedSizes;
  /** The block size. */
  readonly blockSize: number;
  /** Blocks in flight at once. */
  readonly concurrency: number;
  readonly #tier: Record<string, string>;
  #creating: Promise<boolean> | undefined;

  /** Uploads through `t` as `settings` say, recording committed sizes in `committed`. */
  constructor(t: AzureTransport, settings: WriterSettings, committed: CommittedSizes) {
    this.#t = t;
    this.#committed = committed;
    this.blockSize = settings.blockSize;
    this.concurrency = settings.concurrency;
    this.#tier = settings.tier ? { "x-ms-access-tier": settings.tier } : {};
  }

  /** Upload `size` bytes of `localPath` as `name`: one request or blocks; visible only when complete. */
  async put(localPath: string, name: string, size: number, ctx?: OperationContext): Promise<void> {
    this.#committed.forget(name);
    const url = await this.#t.blobUrl(name, "cw");
    if (size <= this.blockSize) {
      await this.putBlob(url, { path: localPath, start: 0, length: size }, ctx, ctx?.signal);
    } else {
      await this.#putBlocks(url, localPath, size, ctx);
    }
    this.#committed.record(name, size);
  }

  /** One Put Blob of `body` (a file range or bytes), with the tier. */
  async putBlob(
    url: string,
    body: FileRangeBody | Uint8Array,
    ctx: OperationContext | undefined,
    signal: AbortSignal | undefined,
  ): Promise<void> {
    const headers = { "x-ms-blob-type": "BlockBlob", ...this.#tier };
    await this.#send(url, headers, body, ctx, signal);
  }

  /** One Put Block of `body` under the block `id`. */
  async putBlock(
    url: string,
    id: string,
    body: FileRangeBody | Uint8Array,
    ctx: OperationContext | undefined,
    signal: AbortSignal | undefined,
  ): Promise<void> {
    const u = `${url}${url.includes("?") ? "&" : "?"}comp=block&blockid=${encodeURIComponent(id)}`;
    await this.#send(u, {}, body, ctx, signal);
  }

  /** Commit the blocks `ids` in order (Put Block List, with the tier): the blob changes here. */
  async commit(url: string, ids: string[], signal: AbortSignal | undefined): Promise<void> {
    const xml = `<?xml version="1.0" encoding="utf-8"?><BlockList>${
      ids.map((id) => `<Latest>${id}</Latest>`).join("")
    }</BlockList>`;
    await this.#t.request(
      "PUT",
      `${url}${url.includes("?") ? "&" : "?"}comp=blocklist`,
      { "content-type": "application/xml", ...this.#tier },
      signal,
      [],
      new TextEncoder().encode(xml),
    );
  }

  /**
   * Stage `size` bytes from `localPath` in blocks, `concurrency` at a time;
   * then commit them. On the first failure (or an abort) the other blocks
   * are cancelled and awaited before this throws.
   */
  async #putBlocks(
    url: string,
    localPath: string,
    size: number,
    ctx?: OperationContext,
  ): Promise<void> {
    const blockSize = Math.max(this.blockSize, Math.ceil(size / MAX_BLOCKS));
    const ids = blockIds(Math.ceil(size / blockSize));
    const stop = new AbortController();
    const onAbort = () => stop.abort(ctx?.signal.reason);
    ctx?.signal.addEventListener("abort", onAbort, { once: true });
    if (ctx?.signal.aborted) onAbort();
    try {
      await eachLimited(ids, this.concurrency, async (id, i) => {
        const start = i * blockSize;
        const body = { path: localPath, start, length: Math.min(blockSize, size - start) };
        await this.putBlock(url, id, body, ctx, stop.signal);
      }, stop);
    } finally {
      ctx?.signal.removeEventListener("abort", onAbort);
    }
    ctx?.signal.throwIfAborted();
    await this.commit(url, ids, ctx?.signal);
  }

  /**
   * Send one upload; when the container is missing, create it (one request
   * shared by the uploads that found it missing) and send again once.
   */
  async #send(
    url: string,
    headers: Record<string, string>,
    body: FileRangeBody | Uint8Array,
    ctx: OperationContext | undefined,
    signal: AbortSignal | undefined,
  ): Promise<void> {
    try {
      return await this.#upload(url, headers, body, ctx, signal);
    } catch (err) {
      if (!isContainerMissing(err)) throw err;
    }
    const denied = await this.#createContainer(signal);
    try {
      return await this.#upload(url, headers, body, ctx, signal);
    } catch (err) {
      if (!isContainerMissing(err)) throw err;
      // Denied: permanent. Made, yet missing again: it is being deleted; retried.
      throw new BackendError(
        `the container "${this.#t.container}" does not exist${
          denied ? " and these credentials may not create it" : ""
        }`,
        { code: denied ? ErrorCode.backend_not_found : ErrorCode.backend_error, cause: err },
      );
    }
  }

  /** Create the container once for all uploads waiting on it; `true` when these credentials may not. */
  #createContainer(signal: AbortSignal | undefined): Promise<boolean> {
    this.#creating ??= this.#t.createContainer(signal)
      .then((r) => r === "denied")
      .finally(() => this.#creating = undefined);
    return this.#creating;
  }

  /**
   * PUT `body` to `url`: streamed from the file range by the HTTP/1.1
   * client, or, when a proxy is set in the environment (which `fetch`
   * honours), with `fetch` and a file range read into memory.
   */
  async #upload(
    url: string,
    headers: Record<string, string>,
    body: FileRangeBody | Uint8Array,
    ctx: OperationContext | undefined,
    signal: AbortSignal | undefined,
  ): Promise<void> {
    if (proxyConfigured()) {
      const bytes = body instanceof Uint8Array ? body : await readRange(body, signal);
      await this.#t.request("PUT", url, headers, signal, [], bytes);
      ctx?.progress(bytes.length);
      return;
    }
    const answer = await this.#t.upload({
      url: new URL(url),
      method: "PUT",
      headers,
      body,
      ...(signal ? { signal } : {}),
      ...(ctx ? { onProgress: (n: number) => ctx.progress(n) } : {}),
    });
    if (answer.status >= 200 && answer.status < 300) return;
    throw answerError({
      status: answer.status,
      errorCode: answer.headers["x-ms-error-code"],
      headers: answer.headers,
      body: new TextDecoder().decode(answer.body),
    });
  }
}

/**
 * `count` block ids for one upload: base64 of equal-length strings (Azure
 * wants every block id of a blob the same length), unique to this upload.
 */
export function blockIds(count: number, from = 0): string[] {
  const run = crypto.randomUUID().replaceAll("-", "").slice(0, 16);
  return Array.from({ length: count }, (_, i) => blockId(run, from + i));
}

/** The id of block `i` of the upload `run`. */
export function blockId(run: string, i: number): string {
  return btoa(`${run}-${String(i).padStart(6, "0")}`);
}

/** The bytes of a file range; a file that ends early is an error. */
async function readRange(
  body: FileRangeBody,
  signal: AbortSignal | undefined,
): Promise<Uint8Array> {
  signal?.throwIfAborted();
  const buf = new Uint8Array(body.length);
  using file = await Deno.open(body.path, { read: true });
  if (body.start) await file.seek(body.start, Deno.SeekMode.Start);
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
