/**
 * Reads: gets stream to the file — an object larger than `partSize` as byte
 * ranges written at their offsets, all pinned to the first answer's ETag
 * (If-Match) so a replaced object can never be mixed from two versions
 * (core/ranged_get.ts) — ranged reads as streams (`_openRead`), and
 * HeadObject for sizes.
 *
 * @module
 */

import type { OperationContext, QueryResult } from "../../core/backend.ts";
import { BackendError, ErrorCode } from "../../core/errors.ts";
import { pinnedDownload } from "../../core/ranged_get.ts";
import { emptyStream, type ReadRange, sliceStream } from "../../core/streams.ts";
import { statusOf } from "./error.ts";
import type { S3Settings } from "./options.ts";
import type { S3Transport } from "./transport.ts";

/** The settings gets read. */
export type ReaderSettings = Pick<S3Settings, "partSize" | "concurrency">;

/**
 * Download `name` to `localPath`. The first request asks for the first
 * `partSize` bytes (the whole object when it is empty: S3 answers 416 for
 * byte 0 of nothing); its answer gives the total size and the ETag the
 * other ranges are pinned to.
 */
export async function getObject(
  t: S3Transport,
  settings: ReaderSettings,
  name: string,
  localPath: string,
  ctx?: OperationContext,
): Promise<void> {
  await t.ready(ctx);
  const key = t.key(name);
  const get = (range: string | undefined, etag?: string, signal?: AbortSignal) =>
    t.open({
      method: "GET",
      key,
      headers: { ...(range ? { range } : {}), ...(etag ? { "if-match": etag } : {}) },
      ...(signal ? { signal } : {}),
    }, ctx);
  let first: Response;
  try {
    first = await get(`bytes=0-${settings.partSize - 1}`);
  } catch (err) {
    if (statusOf(err) !== 416) throw err;
    first = await get(undefined);
  }
  try {
    await pinnedDownload({
      localPath,
      first,
      partSize: settings.partSize,
      concurrency: settings.concurrency,
      get,
      ...(ctx ? { ctx } : {}),
    });
  } catch (err) {
    throw t.convert(err);
  }
}

/**
 * The bytes `range` of `name` as a stream, once the store answered: a
 * missing name is code 52; a range past the end is an empty stream.
 */
export async function openRange(
  t: S3Transport,
  name: string,
  range: ReadRange,
  ctx?: OperationContext,
): Promise<ReadableStream<Uint8Array>> {
  await t.ready(ctx);
  const { offset, length } = range;
  if (length === 0) {
    const { size } = await headSize(t, name, ctx);
    if (size === -1) {
      throw new BackendError(`"${name}" does not exist`, { code: ErrorCode.backend_not_found });
    }
    return emptyStream();
  }
  const last = length === undefined ? "" : String(offset + length - 1);
  // 416: the object exists, the range starts at or past its end (or it is empty).
  const res = await t.open(
    { method: "GET", key: t.key(name), headers: { range: `bytes=${offset}-${last}` } },
    ctx,
    [416],
  );
  if (res.status === 416 || !res.body) {
    await res.body?.cancel().catch(() => {});
    return emptyStream();
  }
  // A server that ignores Range answers 200 with the whole object: skip to the range.
  const skip = res.status === 200 ? offset : 0;
  if (skip === 0 && (length === undefined || res.status === 206)) return res.body;
  return sliceStream(res.body, skip, length);
}

/** HeadObject: the size, or -1 when there is no such object. */
export async function headSize(
  t: S3Transport,
  name: string,
  ctx?: OperationContext,
): Promise<QueryResult> {
  await t.ready(ctx);
  const head = await t.request({ method: "HEAD", key: t.key(name) }, ctx, [404]);
  if (head.status === 404) return { size: -1 };
  const size = Number(head.headers["content-length"]);
  return { size: Number.isSafeInteger(size) && size >= 0 ? size : null };
}
