/**
 * The requests that write objects, shared by puts from a file (writer.ts)
 * and writes from a stream (stream_writer.ts): PutObject, and a multipart
 * upload's Create, UploadPart, Complete and Abort. Each body carries a
 * `Content-MD5` (option `contentMd5`), so the server rejects a body that
 * changed on the way.
 *
 * @module
 */

import type { OperationContext } from "../../core/backend.ts";
import { BackendError, ErrorCode } from "../../core/errors.ts";
import { Limiter } from "../../core/concurrency.ts";
import type { FileRangeBody } from "../../core/http1.ts";
import { xmlText } from "../../core/xml.ts";
import { errorAnswer } from "./error.ts";
import type { S3Settings } from "./options.ts";
import { uploadBuffers } from "./http.ts";
import type { S3Transport } from "./transport.ts";

/** The settings writes read. */
export type WriterSettings = Pick<
  S3Settings,
  | "partSize"
  | "uploadCutoff"
  | "concurrency"
  | "storageClass"
  | "sse"
  | "sseKmsKeyId"
  | "contentMd5"
>;

/** A body: bytes in memory, or a byte range of a local file. */
export type PartBody = Uint8Array | FileRangeBody;

/** Content type, storage class and encryption of a new object. */
function objectHeaders(settings: WriterSettings): Record<string, string> {
  const storageClass = settings.storageClass?.trim().toUpperCase();
  return {
    "content-type": "application/octet-stream",
    ...(storageClass ? { "x-amz-storage-class": storageClass } : {}),
    ...(settings.sse ? { "x-amz-server-side-encryption": settings.sse } : {}),
    ...(settings.sseKmsKeyId
      ? { "x-amz-server-side-encryption-aws-kms-key-id": settings.sseKmsKeyId }
      : {}),
  };
}

/**
 * PutObject: `body` (of `size` bytes) under `key`. Resolves once the store
 * answered 200 with an ETag: it holds exactly those bytes (and with a
 * Content-MD5, exactly that content).
 */
export async function putBody(
  t: S3Transport,
  settings: WriterSettings,
  key: string,
  body: PartBody,
  md5: string | undefined,
  ctx?: OperationContext,
): Promise<void> {
  const size = body instanceof Uint8Array ? body.byteLength : body.length;
  const answer = await t.request({
    method: "PUT",
    key,
    headers: {
      ...objectHeaders(settings),
      "content-length": String(size),
      ...(md5 ? { "content-md5": md5 } : {}),
    },
    body,
    unsignedBody: true,
  }, ctx);
  if (!answer.headers["etag"]) {
    throw new BackendError("the store accepted the upload but gave no ETag", {
      code: ErrorCode.backend_code_error,
    });
  }
}

/** One multipart upload: started by {@linkcode MultipartUpload.create}, then parts, then complete or abort. */
export class MultipartUpload {
  readonly #t: S3Transport;
  readonly #key: string;
  readonly #uploadId: string;
  readonly #etags: string[] = [];
  #aborted: Promise<void> | undefined;

  private constructor(t: S3Transport, key: string, uploadId: string) {
    this.#t = t;
    this.#key = key;
    this.#uploadId = uploadId;
  }

  /** CreateMultipartUpload for `key`. */
  static async create(
    t: S3Transport,
    settings: WriterSettings,
    key: string,
    ctx?: OperationContext,
  ): Promise<MultipartUpload> {
    const answer = await t.request({
      method: "POST",
      key,
      query: [["uploads", ""]],
      headers: objectHeaders(settings),
    }, ctx);
    const m = /<UploadId>([^<]+)<\/UploadId>/.exec(new TextDecoder().decode(answer.body));
    if (!m) {
      throw new BackendError("the store started a multipart upload without an upload id", {
        code: ErrorCode.backend_code_error,
      });
    }
    return new MultipartUpload(t, key, xmlText(m[1]!, { lenient: true }));
  }

  /** UploadPart `number` (from 1); `signal` stops it (default the attempt's). */
  async part(
    number: number,
    body: PartBody,
    md5: string | undefined,
    ctx?: OperationContext,
    signal?: AbortSignal,
  ): Promise<void> {
    const size = body instanceof Uint8Array ? body.byteLength : body.length;
    const answer = await this.#t.request({
      method: "PUT",
      key: this.#key,
      query: [["partNumber", String(number)], ["uploadId", this.#uploadId]],
      headers: { "content-length": String(size), ...(md5 ? { "content-md5": md5 } : {}) },
      body,
      unsignedBody: true,
      ...(signal ? { signal } : {}),
    }, ctx);
    const etag = answer.headers["etag"];
    if (!etag) {
      throw new BackendError(`the store answered part ${number} without an ETag`, {
        code: ErrorCode.backend_code_error,
      });
    }
    this.#etags[number - 1] = etag;
  }

