/**
 * A minimal HTTP/1.1 client over Deno sockets for uploads: the request body
 * is streamed from a byte range of a local file (or from bytes) through one
 * reused buffer with a real `Content-Length`, each piece written to the
 * socket before the next is read. Deno's `fetch` sends a stream body
 * chunked, which object stores (S3, Azure Blob) refuse, and a body given as
 * bytes must be held in memory whole; this keeps memory flat whatever the
 * file size and reports progress as bytes leave.
 *
 * TLS uses `Deno.startTls`, which verifies the certificate against Deno's
 * trust store (mapping a certificate failure to an error code is left to the
 * caller). Keep-alive connections are pooled and reused while fresh. The
 * answer is read while the body is still going, so a server that refuses
 * early is heard and the rest of the body is not sent. An abort closes the
 * connection, which ends everything in flight.
 *
 * @example
 * ```ts
 * import { Http1Client } from "./http1.ts";
 *
 * const client = new Http1Client();
 * try {
 *   const answer = await client.send({
 *     url: new URL("http://127.0.0.1:9000/bucket/key"),
 *     method: "PUT",
 *     headers: { "content-type": "application/octet-stream" },
 *     body: { path: "/tmp/file", start: 0, length: 1024 },
 *     onProgress: (n) => console.log(`${n} bytes sent`),
 *   });
 *   console.log(answer.status, answer.headers["etag"]);
 * } finally {
 *   client.closeIdle();
 * }
 * ```
 *
 * @module
 */

import { BufferPool } from "./buffer_pool.ts";
import { abortError, BackendError, ErrorCode } from "./errors.ts";
import { ConnReader, type Http1Answer, type RawAnswer, readAnswer } from "./http1_answer.ts";

export type { Http1Answer } from "./http1_answer.ts";

/** A byte range of a local file, sent as a request body. */
export interface FileRangeBody {
  /** The local file. */
  path: string;
  /** The first byte sent. */
  start: number;
  /** How many bytes are sent (the `Content-Length`). */
  length: number;
}

/** One request for {@linkcode Http1Client.send}. */
export interface Http1Request {
  /** `http:` or `https:` URL: where to connect, and (without `target`) the path and query sent. */
  url: URL;
  /**
   * The request target sent as it is (path and query, already encoded);
   * default the URL's path and query. Use it when the path must not be
   * normalized by `URL` (dot segments in object keys).
   */
  target?: string;
  /** The method, e.g. `PUT`. */
  method: string;
  /**
   * Header lines sent in this order. `host` is added when absent (the URL's
   * host), and `content-length` when absent (the body's length).
   */
  headers: Record<string, string>;
  /** The body: a file range (streamed), bytes, or none. */
  body?: FileRangeBody | Uint8Array;
  /**
   * Aborting closes the connection and rejects with `abortError(signal)`
   * (code 61, or the signal's own BackendError reason; `isAbortError` knows it).
   */
  signal?: AbortSignal;
  /** Called with the number of body bytes after each piece written to the socket. */
  onProgress?: (bytes: number) => void;
}

/** Options for {@linkcode Http1Client}. */
export interface Http1ClientOptions {
  /** How long an idle keep-alive connection is reused, in ms; default 2000 (servers drop idle ones after ~5 s). */
  idleReuseMs?: number;
  /** The most an answer body may hold, in bytes; default 1 MiB. */
  maxAnswerBytes?: number;
  /** The buffers bodies are read through; default a pool of 256 KiB buffers. */
  buffers?: BufferPool;
  /** PEM certificate authorities trusted for `https:` in addition to Deno's trust store; default none. */
  caCerts?: string[];
}

/** Bytes read from a file and written to the socket at once, by default. */
const SEND_CHUNK = 256 * 1024;

/** Thrown by `exchange` once answer bytes arrived: the request must not be sent again. */
class AnswerStarted extends Error {
  constructor(override readonly cause: unknown) {
    super("the answer was cut off");
  }
}

