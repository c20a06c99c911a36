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
import { BackendError, ErrorCode } from "../../core/errors.ts";
import { rangedDownload } from "../../core/ranged_get.ts";
import type { ReadRange } from "../../core/streams.ts";
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
  const range = /\/(\d+)\s*$/.exec(first.headers.get("content-range") ?? "");
  const firstLength = Number(first.headers.get("content-length") ?? NaN);
  const size = range ? Number(range[1]) : firstLength;
  const etag = first.headers.get("etag");
  if (!Number.isSafeInteger(size) || !Number.isSafeInteger(firstLength)) {
    await first.body?.cancel().catch(() => {});
    throw new BackendError("the server sent no length for the blob", {
      code: ErrorCode.backend_error,
    });
  }
  try {
    await rangedDownload({
      localPath,
      size,
      first: { body: first.body, length: firstLength },
      partSize: settings.blockSize,
      concurrency: settings.concurrency,
      pipe: true, // fetch bodies: piped into the file in native code (memory stays flat)
      fetchRange: async (offset, length, rangeSignal) => {
        const res = await t.request(
          "GET",
          url,
          {
            range: `bytes=${offset}-${offset + length - 1}`,
            ...(etag ? { "if-match": etag } : {}),
          },
          rangeSignal,
        );
        return res.body;
      },
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
  return t.hold(res.status === 200 && headers.range ? slice(res.body, offset, length) : res.body);
}

/** The bytes `offset` to `offset + length` of `body`; the rest is not read. */
function slice(
  body: ReadableStream<Uint8Array>,
  offset: number,
  length: number | undefined,
): ReadableStream<Uint8Array> {
  const reader = body.getReader();
  let at = 0;
  const end = length === undefined ? Infinity : offset + length;
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      while (true) {
        if (at >= end) {
          await reader.cancel().catch(() => {});
          return controller.close();
        }
        const r = await reader.read();
        if (r.done) return controller.close();
        const chunk = r.value;
        const from = Math.max(0, offset - at);
        const to = Math.min(chunk.byteLength, end - at);
        at += chunk.byteLength;
        if (from < to) return controller.enqueue(chunk.subarray(from, to));
      }
    },
    cancel: (reason) => reader.cancel(reason),
  });
}

function emptyStream(): ReadableStream<Uint8Array> {
  return new ReadableStream<Uint8Array>({ start: (c) => c.close() });
}
