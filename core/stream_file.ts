/**
 * Writing a downloaded body into a local file at an offset: the piece a
 * ranged, parallel download is made of. A BYOB reader fills one reused
 * buffer, so memory does not grow with the file; progress is reported per
 * chunk; an abort cancels the body; a short body is an error.
 *
 * @example
 * ```ts
 * import { writeStreamToFile } from "@stowage/backends";
 * const path = await Deno.makeTempFile();
 * const body = new Response("hello").body!;
 * await writeStreamToFile(body, path, { length: 5 });
 * console.log(await Deno.readTextFile(path)); // hello
 * ```
 *
 * @module
 */

import { BackendError, ErrorCode } from "./errors.ts";

/** Options for {@linkcode writeStreamToFile}. */
export interface WriteStreamOptions {
  /** Where in the file the body goes; default 0. The file must already exist. */
  offset?: number;
  /** The bytes the body must have; a different count is an error (code 38). Default: not checked. */
  length?: number;
  /** Cancels the body and fails the write. */
  signal?: AbortSignal;
  /** Called with each chunk's size after it is on disk. */
  progress?: (bytes: number) => void;
  /** Size of the reused read buffer; default 256 KiB. */
  bufferSize?: number;
}

/**
 * Write `body` into the existing file at `localPath` from `offset`, and
 * return the bytes written.
 */
export async function writeStreamToFile(
  body: ReadableStream<Uint8Array>,
  localPath: string,
  options: WriteStreamOptions = {},
): Promise<number> {
  const { offset = 0, length, signal, progress } = options;
  let byob: ReadableStreamBYOBReader | undefined;
  let plain: ReadableStreamDefaultReader<Uint8Array> | undefined;
  try {
    byob = body.getReader({ mode: "byob" });
  } catch {
    plain = body.getReader(); // not a byte stream
  }
  const reader = byob ?? plain!;
  const onAbort = () => reader.cancel(signal?.reason).catch(() => {});
  signal?.addEventListener("abort", onAbort, { once: true });
  let file: Deno.FsFile | undefined;
  let buf = new ArrayBuffer(options.bufferSize ?? 256 * 1024);
  let bytes = 0;
  let finished = false;
  try {
    signal?.throwIfAborted();
    file = await Deno.open(localPath, { write: true });
    if (offset) await file.seek(offset, Deno.SeekMode.Start);
    while (true) {
      const { value, done } = byob ? await byob.read(new Uint8Array(buf)) : await plain!.read();
      signal?.throwIfAborted();
      if (done || !value) break;
      let off = 0;
      while (off < value.length) off += await file.write(value.subarray(off));
      bytes += value.length;
      progress?.(value.length);
      if (byob) buf = value.buffer as ArrayBuffer;
    }
    finished = true;
  } finally {
    signal?.removeEventListener("abort", onAbort);
    if (!finished) await reader.cancel().catch(() => {});
    reader.releaseLock();
    file?.close();
  }
  if (length !== undefined && bytes !== length) {
    throw new BackendError(`the download ended after ${bytes} of ${length} bytes`, {
      code: ErrorCode.connection_failed,
    });
  }
  return bytes;
}
