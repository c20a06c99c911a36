/**
 * Puts from a local file: one PutObject for a file up to `uploadCutoff` (a
 * small file read whole, hashed and sent from memory; a larger one
 * streamed from the file), else a multipart upload whose parts
 * stream from the file by byte range, `concurrency` at a time, aborted on
 * the server when anything fails or the put is cancelled.
 *
 * The multipart upload is stowage's own rather than lib-storage's `Upload`:
 * that one buffers every part in memory, keeps uploading the remaining
 * parts after one failed, and returns from an abort before the server-side
 * abort has been sent.
 *
 * @module
 */

import type { OperationContext } from "../../core/backend.ts";
import { eachLimited } from "../../core/concurrency.ts";
import {
  cleanupMs,
  md5Of,
  md5OfRange,
  MultipartUpload,
  putBody,
  shrank,
  type WriterSettings,
} from "./multipart.ts";
import type { S3Transport } from "./transport.ts";

const MiB = 1024 * 1024;
/** Files up to this size are read whole and sent from memory. */
const SMALL_FILE = 256 * 1024;
/** S3's most parts per upload. */
export const MAX_PARTS = 10_000;

/**
 * Upload `size` bytes of `localPath` as `name`: one PutObject, or multipart
 * above `partSize`. Resolves once the store confirmed the whole object.
 */
export async function putFile(
  t: S3Transport,
  settings: WriterSettings,
  localPath: string,
  name: string,
  size: number,
  ctx?: OperationContext,
): Promise<void> {
  await t.ready(ctx);
  const key = t.key(name);
  if (size <= SMALL_FILE) {
    // Small: one read (one call into the runtime) serves the MD5 and the body.
    const body = await readSmall(localPath, size);
    const md5 = settings.contentMd5 ? await md5Of(body) : undefined;
    await putBody(t, settings, key, body, md5, ctx);
  } else if (size <= Math.max(settings.uploadCutoff, settings.partSize)) {
    const md5 = settings.contentMd5 ? await md5OfRange(localPath, 0, size, ctx) : undefined;
    await putBody(t, settings, key, { path: localPath, start: 0, length: size }, md5, ctx);
  } else {
    await putMultipart(t, settings, localPath, key, size, ctx);
  }
}

/** The part size for `size` bytes: `partSize`, raised to whole MiB when 10,000 parts would not do. */
export function partSizeFor(size: number, partSize: number): number {
  return Math.max(partSize, Math.ceil(size / MAX_PARTS / MiB) * MiB);
}

/**
 * A multipart upload: parts are byte ranges of the file, each streamed by
 * its own read (nothing buffered), `concurrency` at a time. On any failure
 * or abort the other parts stop and the upload is aborted on the server
 * before the error is thrown.
 */
async function putMultipart(
  t: S3Transport,
  settings: WriterSettings,
  localPath: string,
  key: string,
  size: number,
  ctx?: OperationContext,
): Promise<void> {
  const partSize = partSizeFor(size, settings.partSize);
  const count = Math.ceil(size / partSize);
  const upload = await MultipartUpload.create(t, settings, key, ctx);
  // Stops the other parts as soon as one fails; follows the attempt's signal.
  const stop = new AbortController();
  try {
    await eachLimited(
      Array.from({ length: count }, (_, i) => i),
      settings.concurrency,
      async (i) => {
        const start = i * partSize;
        const length = Math.min(partSize, size - start);
        const md5 = settings.contentMd5
          ? await md5OfRange(localPath, start, length, ctx, stop.signal)
          : undefined;
        const body = { path: localPath, start, length };
        await upload.part(i + 1, body, md5, ctx, stop.signal);
      },
      stop,
      ctx?.signal,
    );
    await upload.complete(count, ctx);
  } catch (err) {
    stop.abort();
    await upload.abort(cleanupMs(ctx));
    throw t.convert(err);
  }
}

/** The first `size` bytes of a small file, read whole; a shorter file is an error. */
async function readSmall(path: string, size: number): Promise<Uint8Array> {
  const bytes = await Deno.readFile(path);
  if (bytes.length < size) throw shrank();
  return bytes.length === size ? bytes : bytes.subarray(0, size);
}
