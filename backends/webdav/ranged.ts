/**
 * Ranged reads for `_openRead`: one `GET` with a `Range` header (through
 * Deno's fetch when certificates are checked, else, and after a redirect,
 * through `node:http`), its body handed over as a stream with back
 * pressure. Exactly the bytes asked come out: a server that ignores `Range`
 * (200) has the leading bytes skipped, a 416 (the range starts past the
 * end) gives an empty stream, and a body that ends before its length is an
 * error (code 38), so the wrapper resumes from the byte reached. A
 * zero-length range asks `HEAD` (a missing file is still code 52).
 *
 * @module
 */

import type http from "node:http";
import { Readable } from "node:stream";
import type { OperationContext } from "../../core/backend.ts";
import { BackendError, ErrorCode } from "../../core/errors.ts";
import { emptyStream, type ReadRange } from "../../core/streams.ts";
import type { DavClient } from "./client.ts";
import { toBackendError } from "./error.ts";
import { connectionLost, isSuccess } from "./exchange.ts";

/** One answer to the ranged GET, whichever way it came. */
interface Answer {
  status: number;
  header(name: string): string | undefined;
  body: ReadableStream<Uint8Array> | null;
  /** Drop the answer's body (and so its connection). */
  discard(): Promise<void>;
  /** The answer as it came, for the error. */
  original: Response | http.IncomingMessage;
}

/**
 * Open the bytes `range` of `name`: resolves once the server has answered,
 * with a stream of exactly those bytes (fewer only at the end of the file).
 *
 * @throws {BackendError} 52 for a missing file, 59 for a name the server
 * finds too long, the code for any other refusal; 38 for a lost connection.
 */
export async function openRange(
  dav: DavClient,
  name: string,
  range: ReadRange,
  ctx?: OperationContext,
): Promise<ReadableStream<Uint8Array>> {
  const path = dav.pathOf(name);
  if (range.length === 0) {
    // No byte to ask for: HEAD says whether the file is there.
    const res = await dav.request("HEAD", path, { ctx });
    res.resume();
    if (!isSuccess(res.statusCode)) throw toBackendError(res, "HEAD", undefined, { name });
    return emptyStream();
  }
  const last = range.length === undefined ? "" : String(range.offset + range.length - 1);
  const headers = { Range: `bytes=${range.offset}-${last}` };
  const answer = await get(dav, path, headers, ctx);
  if (answer.status === 416) {
    // The range starts at or past the end: nothing to give.
    await answer.discard();
    return emptyStream();
  }
  if (answer.status !== 200 && answer.status !== 206) {
    await answer.discard();
    throw toBackendError(answer.original, "GET", undefined, { name });
  }
  const length = Number(answer.header("content-length") ?? NaN);
  let skip = 0;
  if (answer.status === 206) {
    const start = /^\s*bytes\s+(\d+)-/i.exec(answer.header("content-range") ?? "")?.[1];
    if (start !== undefined && Number(start) !== range.offset) {
      await answer.discard();
      throw new BackendError(
        `the server sent bytes from ${start} when asked for bytes from ${range.offset}`,
        { code: ErrorCode.backend_error },
      );
    }
  } else skip = range.offset; // Range ignored: the whole file comes
  return exactly(
    answer,
    skip,
    range.length ?? Infinity,
    Number.isFinite(length) ? length : -1,
    ctx,
  );
}

/** GET `path` with `headers`: fetch first, `node:http` for a redirect or `insecureSkipVerify`. */
async function get(
  dav: DavClient,
  path: string,
  headers: Record<string, string>,
  ctx?: OperationContext,
): Promise<Answer> {
  const fetched = dav.insecure ? undefined : await dav.fetch("GET", path, headers, ctx);
  if (fetched) {
    return {
      status: fetched.status,
      header: (n) => fetched.headers.get(n) ?? undefined,
      body: fetched.body,
      discard: () => fetched.body?.cancel().catch(() => {}) ?? Promise.resolve(),
      original: fetched,
    };
  }
  const res = await dav.request("GET", path, { headers, ctx });
  return {
    status: res.statusCode ?? 0,
    header: (n) => {
      const v = res.headers[n];
      return Array.isArray(v) ? v[0] : v;
    },
    body: Readable.toWeb(res) as ReadableStream<Uint8Array>,
    discard: () => {
      res.destroy();
      return Promise.resolve();
    },
    original: res,
  };
}

/**
 * The body less its first `skip` bytes, at most `limit` bytes of it; an
 * error when it ends before the `length` it announced (-1: unknown).
 */
function exactly(
  answer: Answer,
  skip: number,
  limit: number,
  length: number,
  ctx?: OperationContext,
): ReadableStream<Uint8Array> {
  const source = answer.body?.getReader();
  let received = 0;
  let given = 0;
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      while (true) {
        if (!source || given >= limit) {
          if (given >= limit) await source?.cancel().catch(() => {});
          return controller.close();
        }
        let r: ReadableStreamReadResult<Uint8Array>;
        try {
          r = await source.read();
        } catch {
          throw connectionLost(`got ${received} of ${length < 0 ? "?" : length} bytes`);
        }
        if (r.done) {
          if (length >= 0 && received < length) {
            throw connectionLost(`got ${received} of ${length} bytes`);
          }
          return controller.close();
        }
        let chunk = r.value;
        received += chunk.byteLength;
        if (skip > 0) {
          const drop = Math.min(skip, chunk.byteLength);
          skip -= drop;
          chunk = chunk.subarray(drop);
        }
        if (chunk.byteLength > limit - given) chunk = chunk.subarray(0, limit - given);
        if (chunk.byteLength === 0) continue;
        given += chunk.byteLength;
        ctx?.progress(chunk.byteLength);
        controller.enqueue(chunk);
        return;
      }
    },
    cancel(reason) {
      return source?.cancel(reason);
    },
  }, { highWaterMark: 0 });
}
