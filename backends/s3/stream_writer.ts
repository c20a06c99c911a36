/**
 * Writes from a stream (`_openWrite`): the bytes are gathered into parts of
 * `partSize`; a stream that ends within the first part is one PutObject,
 * a longer one a multipart upload whose parts go up while the next fills,
 * at most two in flight, so memory is bounded by three parts whatever the
 * size. Nothing is visible under the name until `close()` resolves; an
 * `abort()`, a failed part or a cancelled attempt aborts the multipart
 * upload on the server.
 *
 * @module
 */

import type { OperationContext } from "../../core/backend.ts";
import { abortError, BackendError, ErrorCode } from "../../core/errors.ts";
import { cleanupMs, md5Of, MultipartUpload, putBody, type WriterSettings } from "./multipart.ts";
import type { S3Transport } from "./transport.ts";
import { MAX_PARTS, partSizeFor } from "./writer.ts";

/** Parts uploading while the next one fills. */
const MAX_IN_FLIGHT = 2;
/** Without a known size, the part size doubles every this many parts (S3 allows 10,000). */
const PARTS_PER_DOUBLING = 2000;
/** Without a known size, the first part's buffer starts this small and doubles as bytes come. */
const FIRST_BUFFER = 1024 * 1024;

/**
 * A stream that stores what is written under `name` on `close()`. `size`,
 * when given, is the exact byte count (a different count fails the write).
 * `onStored(size)` is told the size once the store confirmed the object.
 */
export async function openUpload(
  t: S3Transport,
  settings: WriterSettings,
  name: string,
  size: number | undefined,
  ctx: OperationContext | undefined,
  onStored: (size: number) => void,
): Promise<WritableStream<Uint8Array>> {
  await t.ready(ctx);
  const key = t.key(name);
  const base = size === undefined ? settings.partSize : partSizeFor(size, settings.partSize);
  const inFlight = Math.max(1, Math.min(settings.concurrency, MAX_IN_FLIGHT));
  const stop = new AbortController();
  const free: Uint8Array[] = [];
  const running = new Set<Promise<void>>();
  let upload: Promise<MultipartUpload> | undefined;
  let failure: unknown;
  let buf: Uint8Array | undefined;
  let filled = 0;
  let parts = 0;
  let queued = 0;
  let total = 0;
  let finished = false;

  const partSize = (n: number) =>
    size === undefined ? base * 2 ** Math.floor((n - 1) / PARTS_PER_DOUBLING) : base;
  /** A buffer for the next part: no larger than what is left of a known size. */
  const room = (): Uint8Array => {
    const want = partSize(parts + 1);
    const n = size !== undefined
      ? Math.min(want, size - queued)
      : parts === 0
      ? Math.min(want, FIRST_BUFFER)
      : want;
    const reused = free.pop();
    if (reused?.length === n) return reused;
    free.length = 0; // another size: drop the others
    return new Uint8Array(n);
  };
  /** Send the filled buffer as the next part; waits while too many are in flight. */
  const flush = async (): Promise<void> => {
    const part = buf!;
    const length = filled;
    const number = ++parts;
    queued += length;
    buf = undefined;
    filled = 0;
    if (number > MAX_PARTS) {
      throw new BackendError(`the stream needs more than ${MAX_PARTS} parts`, {
        code: ErrorCode.backend_unsupported,
      });
    }
    upload ??= MultipartUpload.create(t, settings, key, ctx);
    const up = await upload;
    const body = part.subarray(0, length);
    const md5 = settings.contentMd5 ? await md5Of(body) : undefined;
    const job = up.part(number, body, md5, ctx, stop.signal)
      .then(() => void free.push(part), (err) => {
        failure ??= err;
        stop.abort();
      });
    running.add(job);
    job.finally(() => running.delete(job));
    while (running.size >= inFlight) await Promise.race(running);
    if (failure) throw failure;
  };
  /** Stop everything and abort the multipart upload on the server; every caller waits for it. */
  let discarding: Promise<void> | undefined;
  const discard = (): Promise<void> =>
    discarding ??= (async () => {
      finished = true;
      ctx?.signal.removeEventListener("abort", onAbort);
      stop.abort();
      await Promise.allSettled([...running]);
      if (upload) await (await upload.catch(() => undefined))?.abort(cleanupMs(ctx));
    })();
  const onAbort = () => void discard();
  ctx?.signal.addEventListener("abort", onAbort, { once: true });

  return new WritableStream<Uint8Array>({
    async write(chunk) {
      try {
        if (finished) throw ctx?.signal.aborted ? abortError(ctx.signal) : closedError();
        if (failure) throw failure;
        total += chunk.byteLength;
        if (size !== undefined && total > size) throw sizeError(total, size);
        let at = 0;
        while (at < chunk.byteLength) {
          // A full part goes up only when more bytes come: a stream that fits one part is one put.
          if (buf && filled === buf.length) {
            const want = partSize(parts + 1);
            if (buf.length < want) {
              const bigger = new Uint8Array(Math.min(want, buf.length * 2));
              bigger.set(buf);
              buf = bigger;
            } else await flush();
          }
          buf ??= room();
          const n = Math.min(buf.length - filled, chunk.byteLength - at);
          buf.set(chunk.subarray(at, at + n), filled);
          filled += n;
          at += n;
        }
      } catch (err) {
        await discard();
        throw t.convert(err);
      }
    },
    async close() {
      try {
        if (finished) throw ctx?.signal.aborted ? abortError(ctx.signal) : closedError();
        if (size !== undefined && total !== size) throw sizeError(total, size);
        if (!upload) {
          const body = (buf ?? new Uint8Array(0)).subarray(0, filled);
          const md5 = settings.contentMd5 ? await md5Of(body) : undefined;
          await putBody(t, settings, key, body, md5, ctx);
        } else {
          if (filled > 0) await flush();
          await Promise.all([...running]);
          if (failure) throw failure;
          await (await upload).complete(parts, ctx);
        }
        finished = true;
        ctx?.signal.removeEventListener("abort", onAbort);
        buf = undefined;
        free.length = 0;
        onStored(total);
      } catch (err) {
        await discard();
        throw t.convert(err);
      }
    },
    async abort() {
      await discard();
    },
  });
}

function sizeError(got: number, size: number): BackendError {
  return new BackendError(`the stream gave ${got} bytes, ${size} were announced`, {
    code: ErrorCode.user_error,
  });
}

function closedError(): BackendError {
  return new BackendError("the upload was stopped", { code: ErrorCode.backend_aborted });
}
