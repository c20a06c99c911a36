/**
 * The SDK's request handlers: how a signed request leaves the process.
 * Bodiless requests go through the runtime's `fetch`
 * ({@linkcode fetchHandler}); an upload body ({@linkcode FileRange}) is
 * streamed from the file by {@linkcode Http1Client} ({@linkcode UploadHandler}).
 *
 * @module
 */

import { BufferPool } from "../../core/buffer_pool.ts";
import { BackendError, ErrorCode } from "../../core/errors.ts";
import { Http1Client } from "../../core/http1.ts";
import type { OperationContext } from "../../core/backend.ts";

/** The most an answer to an upload may hold (they are a few headers and a short XML document). */
const MAX_ANSWER_BYTES = 1024 * 1024;
/** How long an idle upload connection is reused (servers close idle keep-alive connections after ~5 s). */
const IDLE_REUSE_MS = 2000;

/**
 * Reused 256 KiB file buffers: uploads (through {@linkcode Http1Client}) and
 * part hashing read through these, so they make no garbage.
 */
export const uploadBuffers: BufferPool = new BufferPool(256 * 1024);

/** The parts of a signed SDK request that the handlers send. */
export interface SignedRequest {
  /** The method. */
  method: string;
  /** `http:` or `https:`. */
  protocol: string;
  /** The host name (an IPv6 address without brackets). */
  hostname: string;
  /** The port, when not the scheme's. */
  port?: number;
  /** The path, encoded as signed. */
  path: string;
  /** The query as signed. */
  query?: Record<string, string | string[] | null>;
  /** The signed headers. */
  headers: Record<string, string>;
  /** The body: none, a string, bytes, or a {@linkcode FileRange}. */
  body?: unknown;
}

/** What a handler answers the SDK. */
export interface HandlerAnswer {
  /** The answer. */
  response: {
    statusCode: number;
    reason: string;
    headers: Record<string, string>;
    body: unknown;
  };
}

/** A request handler for the SDK: `handle(request, { abortSignal })`. */
export interface FetchHandler {
  /** What the SDK asks of a handler. */
  metadata: { handlerProtocol: string };
  /** Send one signed request. */
  handle(request: SignedRequest, options?: { abortSignal?: AbortSignal }): Promise<HandlerAnswer>;
  /** Nothing to update. */
  updateHttpClientConfig(): void;
  /** No configuration. */
  httpHandlerConfigs(): Record<string, never>;
  /** Release connections. */
  destroy?(): void;
}

/**
 * A byte range of a local file as an upload body. The SDK signs it as
 * UNSIGNED-PAYLOAD (it is neither a string nor bytes) and passes it through
 * untouched to {@linkcode UploadHandler}, which sends it.
 */
export class FileRange {
  /** A range of `path`; progress goes to `ctx`. */
  constructor(
    readonly path: string,
    readonly start: number,
    readonly length: number,
    readonly ctx: OperationContext | undefined,
  ) {}
}

/**
 * Bodiless requests (GET, HEAD, DELETE) and small bodies go through the
 * runtime's own `fetch` rather than the SDK's node:http handler: under Deno,
 * node:http reads a response ahead without backpressure (memory grew with
 * the file: 245 MiB RSS for a 512 MiB get) and ran 2–3x slower. The request
 * is the SDK's, signed.
 */
export const fetchHandler: FetchHandler = {
  metadata: { handlerProtocol: "http/1.1" },
  async handle(request, options) {
    const body = request.body;
    if (
      body !== undefined && body !== null && typeof body !== "string" &&
      !(body instanceof Uint8Array)
    ) {
      throw new BackendError("internal: the fetch handler does not send streamed bodies", {
        code: ErrorCode.exception,
      });
    }
    const query = request.query ? buildQuery(request.query) : "";
    const port = request.port ? `:${request.port}` : "";
    const url = `${request.protocol}//${request.hostname}${port}${request.path}${
      query ? `?${query}` : ""
    }`;
    const headers = new Headers();
    for (const [k, v] of Object.entries(request.headers)) {
      if (k.toLowerCase() !== "host") headers.set(k, v);
    }
    // The object's bytes as stored: never let fetch decompress a Content-Encoding.
    headers.set("accept-encoding", "identity");
    const res = await fetch(url, {
      method: request.method,
      headers,
      ...(body !== undefined && body !== null && body !== ""
        ? { body: body as string | Uint8Array<ArrayBuffer> }
        : {}),
      redirect: "manual",
      ...(options?.abortSignal ? { signal: options.abortSignal } : {}),
    });
    const out: Record<string, string> = {};
    res.headers.forEach((v, k) => out[k] = v);
    return {
      response: {
        statusCode: res.status,
        reason: res.statusText,
        headers: out,
        // HEAD and 204 answers have no body: give the SDK an empty, finished stream.
        body: res.body ?? new ReadableStream({ start: (c) => c.close() }),
      },
    };
  },
  updateHttpClientConfig() {},
  httpHandlerConfigs() {
    return {};
  },
};

