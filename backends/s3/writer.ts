/**
 * Uploads: one streamed PutObject for a file up to `partSize`, else
 * stowage's own multipart upload whose parts stream from the file by byte
 * range, `concurrency` at a time, aborted on the server when anything
 * fails. Each body and part carries a `Content-MD5` (option `contentMd5`).
 *
 * The multipart upload is stowage's own rather than lib-storage's `Upload`:
 * that one buffers every part in memory, keeps uploading the remaining
 * parts after one failed, and returns from an abort before the server-side
 * abort has been sent.
 *
 * @module
 */

import { createHash } from "node:crypto";
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  PutObjectCommand,
  type S3Client,
  type ServerSideEncryption,
  type StorageClass,
  UploadPartCommand,
} from "@aws-sdk/client-s3";
import type { OperationContext } from "../../core/backend.ts";
import { eachLimited } from "../../core/concurrency.ts";
import { BackendError, ErrorCode } from "../../core/errors.ts";
import { FileRange, uploadBuffers } from "./handlers.ts";
import type { S3Settings } from "./options.ts";
import type { S3Transport } from "./transport.ts";

const MiB = 1024 * 1024;
/** S3's most parts per upload. */
const MAX_PARTS = 10_000;
/** How long an abort of a multipart upload may take while the caller waits (the wrapper grants 5 s). */
const ABORT_TIMEOUT_MS = 4000;

/** The settings uploads read. */
export type WriterSettings = Pick<
  S3Settings,
  "partSize" | "concurrency" | "storageClass" | "sse" | "sseKmsKeyId" | "contentMd5"
>;

/** Upload `size` bytes of `localPath` as `name`: one PutObject, or multipart above `partSize`. */
export async function putObject(
  t: S3Transport,
  settings: WriterSettings,
  localPath: string,
  name: string,
  size: number,
  ctx?: OperationContext,
): Promise<void> {
  const client = await t.writer(ctx);
  if (size <= settings.partSize) {
    await putSingle(t, client, settings, localPath, name, size, ctx);
  } else {
    await putMultipart(t, client, settings, localPath, name, size, ctx);
  }
}

async function putSingle(
  t: S3Transport,
  client: S3Client,
  settings: WriterSettings,
  localPath: string,
  name: string,
  size: number,
  ctx?: OperationContext,
): Promise<void> {
  const md5 = settings.contentMd5 ? await md5OfRange(localPath, 0, size, ctx) : undefined;
  await t.send((o) =>
    client.send(
      new PutObjectCommand({
        ...objectParams(t, settings, name),
        Body: new FileRange(localPath, 0, size, ctx) as unknown as Uint8Array,
        ContentLength: size,
        ...(md5 ? { ContentMD5: md5 } : {}),
      }),
      o,
    ), ctx);
}

/**
 * A multipart upload: parts are byte ranges of the file, each streamed by
 * its own read (nothing buffered), `concurrency` at a time. On any failure
 * or abort the other parts stop and the upload is aborted on the server
 * before the error is thrown.
 */
async function putMultipart(
  t: S3Transport,
  client: S3Client,
  settings: WriterSettings,
  localPath: string,
  name: string,
  size: number,
  ctx?: OperationContext,
): Promise<void> {
  const partSize = Math.max(settings.partSize, Math.ceil(size / MAX_PARTS / MiB) * MiB);
  const count = Math.ceil(size / partSize);
  const created = await t.send(
    (o) => client.send(new CreateMultipartUploadCommand(objectParams(t, settings, name)), o),
    ctx,
  );
  const uploadId = created.UploadId;
  if (!uploadId) {
    throw new BackendError("the store started a multipart upload without an upload id", {
      code: ErrorCode.backend_code_error,
    });
  }
  const key = t.key(name);
  // Stops the other parts as soon as one fails; follows the attempt's signal.
  const stop = new AbortController();
  const onAbort = () => stop.abort(ctx?.signal.reason);
  ctx?.signal.addEventListener("abort", onAbort, { once: true });
  const etags: string[] = new Array(count);
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
        const part = await t.send(
          (o) =>
            client.send(
              new UploadPartCommand({
                Bucket: t.bucket,
                Key: key,
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
    await t.send((o) =>
      client.send(
        new CompleteMultipartUploadCommand({
          Bucket: t.bucket,
          Key: key,
          UploadId: uploadId,
          MultipartUpload: { Parts: etags.map((ETag, i) => ({ ETag, PartNumber: i + 1 })) },
        }),
        o,
      ), ctx);
  } catch (err) {
    stop.abort();
    await abortUpload(t, client, key, uploadId);
    throw t.convert(err);
  } finally {
    ctx?.signal.removeEventListener("abort", onAbort);
  }
}

/** Abort a multipart upload on the server, with its own short deadline (the attempt's signal may be aborted). */
async function abortUpload(
  t: S3Transport,
  client: S3Client,
  key: string,
  uploadId: string,
): Promise<void> {
  try {
    await t.send(
      (o) =>
        client.send(
          new AbortMultipartUploadCommand({ Bucket: t.bucket, Key: key, UploadId: uploadId }),
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

/** Bucket, key, storage class and encryption for a new object. */
function objectParams(t: S3Transport, settings: WriterSettings, name: string): {
  Bucket: string;
  Key: string;
  ContentType: string;
  StorageClass?: StorageClass;
  ServerSideEncryption?: ServerSideEncryption;
  SSEKMSKeyId?: string;
} {
  const storageClass = settings.storageClass?.trim().toUpperCase();
  return {
    Bucket: t.bucket,
    Key: t.key(name),
    ContentType: "application/octet-stream",
    ...(storageClass ? { StorageClass: storageClass as StorageClass } : {}),
    ...(settings.sse ? { ServerSideEncryption: settings.sse } : {}),
    ...(settings.sseKmsKeyId ? { SSEKMSKeyId: settings.sseKmsKeyId } : {}),
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
    const buf = uploadBuffers.take();
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
      uploadBuffers.give(buf);
    }
  }
  return hash.digest("base64");
}
