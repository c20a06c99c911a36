/**
 * Uploads as block blobs: a file up to `blockSize` goes up in one Put Blob;
 * a larger one in `blockSize` blocks (Put Block), `concurrency` at a time,
 * made visible by one Put Block List. Both are atomic, so a failed or
 * cancelled put leaves nothing (and an overwrite leaves the old content)
 * under the name; no temporary names are needed. Each body is sent from its
 * file range through one reused 256 KiB buffer by core/http1.ts: memory
 * stays flat whatever the file or block size, and progress flows
 * continuously. With a proxy set, a body is read into memory and sent with
 * `fetch`.
 *
 * @module
 */

import type { BlockBlobTier } from "@azure/storage-blob";
import type { OperationContext } from "../../core/backend.ts";
import { eachLimited } from "../../core/concurrency.ts";
import { BackendError, ErrorCode } from "../../core/errors.ts";
import { answerError, statusOf, toBackendError } from "./error.ts";
import type { AzureSettings } from "./options.ts";
import { type AzureTransport, proxyConfigured } from "./transport.ts";

/** Azure's most blocks per blob. */
const MAX_BLOCKS = 50_000;

/** Puts into one container; creates the container before the first. */
export class AzureWriter {
  readonly #t: AzureTransport;
  readonly #blockSize: number;
  readonly #concurrency: number;
  readonly #tier: BlockBlobTier | undefined;
  #containerChecked = false;
  #createDenied = false;

  /** Uploads through `t` with the block size, concurrency and tier of `settings`. */
  constructor(
    t: AzureTransport,
    settings: Pick<AzureSettings, "blockSize" | "concurrency" | "tier">,
  ) {
    this.#t = t;
    this.#blockSize = settings.blockSize;
    this.#concurrency = settings.concurrency;
    this.#tier = settings.tier as BlockBlobTier | undefined;
  }

  /** Upload `size` bytes of `localPath` as `name`: one request or blocks; visible only when complete. */
  async put(localPath: string, name: string, size: number, ctx?: OperationContext): Promise<void> {
    await this.#ensureContainer(ctx);
    try {
      const url = await this.#t.blobUrl(name, "cw");
      const tier: Record<string, string> = this.#tier ? { "x-ms-access-tier": this.#tier } : {};
      if (size <= this.#blockSize) {
        const headers = { "x-ms-blob-type": "BlockBlob", ...tier };
        await this.#upload(url, headers, localPath, 0, size, ctx, ctx?.signal);
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
          `the container "${this.#t.container}" does not exist${
            denied ? " and these credentials may not create it" : ""
          }`,
          { code: denied ? ErrorCode.backend_not_found : ErrorCode.backend_error, cause: err },
        );
      }
      throw err;
    }
  }

  /**
   * Create the container before the first put. A credential that may not
   * create containers (a container SAS) gets 403 here: go on, the put itself
   * tells whether the container exists.
   */
  async #ensureContainer(ctx?: OperationContext): Promise<void> {
    if (this.#containerChecked) return;
    try {
      await this.#t.containerClient().createIfNotExists(ctx ? { abortSignal: ctx.signal } : {});
    } catch (err) {
      const s = statusOf(err);
      if (s !== 403 && s !== 401) throw toBackendError(err);
      this.#createDenied = true;
    }
    this.#containerChecked = true;
  }

  /**
   * Stage `size` bytes from `localPath` in blocks (Put Block), `concurrency`
   * at a time; then commit the block list (Put Block List, with the tier).
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
    await this.#t.request(
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
   * PUT `length` bytes of `localPath` from `start` to `url`: streamed from
   * the file by the HTTP/1.1 client, or, when a proxy is set in the
   * environment (which `fetch` honours), with `fetch` and the range read
   * into memory.
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
    if (proxyConfigured()) {
      const bytes = await readRange(localPath, start, new Uint8Array(length), signal);
      await this.#t.request("PUT", url, headers, signal, [], bytes);
      ctx?.progress(length);
      return;
    }
    const answer = await this.#t.upload({
      url: new URL(url),
      method: "PUT",
      headers,
      body: { path: localPath, start, length },
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
