/**
 * Reads: a get asks for the first `blockSize` bytes with `fetch`; a larger
 * blob's rest comes as byte ranges fetched in parallel and written at their
 * offsets (core/ranged_get.ts), every range pinned to the first answer's
 * ETag (If-Match), so a blob replaced during the download fails the attempt
 * (retried) instead of mixing versions. A streamed read (`_openRead`) is
 * one ranged GET whose body is handed over as it arrives. Sizes come from
 * Get Blob Properties (a HEAD). All through `fetch`, without the SDK.
 *
 * @module
 */

import type { OperationContext, QueryResult } from "../../core/backend.ts";
import { pinnedDownload } from "../../core/ranged_get.ts";
import { emptyStream, type ReadRange, sliceStream } from "../../core/streams.ts";
import { answerError, toBackendError } from "./error.ts";
import type { AzureSettings } from "./options.ts";
import type { AzureTransport } from "./transport.ts";

/**
 * Download `name` to `localPath`. The first request asks for the first
 * `blockSize` bytes (the whole blob when it is empty: byte 0 of nothing is
 * 416); its answer gives the total size and the ETag the other ranges must
 * match.
 */
export async function getBlob(
  t: AzureTransport,
  settings: Pick<AzureSettings, "blockSize" | "concurrency">,
  name: string,
  localPath: string,
  ctx?: OperationContext,
): Promise<void> {
  const url = await t.blobUrl(name, "r");
  const signal = ctx?.signal;
  let first = await t.request("GET", url, { range: `bytes=0-${settings.blockSize - 1}` }, signal, [
    416,
  ]);
  if (first.status === 416) {
    await first.body?.cancel().catch(() => {});
    first = await t.request("GET", url, {}, signal);
  }
  try {
    await pinnedDownload({
      localPath,
      first,
      partSize: settings.blockSize,
      concurrency: settings.concurrency,
      get: (range, etag, rangeSignal) =>
        t.request("GET", url, { range, ...(etag ? { "if-match": etag } : {}) }, rangeSignal),
      what: "the blob",
      ...(ctx ? { ctx } : {}),
    });
  } catch (err) {
    throw toBackendError(err, { network: true });
  }
}

/** The blob's size, `-1` when it does not exist (Get Blob Properties, a HEAD). */
export async function blobSize(
  t: AzureTransport,
  name: string,
  ctx?: OperationContext,
): Promise<QueryResult> {
  const url = await t.blobUrl(name, "r");
  const res = await t.request("HEAD", url, {}, ctx?.signal, [404]);
  if (res.status === 404) return { size: -1 };
  const size = Number(res.headers.get("content-length") ?? NaN);
  return { size: Number.isSafeInteger(size) ? size : null };
}

/**
 * The bytes `range` of `name` as a stream: one GET with a `Range` header
 * (none for the whole blob, so an empty blob reads as empty). A range that
 * starts past the end (416) reads as empty; a missing blob rejects with
 * code 52; a zero-length range only checks that the blob exists (a HEAD).
 * Cancelling the stream cancels the answer's body, which ends the request.
 */
export async function openBlob(
  t: AzureTransport,
  name: string,
  range: ReadRange,
  ctx?: OperationContext,
): Promise<ReadableStream<Uint8Array>> {
  const { offset, length } = range;
  if (length === 0) {
    if ((await blobSize(t, name, ctx)).size === -1) {
      throw answerError({ status: 404, errorCode: "BlobNotFound" });
    }
    return emptyStream();
  }
  const url = await t.blobUrl(name, "r");
  const headers: Record<string, string> = offset === 0 && length === undefined
    ? {}
    : { range: `bytes=${offset}-${length === undefined ? "" : offset + length - 1}` };
  const res = await t.request("GET", url, headers, ctx?.signal, [416]);
  if (res.status === 416 || !res.body) {
    await res.body?.cancel().catch(() => {});
    return emptyStream();
  }
  // A server that ignored the range sent the whole blob: skip to the range.
  return t.hold(
    res.status === 200 && headers.range ? sliceStream(res.body, offset, length) : res.body,
  );
}
