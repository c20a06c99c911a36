/**
 * Reading and writing a stored file as a stream, for the wrapper's `read`
 * and `write`. A backend with `_openRead` / `_openWrite` streams natively
 * (ranged reads, uploads without a local copy); any other backend is served
 * through a temporary file (`_get`, then the range is streamed from it;
 * the source is spooled to disk, then `_put`). Either way:
 *
 * - a read that breaks mid-way is resumed from the byte reached (a ranged
 *   re-open), within the retry budget, never restarted from zero;
 * - a read that stalls for `timeout` ms is treated as broken (and resumed);
 * - a write is invisible under its name until it is complete, and retries
 *   only while it can replay what it sent: bytes, a function that reopens
 *   the source, or a one-shot stream whose sent part still fits the replay
 *   buffer; past that it fails clearly (code 59) instead of storing a gap.
 *
 * @module
 */

import type { Backend, OperationContext } from "./backend.ts";

export type { ReadRange } from "./backend.ts";
import { BackendError, ErrorCode, isAbortError, reasonOf } from "./errors.ts";
import { fileRangeStream } from "./local_file.ts";
import { noteStreamed } from "./garbage.ts";

/** Which bytes {@linkcode BackendWrapper.read} returns. */
export interface ReadOptions {
  /** First byte; default 0. */
  offset?: number;
  /** How many bytes at most; default to the end of the file. */
  length?: number;
  /** Cancels opening and reading. */
  signal?: AbortSignal;
}

/** What {@linkcode BackendWrapper.write} accepts as the file's content. */
export type WriteSource =
  | Uint8Array
  | string
  | ReadableStream<Uint8Array>
  | AsyncIterable<Uint8Array>
  | (() => ReadableStream<Uint8Array> | AsyncIterable<Uint8Array>);

/** Options of {@linkcode BackendWrapper.write}. */
export interface WriteOptions {
  /** The size, when known (lets a backend send one request with a `Content-Length`). */
  size?: number;
  /** Cancels the write; nothing is left under the name. */
  signal?: AbortSignal;
  /**
   * Bytes of a one-shot stream kept in memory so a failed attempt can be
   * replayed; default 8 MiB. A failure after more was sent is not retried.
   */
  replayBuffer?: number;
}

/** What the wrapper lends the stream functions. */
export interface StreamHost {
  /** The backend. */
  backend: Backend;
  /** Run one backend call with retries, the timeout and the signals. */
  run<T>(
    operation: string,
    subject: string,
    fn: (ctx: OperationContext) => Promise<T>,
    signal?: AbortSignal,
  ): Promise<T>;
  /** A full put (retries, temp name), for the spooled fallback. */
  put(localPath: string, name: string, signal?: AbortSignal): Promise<void>;
  /** A full get, for the temporary-file fallback. */
  get(name: string, localPath: string, signal?: AbortSignal): Promise<void>;
  /** Turn a failure into the wrapper's message for this operation. */
  fail(operation: string, name: string, err: unknown, attempts: number): BackendError;
  /** Attempts per operation. */
  maxAttempts: number;
  /** No-progress timeout in ms (0: none). */
  timeout: number;
}

const DEFAULT_REPLAY = 8 << 20;

/**
 * A stream of the bytes of `name` in the range asked. Opening happens before
 * this resolves (a missing name rejects with 52); reading resumes after
 * breaks as the module doc says.
 */
export async function openReadStream(
  host: StreamHost,
  name: string,
  options: ReadOptions = {},
): Promise<ReadableStream<Uint8Array>> {
  const offset = options.offset ?? 0;
  const length = options.length;
  if (!Number.isInteger(offset) || offset < 0) {
    throw new BackendError(`Cannot read "${name}": offset ${offset} is not a byte position`, {
      code: ErrorCode.user_error,
      operation: "read",
    });
  }
  if (length !== undefined && (!Number.isInteger(length) || length < 0)) {
    throw new BackendError(`Cannot read "${name}": length ${length} is not a byte count`, {
      code: ErrorCode.user_error,
      operation: "read",
    });
  }
  const signal = options.signal;
  const open = host.backend._openRead?.bind(host.backend);
  if (!open) return await readThroughTempFile(host, name, offset, length, signal);
  const openAt = (at: number, left: number | undefined) =>
    host.run(
      "read",
      name,
      (ctx) => open(name, left === undefined ? { offset: at } : { offset: at, length: left }, ctx),
      signal,
    );
  if (length === 0) {
    // Still ask, so a missing name is 52; then give nothing.
    const s = await openAt(offset, 0);
    await s.cancel().catch(() => {});
    return emptyStream();
  }
  let source = (await openAt(offset, length)).getReader();
  let got = 0;
  let resumes = 0;
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      while (true) {
        try {
          const r = await readWithin(source, host.timeout, signal);
          if (r.done) return controller.close();
          got += r.value.byteLength;
          noteStreamed(r.value.byteLength);
          controller.enqueue(r.value);
          return;
        } catch (err) {
          source.cancel().catch(() => {});
          if (signal?.aborted || isAbortError(err) || resumes + 1 >= host.maxAttempts) {
            throw host.fail("read", name, err, resumes + 1);
          }
          resumes++;
          const left = length === undefined ? undefined : length - got;
          if (left === 0) return controller.close();
          source = (await openAt(offset + got, left)).getReader();
        }
      }
    },
    cancel(reason) {
      return source.cancel(reason);
    },
  }, { highWaterMark: 1 });
}