/**
 * The SDK request handler for uploads. A {@linkcode FileRange} body is sent
 * by {@linkcode Http1Client}, a minimal HTTP/1.1 client over `Deno.connect`
 * (and `Deno.startTls`, which verifies the certificate against Deno's trust
 * store): the file is read into one reused 256 KiB buffer and each chunk is
 * written to the socket before the next is read, so an upload makes no
 * garbage and memory stays flat however large the file. Deno's `fetch`
 * cannot do this (it sends a stream body chunked, which S3 refuses), and
 * under Deno the SDK's node:http handler buffered ahead and left every chunk
 * to the garbage collector (peak RSS 156–173 MiB for 256 MiB–1 GiB). Every
 * other request (create, complete, abort) goes through
 * {@linkcode fetchHandler}.
 */
export class UploadHandler implements FetchHandler {
  /** What the SDK asks of a handler. */
  readonly metadata = { handlerProtocol: "http/1.1" };
  readonly #client = new Http1Client({
    idleReuseMs: IDLE_REUSE_MS,
    maxAnswerBytes: MAX_ANSWER_BYTES,
    buffers: uploadBuffers,
  });

  /** Send a {@linkcode FileRange} body with Http1Client, anything else with fetch. */
  handle(request: SignedRequest, options?: { abortSignal?: AbortSignal }): Promise<HandlerAnswer> {
    if (!(request.body instanceof FileRange)) return fetchHandler.handle(request, options);
    return this.#upload(request, request.body, options?.abortSignal);
  }

  /** Nothing to update. */
  updateHttpClientConfig(): void {}

  /** No configuration. */
  httpHandlerConfigs(): Record<string, never> {
    return {};
  }

  /** Close the idle connections (the SDK calls this from `client.destroy()`). */
  destroy(): void {
    this.#client.closeIdle();
  }

  async #upload(
    request: SignedRequest,
    body: FileRange,
    signal: AbortSignal | undefined,
  ): Promise<HandlerAnswer> {
    const port = request.port ? `:${request.port}` : "";
    const query = request.query ? buildQuery(request.query) : "";
    const headers = { ...request.headers };
    if (!Object.keys(headers).some((k) => k.toLowerCase() === "host")) {
      headers["host"] = `${request.hostname}${port}`;
    }
    const answer = await this.#client.send({
      url: new URL(`${request.protocol}//${bracketed(request.hostname)}${port}/`),
      target: `${request.path}${query ? `?${query}` : ""}`,
      method: request.method,
      headers,
      body: { path: body.path, start: body.start, length: body.length },
      ...(signal ? { signal } : {}),
      ...(body.ctx ? { onProgress: (n: number) => body.ctx!.progress(n) } : {}),
    });
    return {
      response: {
        statusCode: answer.status,
        reason: answer.reason,
        headers: answer.headers,
        body: answer.body,
      },
    };
  }
}

/** The SDK's query string: sorted keys, RFC 3986 escapes (what was signed). */
function buildQuery(query: Record<string, string | string[] | null>): string {
  const esc = (s: string) =>
    encodeURIComponent(s).replace(
      /[!'()*]/g,
      (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`,
    );
  const parts: string[] = [];
  for (const key of Object.keys(query).sort()) {
    const value = query[key];
    if (Array.isArray(value)) { for (const v of value) parts.push(`${esc(key)}=${esc(v)}`); }
    else parts.push(value || typeof value === "string" ? `${esc(key)}=${esc(value)}` : esc(key));
  }
  return parts.join("&");
}

/** A host name for a URL: an IPv6 address in brackets. */
function bracketed(hostname: string): string {
  return hostname.includes(":") && !hostname.startsWith("[") ? `[${hostname}]` : hostname;
}
