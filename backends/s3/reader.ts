/**
 * Reads: gets stream to the file through `fetch` — an object larger than
 * `partSize` as byte ranges, `concurrency` at once, all pinned to the first
 * answer's ETag (If-Match) so a replaced object can never be mixed from two
 * versions (core/ranged_get.ts) — and HeadObject for sizes.
 *
 * @module
 */

import { GetObjectCommand, HeadObjectCommand } from "@aws-sdk/client-s3";
import type { OperationContext, QueryResult } from "../../core/backend.ts";
import { BackendError, ErrorCode } from "../../core/errors.ts";
import { rangedDownload } from "../../core/ranged_get.ts";
import { statusOf } from "./error.ts";
import type { S3Settings } from "./options.ts";
import type { S3Transport } from "./transport.ts";

/** An SDK response body. */
interface SdkBody {
  transformToWebStream(): ReadableStream<Uint8Array>;
}

/**
 * Download `name` to `localPath`. The first request asks for the first
 * `partSize` bytes (the whole object when it is empty: S3 answers 416 for
 * byte 0 of nothing); its answer gives the total size and the ETag the
 * other ranges are pinned to.
 */
export async function getObject(
  t: S3Transport,
  settings: Pick<S3Settings, "partSize" | "concurrency">,
  name: string,
  localPath: string,
  ctx?: OperationContext,
): Promise<void> {
  const client = await t.reader(ctx);
  const key = t.key(name);
  const get = (range?: string, etag?: string, signal?: AbortSignal) =>
    t.send(
      (o) =>
        client.send(
          new GetObjectCommand({
            Bucket: t.bucket,
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
    first = await get(`bytes=0-${settings.partSize - 1}`);
  } catch (err) {
    if (statusOf(err) !== 416) throw err;
    first = await get();
  }
  const size = totalSize(first.ContentRange) ?? first.ContentLength ?? 0;
  // "bytes 0-0/0" (s3rver's answer for an empty object) promises a byte it cannot send.
  const firstLength = size === 0 ? 0 : first.ContentLength ?? 0;
  const etag = first.ETag;
  try {
    await rangedDownload({
      localPath,
      size,
      first: { body: streamOf(first.Body), length: firstLength },
      partSize: settings.partSize,
      concurrency: settings.concurrency,
      fetchRange: async (offset, length, signal) => {
        const part = await get(`bytes=${offset}-${offset + length - 1}`, etag, signal);
        return streamOf(part.Body);
      },
      ...(ctx ? { ctx } : {}),
    });
  } catch (err) {
    throw t.convert(err);
  }
}

/** HeadObject: the size, or -1 when there is no such object. */
export async function headSize(
  t: S3Transport,
  name: string,
  ctx?: OperationContext,
): Promise<QueryResult> {
  const client = await t.reader(ctx);
  try {
    const head = await t.send(
      (o) => client.send(new HeadObjectCommand({ Bucket: t.bucket, Key: t.key(name) }), o),
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

/** The web stream of an SDK body, `null` when the answer has none. */
function streamOf(body: SdkBody | undefined): ReadableStream<Uint8Array> | null {
  return body ? body.transformToWebStream() : null;
}

/** The total size from a `Content-Range: bytes 0-99/1234` header. */
function totalSize(contentRange: string | undefined): number | undefined {
  const m = /\/(\d+)\s*$/.exec(contentRange ?? "");
  return m ? Number(m[1]) : undefined;
}
