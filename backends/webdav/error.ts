/**
 * The one place WebDAV failures become error codes: HTTP answers by their
 * status (through `httpError`, `Retry-After` kept), a name the server finds
 * too long (code 59), TLS failures (code 60, through `core/tls.ts`, TLS to a
 * plain server included), fetch failures (code 38), a server that does not
 * speak HTTP (code 38, saying what it said), HTTP parse errors and premature
 * closes (code 38), aborts (code 61).
 *
 * @module
 */

import { abortError, BackendError, ErrorCode, isAbortError } from "../../core/errors.ts";
import { httpError } from "../../core/http.ts";
import { tlsErrorCode, tlsProblem, tlsReason } from "../../core/tls.ts";
import type { Reply } from "./exchange.ts";

/** Longest name most servers' file systems hold, in UTF-8 bytes. */
const NAME_MAX = 255;

/** Statuses a server answers for a name its file system cannot hold (Apache 403; rclone 403, 405, 500). */
const TOO_LONG_STATUSES: ReadonlySet<number> = new Set([400, 403, 405, 409, 500]);

/**
 * The code for an error the wrapper meets unconverted: TLS failures → 60;
 * HTTP parse errors and premature closes → 38; else `undefined` (the
 * wrapper then reads its errno).
 */
export function errorCode(err: unknown): ErrorCode | undefined {
  const tls = tlsErrorCode(err);
  if (tls !== undefined) return tls;
  const code = (err as { code?: unknown } | null | undefined)?.code;
  if (typeof code !== "string") return undefined;
  if (code.startsWith("HPE_") || code === "ERR_STREAM_PREMATURE_CLOSE") {
    return ErrorCode.connection_failed;
  }
  return undefined;
}

/**
 * A WebDAV failure as a {@linkcode BackendError}.
 *
 * @param err A thrown error, or an answer (`node:http`'s, `Http1Client`'s or
 * fetch's `Response`) whose status is not the one wanted: that becomes
 * "`METHOD` answered HTTP 404 Not Found" with the code for its status
 * (its body is drained).
 * @param method The request's method, for the message.
 * @param signal Once it has aborted, any failure is the abort (code 61).
 * @param about What the request was about: with `name`, a refusal of a
 * name longer than 255 bytes (403, 405, 500, ...; 414 for any name) is
 * code 59; with `folder` (the store's folder, for a listing), a 404 is
 * code 52 naming it.
 * @returns The error to throw: TLS failures → 60 naming `caFile`; fetch
 * failures → 38 ("connection refused", "connection reset"); BackendErrors,
 * aborts and errors carrying an errno or a code {@linkcode errorCode} knows
 * (socket errors, local file errors) unchanged, for the wrapper to map.
 */
export function toBackendError(
  err: unknown,
  method: string,
  signal?: AbortSignal,
  about: { name?: string | undefined; folder?: string | undefined } = {},
): BackendError | unknown {
  if (err instanceof Response || isReply(err)) {
    let status: number;
    let text: string;
    if (err instanceof Response) {
      status = err.status;
      text = `${status} ${err.statusText}`.trim();
    } else {
      err.resume();
      status = err.statusCode ?? 0;
      text = err.statusMessage ? `${status} ${err.statusMessage}` : String(status);
    }
    if (status === 404 && about.folder !== undefined) {
      return new BackendError(`the folder "${about.folder}" does not exist`, {
        code: ErrorCode.backend_not_found,
      });
    }
    return tooLong(status, text, method, about.name) ??
      httpError(status, `${method} answered HTTP ${text}`, err.headers);
  }
  if (signal?.aborted) return abortError(signal);
  if (err instanceof BackendError || isAbortError(err)) return err;
  const greeting = notHttp(err);
  if (greeting !== undefined) {
    return new BackendError(`the server does not speak HTTP on this port: it said ${greeting}`, {
      code: ErrorCode.connection_failed,
      cause: err,
    });
  }
  const tls = tlsReason(err, tlsDetail(err));
  if (tls !== undefined) {
    const fix = tlsProblem(err) === "untrusted" ? ", or insecureSkipVerify to skip the check" : "";
    return new BackendError(tls + fix, { code: ErrorCode.backend_untrusted_host, cause: err });
  }
  if (errorCode(err) !== undefined || hasErrno(err)) return err;
  if (err instanceof TypeError) {
    // fetch: "error sending request ..." with the socket's error as its cause.
    const text = chainText(err);
    const reason = /refused/i.test(text)
      ? "connection refused"
      : /reset/i.test(text)
      ? "connection reset"
      : "the connection failed";
    return new BackendError(reason, { code: ErrorCode.connection_failed, cause: err });
  }
  return err;
}

