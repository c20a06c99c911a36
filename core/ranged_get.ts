/**
 * Ranged, parallel downloads: one object fetched as several byte ranges at
 * once, each body written straight into the local file at its offset. The
 * shape object stores (S3, Azure Blob, GCS) reward: a few long streams in
 * parallel go faster than one, and memory stays flat whatever the object or
 * range size: each body is read through one reused buffer (see
 * {@linkcode writeStreamToFile}), or, with `pipe` for bodies that are
 * `fetch` answers, piped straight into its own handle on the file, which
 * Deno does without handing the chunks to JavaScript at all (a 1 GiB get
 * then adds a few MiB to the process instead of 10 to 15).
 *
 * A backend asks for the first range itself (its answer tells the total
 * size and the version to pin the other ranges to), then hands that answer
 * and a `fetchRange` callback to {@linkcode rangedDownload}, which plans the
 * other ranges, runs them a bounded number at a time
 * ({@linkcode eachLimited}), stops them all at the first failure or abort,
 * and checks the length of every range and of the finished file.
 *
 * @example
 * ```ts
 * import { rangedDownload } from "./ranged_get.ts";
 *
 * const data = new TextEncoder().encode("hello, ranged world");
 * const slice = (offset: number, length: number) =>
 *   new Response(data.slice(offset, offset + length)).body!;
 * const path = await Deno.makeTempFile();
 * // The first answer (bytes 0-4) was fetched already and told the total size.
 * await rangedDownload({
 *   localPath: path,
 *   size: data.length,
 *   first: { body: slice(0, 5), length: 5 },
 *   partSize: 4,
 *   concurrency: 3,
 *   fetchRange: (offset, length) => Promise.resolve(slice(offset, length)),
 * });
 * console.log(await Deno.readTextFile(path)); // hello, ranged world
 * ```
 *
 * @module
 */

import type { OperationContext } from "./backend.ts";
import { eachLimited } from "./concurrency.ts";
import { abortError, BackendError, ErrorCode } from "./errors.ts";
import { contentRangeTotal } from "./http.ts";
import { writeStreamToFile } from "./stream_file.ts";
import { emptyStream } from "./streams.ts";

/** How often the bytes written are reported, at most (more often under a short timeout). */
const PROGRESS_MS = 200;

/** An answer already received that holds the object's first bytes. */
export interface FirstRange {
  /** The answer's body: the object's bytes from offset 0 (`null` when it has none). */
  body: ReadableStream<Uint8Array> | null;
  /** How many bytes the body holds (its `Content-Length`); the rest is fetched in ranges. */
  length: number;
}

/** What {@linkcode rangedDownload} needs. */
export interface RangedDownloadOptions {
  /** The local file to write: created, or truncated when it exists, before anything is written. */
  localPath: string;
  /** The object's total size in bytes (from the first answer's `Content-Range`, or a HEAD). */
  size: number;
  /**
   * The answer that gave `size`, when the backend asked for the first bytes
   * already: its body is written at offset 0, and ranges start after it.
   * Without it the whole object is fetched through `fetchRange`. Its body
   * is always consumed or cancelled.
   */
  first?: FirstRange;
  /** The smallest range asked for, in bytes (a backend's part or block size). */
  partSize: number;
  /**
   * The most bodies in flight at once, `first` included (at least 1 is
   * used). What `first` does not hold is split into this many equal ranges,
   * each at least `partSize`: fewer, longer requests beat many short ones,
   * and memory does not depend on a range's length.
   */
  concurrency: number;
  /**
   * Ask for `length` bytes from `offset` and resolve with the answer's body.
   * Pin the request to the version the first answer came from (`If-Match`
   * with its ETag), so that an object replaced during the download fails
   * the attempt instead of mixing two versions. Stop when `signal` aborts:
   * it fires at the first failure of any range, and when `ctx.signal` does.
   * Throw the backend's own error for a failed request; it is rethrown as is.
   */
  fetchRange(
    offset: number,
    length: number,
    signal: AbortSignal,
  ): Promise<ReadableStream<Uint8Array> | null>;
  /**
   * The operation's context: `progress(bytes)` as bytes land in the file
   * (per chunk; with `pipe`, a few times a second and often enough for
   * `ctx.timeout`); its `signal` stops everything.
   */
  ctx?: OperationContext;
  /** Size of the read buffer of each body; default 256 KiB (unused with `pipe`). */
  bufferSize?: number;
  /**
   * The bodies (`first` and `fetchRange`'s) are `fetch` answers: pipe each
   * into its own file handle, which Deno does in native code, and check its
   * length by the handle's position. Only for `fetch` bodies: Deno 2 keeps
   * the chunks of other streams piped into a file until the file's stream
   * closes, so their lengths would not check out (code 38). Default `false`.
   */
  pipe?: boolean;
}

