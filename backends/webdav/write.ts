/**
 * Streamed writes for `_openWrite`: one `PUT` to a hidden temporary name on
 * `node:http`, its body written as the caller writes (with the
 * `Content-Length` when the size is known, else chunked), each write
 * waiting while the connection is full (back pressure: memory stays
 * bounded whatever the size); `close()` ends the body, waits for the answer
 * and `MOVE`s the file onto its name. A failed write, an early refusal from
 * the server, `abort()` or an aborted signal drops the connection and
 * deletes the temporary file.
 *
 * @module
 */

import type http from "node:http";
import type { OperationContext } from "../../core/backend.ts";
import { abortError, BackendError, ErrorCode } from "../../core/errors.ts";
import { tempName } from "../../core/names.ts";
import type { DavClient } from "./client.ts";
import { toBackendError } from "./error.ts";
import { isSuccess } from "./exchange.ts";
import type { Uploader } from "./upload.ts";

/**
 * A stream that uploads into a temporary file and moves it onto `name` on
 * `close()`; nothing appears under `name` before that.
 *
 * @param size The exact number of bytes that will be written, when known.
 */
export async function openUpload(
  dav: DavClient,
  uploads: Uploader,
  name: string,
  size: number | undefined,
  ctx?: OperationContext,
): Promise<WritableStream<Uint8Array>> {
  await uploads.ensureFolder(ctx);
  const tmp = tempName(name);
  const headers: Record<string, string> = { "Content-Type": "application/octet-stream" };
  if (size !== undefined) headers["Content-Length"] = String(size);
  const req = await dav.openRequest("PUT", dav.pathOf(tmp), headers);
  const signal = ctx?.signal;
  const put = new StreamedPut(req, signal);
  let written = 0;
  let done = false;
  /** Drop the request and delete the temporary file, once. */
  const discard = async () => {
    if (done) return;
    done = true;
    put.drop();
    await uploads.discard(tmp, ctx);
  };
  /** Run a step of the upload; a failure discards it. */
  const step = async (fn: () => Promise<void>) => {
    try {
      await fn();
    } catch (err) {
      await discard();
      throw err;
    }
  };
  return new WritableStream<Uint8Array>({
    write: (chunk) =>
      step(async () => {
        if (size !== undefined && written + chunk.byteLength > size) throw changedSize(size);
        written += chunk.byteLength;
        await put.write(chunk);
        ctx?.progress(chunk.byteLength);
      }),
    close: () =>
      step(async () => {
        if (size !== undefined && written !== size) throw changedSize(size);
        await put.end();
        signal?.throwIfAborted();
        await uploads.commit(tmp, name, ctx);
        done = true;
      }),
    abort: discard,
  });
}

/** One `node:http` request whose body is written piece by piece, watched for an answer, errors and the signal. */
class StreamedPut {
  readonly #req: http.ClientRequest;
  readonly #signal: AbortSignal | undefined;
  readonly #answer: Promise<http.IncomingMessage>;
  /** The answer, once it came. */
  #res: http.IncomingMessage | undefined;
  /** The request's failure, once it failed. */
  #failure: unknown;
  #ended = false;
  /** Wakes a write waiting for `drain` when anything else happens. */
  #wake: (() => void) | undefined;

  constructor(req: http.ClientRequest, signal: AbortSignal | undefined) {
    this.#req = req;
    this.#signal = signal;
    this.#answer = new Promise((resolve, reject) => {
      req.on("response", (res: http.IncomingMessage) => {
        this.#res = res;
        this.#wake?.();
        resolve(res);
      });
      req.on("error", (err) => {
        this.#failure ??= err;
        this.#wake?.();
        reject(err);
      });
    });
    this.#answer.catch(() => {});
    signal?.addEventListener("abort", this.#onAbort, { once: true });
  }

  /**
   * Write one piece; resolves once it has gone to the connection (so the
   * caller may reuse its buffer), and no sooner than the connection can
   * take more.
   */
  async write(chunk: Uint8Array): Promise<void> {
    this.#check();
    await new Promise<void>((resolve) => {
      let flushed = false;
      let drained = false;
      const go = () => {
        if (!flushed || !drained) return;
        this.#req.off("drain", onDrain);
        this.#wake = undefined;
        resolve();
      };
      const onDrain = () => {
        drained = true;
        go();
      };
      this.#wake = () => {
        flushed = drained = true;
        go();
      };
      drained = this.#req.write(chunk, () => {
        flushed = true;
        go();
      });
      if (!drained) this.#req.on("drain", onDrain);
    });
    this.#check();
  }

  /** End the body and wait for a successful answer (its body drained). */
  async end(): Promise<void> {
    this.#check();
    this.#ended = true;
    this.#req.end();
    let res: http.IncomingMessage;
    try {
      res = await this.#answer;
    } catch (err) {
      throw toBackendError(err, "PUT", this.#signal);
    } finally {
      this.#signal?.removeEventListener("abort", this.#onAbort);
    }
    if (!isSuccess(res.statusCode)) throw toBackendError(res, "PUT");
    res.resume();
  }

  /** Close the connection (the server sees the upload end). */
  drop(): void {
    this.#signal?.removeEventListener("abort", this.#onAbort);
    this.#res?.destroy();
    this.#req.socket?.destroy();
    this.#req.destroy();
  }

  readonly #onAbort = (): void => {
    this.#failure ??= abortError(this.#signal!);
    this.drop();
    this.#wake?.();
  };

  /** Throw what went wrong so far: the abort, a failed connection, or an answer before the end. */
  #check(): void {
    if (this.#signal?.aborted) throw abortError(this.#signal);
    if (this.#failure !== undefined) throw toBackendError(this.#failure, "PUT", this.#signal);
    if (this.#res && !this.#ended) {
      if (!isSuccess(this.#res.statusCode)) throw toBackendError(this.#res, "PUT");
      throw new BackendError("the server answered before the upload was complete", {
        code: ErrorCode.backend_error,
      });
    }
  }
}

/** Code 23: the caller wrote more or fewer bytes than the size it announced. */
function changedSize(size: number): BackendError {
  return new BackendError(`the source did not hold the ${size} bytes announced`, {
    code: ErrorCode.user_error,
  });
}