/** One read, failing with code 57 when nothing arrives for `timeout` ms. */
function readWithin(
  reader: ReadableStreamDefaultReader<Uint8Array>,
  timeout: number,
  signal?: AbortSignal,
): Promise<ReadableStreamReadResult<Uint8Array>> {
  if (signal?.aborted) return Promise.reject(signal.reason);
  if (!timeout && !signal) return reader.read();
  return new Promise((resolve, reject) => {
    const timer = timeout
      ? setTimeout(() => {
        cleanup();
        reject(
          new BackendError(`no data for ${timeout / 1000} s; timed out`, {
            code: ErrorCode.backend_timeout,
          }),
        );
      }, timeout)
      : undefined;
    const onAbort = () => {
      cleanup();
      reject(signal!.reason);
    };
    const cleanup = () => {
      if (timer !== undefined) clearTimeout(timer);
      signal?.removeEventListener("abort", onAbort);
    };
    signal?.addEventListener("abort", onAbort, { once: true });
    reader.read().then((r) => {
      cleanup();
      resolve(r);
    }, (e) => {
      cleanup();
      reject(e);
    });
  });
}

/** The fallback: download to a temporary file, stream the range from it, remove it. */
async function readThroughTempFile(
  host: StreamHost,
  name: string,
  offset: number,
  length: number | undefined,
  signal?: AbortSignal,
): Promise<ReadableStream<Uint8Array>> {
  const dir = await Deno.makeTempDir({ prefix: "stowage-read-" });
  const path = `${dir}/file`;
  const drop = () => Deno.remove(dir, { recursive: true }).catch(() => {});
  try {
    await host.get(name, path, signal);
    return await fileRangeStream(path, offset, length, drop);
  } catch (err) {
    await drop();
    throw err;
  }
}

/** A source that can be read again from the start for each attempt, within limits. */
class Replayable {
  readonly #make: (() => AsyncIterable<Uint8Array>) | undefined;
  readonly #kept: Uint8Array[] = [];
  #keptBytes = 0;
  #iter: AsyncIterator<Uint8Array> | undefined;
  #overflow = false;
  #started = false;
  readonly #limit: number;

  constructor(source: WriteSource, limit: number) {
    this.#limit = limit;
    if (typeof source === "string") {
      const bytes = new TextEncoder().encode(source);
      this.#make = () => once(bytes);
    } else if (source instanceof Uint8Array) this.#make = () => once(source);
    else if (typeof source === "function") this.#make = () => iterate(source());
    else {
      this.#make = undefined;
      this.#iter = iterate(source)[Symbol.asyncIterator]();
    }
  }

  /** Whether a new attempt can start from the first byte. */
  get canReplay(): boolean {
    return this.#make !== undefined || !this.#overflow;
  }