/**
 * An HTTP/1.1 client for uploads with a real `Content-Length` from a file
 * range, with a keep-alive pool. A request on a reused connection that the
 * server closed meanwhile (no answer byte received) is sent once more on a
 * fresh connection, the body read again.
 *
 * @example
 * ```ts
 * import { Http1Client } from "./http1.ts";
 *
 * const client = new Http1Client({ idleReuseMs: 4000 });
 * const answer = await client.send({
 *   url: new URL("http://127.0.0.1:10000/account/container/blob"),
 *   method: "PUT",
 *   headers: { "x-ms-blob-type": "BlockBlob" },
 *   body: new TextEncoder().encode("hello"),
 * });
 * client.closeIdle();
 * ```
 */
export class Http1Client {
  readonly #idle = new Map<string, { conn: Deno.Conn; since: number }[]>();
  readonly #idleReuseMs: number;
  readonly #maxAnswer: number;
  readonly #buffers: BufferPool;
  readonly #caCerts: string[] | undefined;

  /**
   * A client with no connection yet (it connects on the first request).
   *
   * @param options Reuse time, answer bound, buffer pool.
   */
  constructor(options: Http1ClientOptions = {}) {
    this.#idleReuseMs = options.idleReuseMs ?? 2000;
    this.#maxAnswer = options.maxAnswerBytes ?? 1024 * 1024;
    this.#buffers = options.buffers ?? new BufferPool(SEND_CHUNK);
    this.#caCerts = options.caCerts;
  }