/** What {@linkcode pinnedDownload} needs. */
export interface PinnedDownloadOptions {
  /** The local file to write. */
  localPath: string;
  /**
   * The answer to a GET of the first `partSize` bytes (`Range: bytes=0-…`),
   * or of the whole object when it is empty (byte 0 of nothing is 416):
   * its `Content-Range` (else `Content-Length`) gives the size, its `ETag`
   * the version every other range is pinned to.
   */
  first: Response;
  /** The part size, as for {@linkcode rangedDownload}. */
  partSize: number;
  /** The most bodies in flight, as for {@linkcode rangedDownload}. */
  concurrency: number;
  /**
   * GET `range` (`bytes=a-b`) with `If-Match: etag` when there is an ETag;
   * resolves with the answer (a failure throws the backend's own error).
   */
  get(range: string, etag: string | undefined, signal: AbortSignal): Promise<Response>;
  /** The operation's context, as for {@linkcode rangedDownload}. */
  ctx?: OperationContext;
  /** What is downloaded, for the error when the answer has no length; default "the object". */
  what?: string;
}

/**
 * Download an HTTP object (S3, Azure) whose first bytes already came in
 * `first`: the rest as ranges pinned to `first`'s ETag, written in parallel
 * through {@linkcode rangedDownload} (`pipe`: `fetch` answers). An answer
 * that gives no length is code 50 (retried); any other failure is thrown
 * as {@linkcode rangedDownload} throws it, for the backend to map.
 */
export async function pinnedDownload(options: PinnedDownloadOptions): Promise<void> {
  const { first, ctx } = options;
  const length = Number(first.headers.get("content-length") ?? NaN);
  const size = contentRangeTotal(first.headers.get("content-range")) ?? length;
  if (!Number.isSafeInteger(size) || !Number.isSafeInteger(length)) {
    await first.body?.cancel().catch(() => {});
    throw new BackendError(`the server sent no length for ${options.what ?? "the object"}`, {
      code: ErrorCode.backend_error,
    });
  }
  const etag = first.headers.get("etag") ?? undefined;
  await rangedDownload({
    localPath: options.localPath,
    size,
    // "bytes 0-0/0" (s3rver's answer for an empty object) promises a byte it cannot send.
    first: { body: first.body, length: size === 0 ? 0 : length },
    partSize: options.partSize,
    concurrency: options.concurrency,
    pipe: true, // fetch answers: Deno pipes them into the file without JavaScript
    fetchRange: async (offset, length, signal) =>
      (await options.get(`bytes=${offset}-${offset + length - 1}`, etag, signal)).body,
    ...(ctx ? { ctx } : {}),
  });
}

/** One byte range still to fetch, or the first answer's body. */
interface Piece {
  offset: number;
  length: number;
  first: boolean;
}

/**
 * Download an object to `localPath` as byte ranges written in parallel at
 * their offsets, through {@linkcode writeStreamToFile} (or piped, with
 * `pipe`).
 *
 * Guarantees: the file is created (truncated) first; an empty object
 * (`size` 0) leaves an empty file and fetches nothing; each body must hold
 * exactly its range's length and the finished file exactly `size` bytes,
 * else the download fails with code 38 (`connection_failed`, retried). The
 * first failure aborts the other ranges, waits for them to settle, and is
 * thrown unchanged (map it to a code in the backend); an abort of
 * `ctx.signal` throws {@linkcode abortError} (code 61, or the signal's own
 * `BackendError` reason such as a timeout). The partial file is left for
 * the caller (the wrapper removes it).
 *
 * @param options What to fetch and where to write it.
 * @returns When the file holds the whole object.
 */
