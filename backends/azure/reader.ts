/**
 * Reads: a get asks for the first `blockSize` bytes with `fetch`; a larger
 * blob's rest comes as byte ranges fetched in parallel and written at their
 * offsets (core/ranged_get.ts), every range pinned to the first answer's
 * ETag (If-Match), so a blob replaced during the download fails the attempt
 * (retried) instead of mixing versions. Sizes come from Get Blob Properties.
 *
 * @module
 */

import type { OperationContext, QueryResult } from "../../core/backend.ts";
import { BackendError, ErrorCode } from "../../core/errors.ts";
import { rangedDownload } from "../../core/ranged_get.ts";
import { statusOf, toBackendError } from "./error.ts";
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

/** The blob's size, `-1` when it does not exist. */
export async function blobSize(
  t: AzureTransport,
  name: string,
  ctx?: OperationContext,
): Promise<QueryResult> {
  try {
    const props = await t.blobClient(name).getProperties(ctx ? { abortSignal: ctx.signal } : {});
    return { size: props.contentLength ?? null };
  } catch (err) {
    if (statusOf(err) === 404) return { size: -1 };
    throw toBackendError(err);
  }
}