  /**
   * Send one request and read its answer, whatever its status.
   *
   * @returns The answer, its body read in full.
   * @throws {BackendError} Code 38 when the answer is not HTTP/1.x, is cut
   * off or too large; code 50 when the local file is shorter than the range.
   * Socket and TLS errors are thrown as Deno raised them (the caller maps
   * them), an abort as `abortError(signal)` from `errors.ts`.
   */
  async send(request: Http1Request): Promise<Http1Answer> {
    const { url, signal } = request;
    const tls = url.protocol === "https:";
    const hostname = url.hostname.replace(/^\[(.*)\]$/, "$1");
    const port = Number(url.port || (tls ? 443 : 80));
    const where = `${tls ? "s" : ""}${hostname}:${port}`;
    const body = request.body ?? new Uint8Array(0);
    const target = request.target ?? `${url.pathname}${url.search}`;
    if (/[\s]/.test(target) || /[\s]/.test(request.method)) {
      throw new BackendError("internal: the request line holds white space", {
        code: ErrorCode.exception,
      });
    }
    let head = `${request.method} ${target} HTTP/1.1\r\n`;
    const names = new Set(Object.keys(request.headers).map((k) => k.toLowerCase()));
    if (!names.has("host")) head += `host: ${url.host}\r\n`;
    if (!names.has("content-length")) head += `content-length: ${body.length}\r\n`;
    for (const [k, v] of Object.entries(request.headers)) {
      if (/[\r\n]/.test(k + v)) {
        throw new BackendError("internal: a request header holds a line break", {
          code: ErrorCode.exception,
        });
      }
      head += `${k}: ${v}\r\n`;
    }
    head += "\r\n";
    for (let attempt = 0;; attempt++) {
      if (signal?.aborted) throw abortError(signal);
      const reused = attempt === 0 ? this.#takeIdle(where) : undefined;
      const conn = reused ?? await connect(hostname, port, tls, signal, this.#caCerts);
      let answer: RawAnswer;
      try {
        answer = await this.#exchange(conn, head, body, request);
      } catch (err) {
        closeQuietly(conn);
        if (signal?.aborted) throw abortError(signal);
        if (reused && !(err instanceof AnswerStarted)) continue;
        throw err instanceof AnswerStarted ? err.cause : err;
      }
      const { keepAlive, ...rest } = answer;
      if (keepAlive) {
        const list = this.#idle.get(where) ?? [];
        list.push({ conn, since: Date.now() });
        this.#idle.set(where, list);
      } else closeQuietly(conn);
      return rest;
    }
  }

  /** Close the idle connections (requests in flight keep theirs). */
  closeIdle(): void {
    for (const list of this.#idle.values()) for (const { conn } of list) closeQuietly(conn);
    this.#idle.clear();
  }

  /** An idle connection to `where` that is fresh enough to reuse; older ones are closed. */
  #takeIdle(where: string): Deno.Conn | undefined {
    const list = this.#idle.get(where);
    while (list?.length) {
      const { conn, since } = list.pop()!;
      if (Date.now() - since < this.#idleReuseMs) return conn;
      closeQuietly(conn);
    }
    return undefined;
  }

  /**
   * Send the head, then the body from a reused buffer; read the answer
   * meanwhile, so a server that refuses early is heard and the rest is not
   * sent. An abort closes the connection, which ends both.
   */
  async #exchange(
    conn: Deno.Conn,
    head: string,
    body: FileRangeBody | Uint8Array,
    request: Http1Request,
  ): Promise<RawAnswer> {
    const { signal, onProgress } = request;
    const onAbort = (): void => closeQuietly(conn);
    signal?.addEventListener("abort", onAbort, { once: true });
    const reader = new ConnReader(conn, this.#maxAnswer);
    let answered = false;
    try {
      const answer = readAnswer(reader, this.#maxAnswer, request.method)
        .finally(() => answered = true);
      const sent = (async (): Promise<number> => {
        await writeAll(conn, new TextEncoder().encode(head));
        if (body instanceof Uint8Array) {
          let at = 0;
          while (at < body.length && !answered) {
            const piece = body.subarray(at, at + this.#buffers.size);
            await writeAll(conn, piece);
            at += piece.length;
            onProgress?.(piece.length);
          }
          return body.length - at;
        }
        if (body.length === 0) return 0;
        using file = await Deno.open(body.path, { read: true });
        if (body.start) await file.seek(body.start, Deno.SeekMode.Start);
        const buf = this.#buffers.take();
        let left = body.length;
        try {
          while (left > 0 && !answered) {
            const n = await file.read(buf.subarray(0, Math.min(buf.length, left)));
            if (n === null) {
              throw new BackendError("the local file shrank while it was being uploaded", {
                code: ErrorCode.backend_error,
              });
            }
            await writeAll(conn, buf.subarray(0, n));
            left -= n;
            onProgress?.(n);
          }
        } finally {
          this.#buffers.give(buf);
        }
        return left;
      })();
      // Keep both promises handled whatever settles first.
      sent.catch(() => {});
      answer.catch(() => {});
      const first = await Promise.race([sent.then(() => "sent" as const), answer]);
      // An answer before the whole body (an error): the connection cannot be reused.
      if (first !== "sent") return { ...first, keepAlive: false };
      const left = await sent;
      const final = await answer;
      return left ? { ...final, keepAlive: false } : final;
    } catch (err) {
      if (reader.received > 0) throw new AnswerStarted(err);
      throw err;
    } finally {
      signal?.removeEventListener("abort", onAbort);
    }
  }
}

/** A TCP connection (TLS on top when `tls`, trusting `caCerts` when given), ended by `signal`. */
async function connect(
  hostname: string,
  port: number,
  tls: boolean,
  signal: AbortSignal | undefined,
  caCerts: string[] | undefined,
): Promise<Deno.Conn> {
  if (signal?.aborted) throw abortError(signal);
  const tcp = await Deno.connect({ hostname, port, ...(signal ? { signal } : {}) });
  // An abort during the TLS handshake closes the socket, which ends it.
  const onAbort = (): void => closeQuietly(tcp);
  signal?.addEventListener("abort", onAbort, { once: true });
  try {
    tcp.setNoDelay(true);
    if (signal?.aborted) throw abortError(signal);
    return tls ? await Deno.startTls(tcp, { hostname, ...(caCerts ? { caCerts } : {}) }) : tcp;
  } catch (err) {
    closeQuietly(tcp);
    throw signal?.aborted ? abortError(signal) : err;
  } finally {
    signal?.removeEventListener("abort", onAbort);
  }
}

/** Write all of `bytes`, waiting for the socket to take them (backpressure). */
async function writeAll(conn: Deno.Conn, bytes: Uint8Array): Promise<void> {
  let off = 0;
  while (off < bytes.length) off += await conn.write(bytes.subarray(off));
}

/** Close a connection that may be closed already. */
function closeQuietly(conn: Deno.Conn): void {
  try {
    conn.close();
  } catch {
    // already closed
  }
}
