/**
 * The one place WebDAV failures become error codes: HTTP answers by their
 * status (through `httpError`, `Retry-After` kept), TLS failures (code 60,
 * through `core/tls.ts`), fetch failures (code 38), HTTP parse errors and
 * premature closes (code 38), aborts (code 61).
 *
 * @module
 */

import { abortError, BackendError, ErrorCode, isAbortError } from "../../core/errors.ts";
import { httpError } from "../../core/http.ts";
import { tlsErrorCode, tlsProblem, tlsReason } from "../../core/tls.ts";
import type { Reply } from "./exchange.ts";

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
 * @returns The error to throw: TLS failures → 60 naming `caFile`; fetch
 * failures → 38 ("connection refused", "connection reset"); BackendErrors,
 * aborts and errors carrying an errno or a code {@linkcode errorCode} knows
 * (socket errors, local file errors) unchanged, for the wrapper to map.
 */
export function toBackendError(
  err: unknown,
  method: string,
  signal?: AbortSignal,
): BackendError | unknown {
  if (err instanceof Response) {
    const text = `${err.status} ${err.statusText}`.trim();
    return httpError(err.status, `${method} answered HTTP ${text}`, err.headers);
  }
  if (isReply(err)) {
    err.resume();
    const status = err.statusCode ?? 0;
    const text = err.statusMessage ? `${status} ${err.statusMessage}` : String(status);
    return httpError(status, `${method} answered HTTP ${text}`, err.headers);
  }
  if (signal?.aborted) return abortError(signal);
  if (err instanceof BackendError || isAbortError(err)) return err;
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