  /**
   * CompleteMultipartUpload with the parts sent so far (1 to `count`). S3
   * may answer 200 and still fail (an `<Error>` body): that is an error too.
   */
  async complete(count: number, ctx?: OperationContext): Promise<void> {
    let xml = '<CompleteMultipartUpload xmlns="http://s3.amazonaws.com/doc/2006-03-01/">';
    for (let i = 0; i < count; i++) {
      const etag = this.#etags[i];
      if (!etag) {
        throw new BackendError(`part ${i + 1} of the upload is missing`, {
          code: ErrorCode.exception,
        });
      }
      xml += `<Part><ETag>${escapeXml(etag)}</ETag><PartNumber>${i + 1}</PartNumber></Part>`;
    }
    xml += "</CompleteMultipartUpload>";
    const answer = await this.#t.request({
      method: "POST",
      key: this.#key,
      query: [["uploadId", this.#uploadId]],
      headers: { "content-type": "application/xml" },
      body: new TextEncoder().encode(xml),
    }, ctx);
    const text = new TextDecoder().decode(answer.body);
    if (/<Error>/.test(text)) throw this.#t.convert(errorAnswer(500, answer.headers, text));
    if (!/<ETag>/.test(text)) {
      throw new BackendError("the store completed the upload without an ETag", {
        code: ErrorCode.backend_code_error,
      });
    }
  }

  /**
   * AbortMultipartUpload, once, best effort, within `timeoutMs` (the
   * attempt's own signal may be aborted already). A bucket lifecycle rule
   * (AbortIncompleteMultipartUpload) reclaims what a failed abort leaves.
   */
  abort(timeoutMs: number): Promise<void> {
    this.#aborted ??= this.#t.request(
      {
        method: "DELETE",
        key: this.#key,
        query: [["uploadId", this.#uploadId]],
        signal: AbortSignal.timeout(timeoutMs),
      },
      undefined,
      [404],
    ).then(() => {}, () => {});
    return this.#aborted;
  }
}

let nodeCrypto: Promise<typeof import("node:crypto")> | undefined;

/**
 * A new MD5 hash. `node:crypto` is loaded on the first upload only: it
 * costs a process about 4.5 MiB of memory, which gets and listings never
 * need (SigV4 signs without it).
 */
export async function md5(): Promise<import("node:crypto").Hash> {
  nodeCrypto ??= import("node:crypto");
  return (await nodeCrypto).createHash("md5");
}

/** The base64 MD5 of bytes (a `Content-MD5`). */
export async function md5Of(bytes: Uint8Array): Promise<string> {
  return (await md5()).update(bytes).digest("base64");
}

/**
 * Files hashed at once in this process: half the cores. Hashing is CPU
 * bound, so four uploads hashing together would all start late; in turn,
 * the first starts sending while the next is hashed.
 */
const hashing = new Limiter(Math.floor((navigator.hardwareConcurrency || 2) / 2));

/**
 * The base64 MD5 of `length` bytes of a file from `start`, read 256 KiB at a
 * time (at most half the cores' worth of files at once).
 */
export function md5OfRange(
  path: string,
  start: number,
  length: number,
  ctx?: OperationContext,
  signal?: AbortSignal,
): Promise<string> {
  return hashing.run(() => hashRange(path, { start, length }, ctx, signal));
}

async function hashRange(
  path: string,
  { start, length }: { start: number; length: number },
  ctx?: OperationContext,
  signal?: AbortSignal,
): Promise<string> {
  const hash = await md5();
  if (length > 0) {
    using file = await Deno.open(path);
    if (start) await file.seek(start, Deno.SeekMode.Start);
    const buf = uploadBuffers.take();
    let left = length;
    try {
      while (left > 0) {
        ctx?.signal.throwIfAborted();
        signal?.throwIfAborted();
        const n = await file.read(buf.subarray(0, Math.min(buf.length, left)));
        if (n === null) throw shrank();
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

/** The error for a local file that ended before the size read at the start. */
export function shrank(): BackendError {
  return new BackendError("the local file shrank while it was being uploaded", {
    code: ErrorCode.backend_error,
  });
}

/** Text for an XML element: `&`, `<`, `>`, and line breaks as references (a parser would change them). */
export function escapeXml(text: string): string {
  return text.replace(/[&<>\r\n]/g, (c) => XML_ESCAPES[c]!);
}

const XML_ESCAPES: Readonly<Record<string, string>> = {
  "&": "&amp;",
  "<": "&lt;",
  ">": "&gt;",
  "\r": "&#13;",
  "\n": "&#10;",
};

/**
 * How long clean-up after a failure may wait for the store (aborting a
 * multipart upload): the caller's timeout, else 30 s.
 */
export function cleanupMs(ctx?: OperationContext): number {
  return ctx?.timeout && ctx.timeout > 0 ? ctx.timeout : 30_000;
}