  /** The chunks of one attempt, from the first byte. */
  async *chunks(): AsyncGenerator<Uint8Array> {
    if (this.#make) {
      yield* this.#make();
      return;
    }
    if (this.#started && this.#overflow) {
      throw new Error("the one-shot source cannot be replayed");
    }
    this.#started = true;
    for (const c of this.#kept) yield c;
    while (true) {
      const r = await this.#iter!.next();
      if (r.done) return;
      const chunk = r.value;
      if (!this.#overflow) {
        this.#keptBytes += chunk.byteLength;
        if (this.#keptBytes > this.#limit) {
          this.#overflow = true;
          this.#kept.length = 0;
        } else this.#kept.push(chunk);
      }
      yield chunk;
    }
  }
}

async function* once(bytes: Uint8Array): AsyncGenerator<Uint8Array> {
  for (let i = 0; i < bytes.byteLength; i += 1 << 20) yield bytes.subarray(i, i + (1 << 20));
}

function iterate(
  s: ReadableStream<Uint8Array> | AsyncIterable<Uint8Array>,
): AsyncIterable<Uint8Array> {
  return s as AsyncIterable<Uint8Array>; // ReadableStream is async-iterable in Deno
}

/**
 * Store `source` under `name`: natively through `_openWrite` when the
 * backend has it, else spooled to a temporary file and put.
 */
export async function writeFromSource(
  host: StreamHost,
  name: string,
  source: WriteSource,
  options: WriteOptions = {},
): Promise<void> {
  const open = host.backend._openWrite?.bind(host.backend);
  const signal = options.signal;
  if (!open) return await spoolAndPut(host, name, source, signal);
  const replay = new Replayable(source, options.replayBuffer ?? DEFAULT_REPLAY);
  let attempt = 0;
  await host.run("write", name, async (ctx) => {
    attempt++;
    if (attempt > 1 && !replay.canReplay) {
      throw new BackendError(
        `cannot retry: more of the one-shot stream was sent than the ${
          options.replayBuffer ?? DEFAULT_REPLAY
        }-byte replay buffer holds (pass bytes, or a function that reopens the source)`,
        { code: ErrorCode.backend_unsupported },
      );
    }
    const sink = await open(name, options.size === undefined ? {} : { size: options.size }, ctx);
    const writer = sink.getWriter();
    try {
      for await (const chunk of replay.chunks()) {
        if (ctx.signal.aborted) throw ctx.signal.reason;
        await writer.write(chunk);
        noteStreamed(chunk.byteLength);
        // Keeps the no-progress timer alive; the backend reports the bytes it sends.
        ctx.progress();
      }
      await writer.close();
    } catch (err) {
      await writer.abort(err).catch(() => {});
      throw err;
    }
  }, signal);
}

/** The fallback: spool the source to a temporary file (streaming), then put it. */
async function spoolAndPut(
  host: StreamHost,
  name: string,
  source: WriteSource,
  signal?: AbortSignal,
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "stowage-write-" });
  const path = `${dir}/spool`;
  try {
    const file = await Deno.open(path, { write: true, create: true, truncate: true });
    try {
      for await (const chunk of new Replayable(source, 0).chunks()) {
        if (signal?.aborted) throw signal.reason;
        let off = 0;
        while (off < chunk.byteLength) off += await file.write(chunk.subarray(off));
        noteStreamed(chunk.byteLength);
      }
    } finally {
      file.close();
    }
    await host.put(path, name, signal);
  } catch (err) {
    if (err instanceof BackendError) throw err;
    throw new BackendError(`Cannot write "${name}": ${reasonOf(err)}`, {
      code: isAbortError(err) ? ErrorCode.backend_aborted : ErrorCode.backend_error,
      operation: "write",
      cause: err,
    });
  } finally {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

/** A stream that ends at once, with no bytes. */
export function emptyStream(): ReadableStream<Uint8Array> {
  return new ReadableStream<Uint8Array>({ start: (c) => c.close() });
}

/**
 * The bytes of `body` from `skip` on, at most `length` of them (to its end
 * when `length` is undefined), for a server that sent more than the range
 * asked; once they are out, the rest of `body` is cancelled, never read.
 */
export function sliceStream(
  body: ReadableStream<Uint8Array>,
  skip: number,
  length: number | undefined,
): ReadableStream<Uint8Array> {
  const reader = body.getReader();
  let toSkip = skip;
  let left = length ?? Infinity;
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      while (true) {
        if (left <= 0) {
          await reader.cancel().catch(() => {});
          return controller.close();
        }
        const r = await reader.read();
        if (r.done) return controller.close();
        let chunk = r.value;
        if (toSkip >= chunk.byteLength) {
          toSkip -= chunk.byteLength;
          continue;
        }
        chunk = chunk.subarray(toSkip, toSkip + Math.min(left, chunk.byteLength - toSkip));
        toSkip = 0;
        left -= chunk.byteLength;
        return controller.enqueue(chunk);
      }
    },
    cancel: (reason) => reader.cancel(reason),
  }, { highWaterMark: 0 });
}