/**
 * Code 59 when the server refused a request about `name` because the name
 * is too long (414 always; the statuses servers give for a file-system
 * refusal when the name is over 255 bytes), else `undefined`.
 */
function tooLong(
  status: number,
  text: string,
  method: string,
  name: string | undefined,
): BackendError | undefined {
  const bytes = name === undefined ? 0 : new TextEncoder().encode(name).length;
  if (status !== 414 && !(bytes > NAME_MAX && TOO_LONG_STATUSES.has(status))) return undefined;
  return new BackendError(
    `${method} answered HTTP ${text}: the name is too long for the server (${bytes} bytes; most allow ${NAME_MAX})`,
    { code: ErrorCode.backend_unsupported },
  );
}

/** What a server that does not speak HTTP said first (quoted, printable), or `undefined`. */
function notHttp(err: unknown): string | undefined {
  const e = err as { code?: unknown; rawPacket?: unknown } | null | undefined;
  if (typeof e?.code !== "string" || !/^HPE_INVALID_(CONSTANT|VERSION|STATUS)$/.test(e.code)) {
    return undefined;
  }
  const raw = e.rawPacket instanceof Uint8Array ? e.rawPacket : new Uint8Array(0);
  const text = new TextDecoder().decode(raw.subarray(0, 200)).split(/\r?\n/)[0] ?? "";
  // deno-lint-ignore no-control-regex
  const printable = text.replace(/[\x00-\x1f\x7f]/g, "?").slice(0, 80);
  return printable ? JSON.stringify(printable) : "something that is not HTTP";
}

/** Whether `x` is an HTTP answer rather than an error. */
function isReply(x: unknown): x is Reply {
  return typeof x === "object" && x !== null && !(x instanceof Error) &&
    typeof (x as Reply).resume === "function" && typeof (x as Reply).headers === "object";
}

/** Whether an error carries an errno (Node's `code`, or one of Deno's error classes). */
function hasErrno(err: unknown): boolean {
  if (Object.values(Deno.errors).some((c) => err instanceof c)) return true;
  const code = (err as { code?: unknown } | null | undefined)?.code;
  return typeof code === "string" && /^E[A-Z0-9_]+$/.test(code);
}

/** The messages of an error and its causes, on one line. */
function chainText(err: unknown): string {
  const parts: string[] = [];
  for (let e: unknown = err, i = 0; e !== undefined && e !== null && i < 4; i++) {
    parts.push(e instanceof Error ? e.message : String(e));
    e = e instanceof Error ? e.cause : undefined;
  }
  return parts.join(": ");
}

/** What a TLS failure says in short: rustls' reason, Node's code, or the first words. */
function tlsDetail(err: unknown): string {
  const text = chainText(err);
  const peer = /invalid peer certificate: (\w+)/i.exec(text)?.[1];
  if (peer) return peer;
  const code = (err as { code?: unknown } | null | undefined)?.code;
  if (typeof code === "string" && code) return code;
  const first = text.split(": ").find((p) => /certificate|tls|ssl/i.test(p)) ?? text;
  return first.length > 80 ? `${first.slice(0, 77)}...` : first;
}