export async function rangedDownload(options: RangedDownloadOptions): Promise<void> {
  const { localPath, size, first, ctx } = options;
  const firstLength = first?.length ?? 0;
  let firstBody = first?.body ?? null;
  const dropFirst = async (): Promise<void> => {
    const body = firstBody;
    firstBody = null;
    await body?.cancel().catch(() => {});
  };
  if (!Number.isSafeInteger(size) || size < 0) {
    await dropFirst();
    throw new BackendError(`the server gave no usable size for the download (${size})`, {
      code: ErrorCode.backend_error,
    });
  }
  if (!Number.isSafeInteger(firstLength) || firstLength < 0 || firstLength > size) {
    await dropFirst();
    throw new BackendError(
      `the server's first answer holds ${firstLength} bytes of a ${size}-byte object`,
      { code: ErrorCode.backend_error },
    );
  }
  const stop = new AbortController();
  const onAbort = () => stop.abort(ctx?.signal.reason);
  ctx?.signal.addEventListener("abort", onAbort, { once: true });
  if (ctx?.signal.aborted) onAbort();
  try {
    ctx?.signal.throwIfAborted();
    (await Deno.open(localPath, { write: true, create: true, truncate: true })).close();
    if (size === 0 || firstLength === 0) await dropFirst();
    const pieces = planPieces(size, firstLength, options.partSize, options.concurrency);
    await eachLimited(pieces, options.concurrency, async (piece) => {
      let body: ReadableStream<Uint8Array> | null;
      if (piece.first) {
        body = firstBody;
        firstBody = null;
      } else {
        body = await options.fetchRange(piece.offset, piece.length, stop.signal);
      }
      if (options.pipe) {
        await pipeToFile(body ?? emptyStream(), localPath, piece.offset, piece.length, {
          signal: stop.signal,
          every: progressEvery(ctx?.timeout),
          ...(ctx ? { progress: (n: number) => ctx.progress(n) } : {}),
        });
        return;
      }
      await writeStreamToFile(body ?? emptyStream(), localPath, {
        offset: piece.offset,
        length: piece.length,
        signal: stop.signal,
        ...(options.bufferSize ? { bufferSize: options.bufferSize } : {}),
        ...(ctx ? { progress: (n: number) => ctx.progress(n) } : {}),
      });
    }, stop);
  } catch (err) {
    await dropFirst();
    if (ctx?.signal.aborted) throw abortError(ctx.signal);
    throw err;
  } finally {
    ctx?.signal.removeEventListener("abort", onAbort);
  }
  const got = (await Deno.stat(localPath)).size;
  if (got !== size) {
    throw new BackendError(`the download has ${got} of ${size} bytes`, {
      code: ErrorCode.connection_failed,
    });
  }
}

/** The first answer's body (when it holds bytes), then the rest in `concurrency` equal ranges of at least `partSize`. */
function planPieces(
  size: number,
  firstLength: number,
  partSize: number,
  concurrency: number,
): Piece[] {
  const pieces: Piece[] = [];
  if (size === 0) return pieces;
  if (firstLength > 0) pieces.push({ offset: 0, length: firstLength, first: true });
  const rest = size - firstLength;
  const step = Math.max(1, partSize, Math.ceil(rest / Math.max(1, concurrency)));
  for (let at = firstLength; at < size; at += step) {
    pieces.push({ offset: at, length: Math.min(step, size - at), first: false });
  }
  return pieces;
}

/**
 * Pipe `body` (a `fetch` answer's) into `localPath` at `offset` through a
 * handle of its own, and check that exactly `length` bytes landed (else
 * code 38). Progress is the handle's position, read every `every` ms while
 * the pipe runs. An abort of `signal` cancels the body.
 */
async function pipeToFile(
  body: ReadableStream<Uint8Array>,
  localPath: string,
  offset: number,
  length: number,
  options: { signal: AbortSignal; every: number; progress?: (bytes: number) => void },
): Promise<void> {
  const { signal, progress } = options;
  const file = await Deno.open(localPath, { write: true });
  let reported = offset;
  let reading: Promise<void> | undefined;
  const report = async (): Promise<void> => {
    const at = await file.seek(0, Deno.SeekMode.Current);
    if (at > reported) {
      progress?.(at - reported);
      reported = at;
    }
  };
  let timer: ReturnType<typeof setInterval> | undefined;
  try {
    if (offset) await file.seek(offset, Deno.SeekMode.Start);
    if (progress) {
      timer = setInterval(() => {
        reading ??= report().catch(() => {}).finally(() => reading = undefined);
      }, options.every);
    }
    await body.pipeTo(file.writable, { preventClose: true, signal });
    clearInterval(timer);
    await reading;
    await report();
    const got = reported - offset;
    if (got !== length) {
      throw new BackendError(`the download ended after ${got} of ${length} bytes`, {
        code: ErrorCode.connection_failed,
      });
    }
  } catch (err) {
    await body.cancel().catch(() => {});
    throw err;
  } finally {
    clearInterval(timer);
    await reading;
    try {
      file.close();
    } catch {
      // closed by the aborted pipe already
    }
  }
}

/** How often to report progress: at most every 200 ms, and four times per `timeout`. */
function progressEvery(timeout: number | undefined): number {
  return timeout ? Math.max(10, Math.min(PROGRESS_MS, Math.floor(timeout / 4))) : PROGRESS_MS;
}
