/**
 * One HTTP exchange on `node:http`/`node:https` (used for every request but
 * uploads and downloads on a verified connection, and for all of them with
 * `insecureSkipVerify`, which Deno's own TLS cannot do): the body is sent
 * from a string or streamed from a local file with `Content-Length`, and
 * the answer is handed over as soon as its headers arrive.
 *
 * @module
 */

import type { Buffer } from "node:buffer";
import { createReadStream, type ReadStream } from "node:fs";
import http from "node:http";
import https from "node:https";
import type { OperationContext } from "../../core/backend.ts";
import { abortError, BackendError, ErrorCode } from "../../core/errors.ts";
import { toBackendError } from "./error.ts";

/** What a request sends: a string, or a whole local file streamed. */
export type Body = string | { file: string; size: number };

/** What the redirect loop needs of an answer: `node:http`'s, or one from `Http1Client`. */
export interface Reply {
  /** The HTTP status. */
  statusCode?: number | undefined;
  /** The reason phrase. */
  statusMessage?: string | undefined;
  /** The answer's headers, names in lower case. */
  headers: Record<string, string | string[] | undefined>;
  /** Drain the body (nothing to do when it was read whole). */
  resume(): unknown;
}

/** One request for {@linkcode exchange}. */
export interface Exchange {
  /** The method. */
  method: string;
  /** Where to send it. */
  target: URL;
  /** Every header to send (credentials included); `Content-Length` is added. */
  headers: Record<string, string>;
  /** The body, if any. */
  body?: Body | undefined;
  /** The keep-alive agent for the target's protocol. */
  agent: http.Agent;
  /** The piece of a file body read and sent at once. */
  bufferSize: number;
  /** Progress and cancellation. */
  ctx?: OperationContext | undefined;
}

/** Whether an HTTP status is a success (2xx). */
export function isSuccess(status: number | undefined): boolean {
  return status !== undefined && status >= 200 && status < 300;
}

/**
 * Send one request; resolves when the answer's headers arrive (the caller
 * reads or drains the body). A request that failed on a kept-alive socket
 * the server had closed is marked `staleSocket` (safe to send again). An
 * abort closes the connection, so the server sees an upload end.
 */
export function exchange(x: Exchange): Promise<http.IncomingMessage> {
  const { method, target, body, ctx } = x;
  const signal = ctx?.signal;
  if (signal?.aborted) return Promise.reject(abortError(signal));
  const secure = target.protocol === "https:";
  const headers = { ...x.headers };
  const size = body === undefined
    ? 0
    : typeof body === "string"
    ? new TextEncoder().encode(body).length
    : body.size;
  if (body !== undefined || method === "PUT") headers["Content-Length"] = String(size);
  return new Promise<http.IncomingMessage>((resolve, reject) => {
    let settled = false;
    let file: ReadStream | undefined;
    let gotResponse = false;
    const options: https.RequestOptions = {
      method,
      protocol: target.protocol,
      hostname: target.hostname.replace(/^\[|\]$/g, ""),
      port: Number(target.port) || (secure ? 443 : 80),
      path: target.pathname + target.search,
      headers,
      agent: x.agent,
    };
    const req = secure ? https.request(options) : http.request(options);
    const fail = (err: unknown) => {
      file?.destroy();
      if (settled) return;
      settled = true;
      signal?.removeEventListener("abort", onAbort);
      reject(err);
    };
    const onAbort = () => {
      const reason = abortError(signal!);
      // Close the connection itself: the server must see the upload end.
      req.socket?.destroy();
      req.destroy(reason);
      fail(reason);
    };
    signal?.addEventListener("abort", onAbort, { once: true });
    req.on("error", (err: Error & { code?: string }) => {
      if (settled) return;
      const stale = !gotResponse && req.reusedSocket === true &&
        (err.code === "ECONNRESET" || err.code === "EPIPE");
      if (stale) Object.assign(err, { staleSocket: true });
      fail(toBackendError(err, method, signal));
    });
    req.on("response", (res: http.IncomingMessage) => {
      gotResponse = true;
      if (file && !file.readableEnded) {
        // An early answer (an error or a redirect): do not send the rest of the body,
        // and do not reuse this connection.
        file.destroy();
        res.once("end", () => req.destroy());
        res.once("close", () => req.destroy());
      }
      if (settled) {
        res.destroy();
        return;
      }
      settled = true;
      // Keep watching the signal while the caller reads the body.
      const onBodyAbort = () => {
        res.destroy(abortError(signal!));
        req.destroy();
      };
      signal?.removeEventListener("abort", onAbort);
      if (signal) {
        signal.addEventListener("abort", onBodyAbort, { once: true });
        res.once("close", () => signal.removeEventListener("abort", onBodyAbort));
      }
      resolve(res);
    });
    if (typeof body !== "object") {
      req.end(body);
      return;
    }
    // Stream the file, a buffer at a time, pausing while the socket is full. The last
    // piece goes with end(): Deno's node:https can stall when end() follows a write
    // on a reused TLS connection (as stream.pipe() does).
    if (body.size === 0) {
      req.end();
      return;
    }
    const stream = file = createReadStream(body.file, { highWaterMark: x.bufferSize });
    let sent = 0;
    stream.on("data", (chunk: string | Buffer) => {
      sent += chunk.length;
      ctx?.progress(chunk.length);
      if (sent > body.size) {
        stream.destroy(changedSize());
      } else if (sent === body.size) {
        req.end(chunk);
      } else if (!req.write(chunk)) {
        stream.pause();
        req.once("drain", () => stream.resume());
      }
    });
    stream.on("end", () => {
      if (sent < body.size) stream.destroy(changedSize());
    });
    stream.on("error", (err) => {
      req.destroy(err);
      fail(err);
    });
  });
}

/** Code 38: the answer ended early (`detail` says how far it got). */
export function connectionLost(detail?: string): BackendError {
  return new BackendError(
    `the connection closed before the answer was complete${detail ? ` (${detail})` : ""}`,
    { code: ErrorCode.connection_failed },
  );
}

/** Code 50: the local file grew or shrank while it was being sent. */
function changedSize(): BackendError {
  return new BackendError("the local file changed size during the upload", {
    code: ErrorCode.backend_error,
  });
}
