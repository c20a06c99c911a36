/**
 * The one place where Azure's failures become error codes: HTTP answers
 * read by the backend itself (fetch, the upload client, Blob Batch
 * sub-answers) and failures without an answer (network, TLS through core/tls.ts). 404 → 52, 401/403 → 51 (not
 * retried), 429/503 → 58 and 5xx → retried, `Retry-After` kept; a name too
 * long (400 OutOfRangeInput) → 59; refused or dropped connections, and a
 * server that does not speak HTTP, → 38 (retried). Keys, SAS signatures
 * and URLs (which may carry a SAS) never reach a message.
 *
 * @module
 */

import { BackendError, errnoCode, ErrorCode, isAbortError } from "../../core/errors.ts";
import { httpError } from "../../core/http.ts";
import { tlsErrorCode, tlsReason } from "../../core/tls.ts";
import { xmlText } from "../../core/xml.ts";

/** The reason of a 404 ContainerNotFound answer. */
const CONTAINER_MISSING = "the container does not exist";

/** How to trust a private CA: Deno's trust store is the only one read. */
const CA_HINT = "DENO_CERT=/path/ca.pem (or DENO_TLS_CA_STORE=system)";

/** What the mapping may know about where an error came from. */
export interface AzureErrorContext {
  /**
   * The error came out of a request the backend sent itself (fetch, the
   * upload client, a body stream): without an HTTP answer it is a network
   * failure (38), whatever its type; one whose answer is not HTTP is 38
   * saying so, quoting `said`.
   */
  network?: boolean;
  /** The name the request was about, for messages (a blob with snapshots). */
  name?: string;
  /**
   * What the server sent unasked on connect (its greeting), for the message
   * when the failure is that it does not speak HTTP (see {@linkcode notHttp}).
   */
  said?: string;
}

/** An HTTP answer that is not a success, as read by the backend. */
export interface AzureAnswer {
  /** The status. */
  status: number;
  /** The storage error code (`x-ms-error-code`: `BlobNotFound`, `SnapshotsPresent`, ...). */
  errorCode?: string | undefined;
  /** The answer's headers (for `Retry-After`). */
  headers?: { get(name: string): string | null | undefined } | Record<string, string>;
  /** The answer's body: an XML error document, or empty. */
  body?: string;
}

/** The code for an HTTP or network error; `undefined` when it is none of these. */
export function errorCode(err: unknown): ErrorCode | undefined {
  const e = toBackendError(err);
  return e instanceof BackendError ? e.code : undefined;
}

/**
 * An error as a {@linkcode BackendError}: failures without an answer as
 * network errors (60 for TLS, the errno's code, else 38) — every error
 * when `context.network`, else only recognisable ones. A `BackendError` or
 * an abort is returned unchanged, and so is anything else.
 */
export function toBackendError(
  err: unknown,
  context: AzureErrorContext = {},
): BackendError | unknown {
  if (isAbortError(err)) return err;
  if (context.network && notHttp(err)) return notHttpError(err, context.said);
  if (err instanceof BackendError) return err;
  if (context.network || errnoCode(err) !== undefined || tlsErrorCode(err) !== undefined) {
    return networkError(err, chainText(err));
  }
  return err;
}

/**
 * An answer that is not a success as a {@linkcode BackendError}: code by
 * status, a short reason naming the storage code, the `<Message>` of the
 * body (scrubbed), `Retry-After` kept. A blob with snapshots (409
 * SnapshotsPresent) is code 23 naming the option that deletes them; a
 * failed If-Match (412 ConditionNotMet, sent only by pinned reads) says the
 * blob changed (code 50, retried). A name the server finds too long (400
 * OutOfRangeInput) is code 59, naming `context.name` only (never the
 * container or folder).
 */
export function answerError(
  answer: AzureAnswer,
  context: AzureErrorContext = {},
  message: string = xmlMessage(answer.body ?? ""),
  cause?: unknown,
): BackendError {
  const { status, errorCode: code } = answer;
  if (status === 409 && code === "SnapshotsPresent") {
    const what = context.name !== undefined ? `"${context.name}"` : "the blob";
    return new BackendError(
      `${what} has snapshots; set the option deleteSnapshots=true to delete them with it`,
      { code: ErrorCode.user_error, ...(cause !== undefined ? { cause } : {}) },
    );
  }
  if (status === 412 && (code === undefined || code === "ConditionNotMet")) {
    return new BackendError("the blob changed during the download", {
      code: ErrorCode.backend_error,
      ...(cause !== undefined ? { cause } : {}),
    });
  }
  if (status === 400 && code === "OutOfRangeInput") {
    return new BackendError(
      `the server refused ${
        context.name !== undefined ? `the name "${context.name}"` : "the name"
      } as out of range (Azure allows at most 1,024 characters, folder included)`,
      { code: ErrorCode.backend_unsupported, ...(cause !== undefined ? { cause } : {}) },
    );
  }
  const h = answer.headers;
  const headers = h === undefined
    ? undefined
    : typeof h.get === "function"
    ? { get: (n: string) => (h as { get(n: string): string | null | undefined }).get(n) ?? null }
    : h as Record<string, string>;
  return httpError(status, reasonFor(status, code, scrub(message)), headers, cause);
}

/**
 * Whether a failure without an answer means the server does not speak
 * HTTP: fetch's "invalid HTTP version parsed", Node's `HPE_*` parse errors,
 * core/http1.ts's "is not HTTP/1.x".
 */
export function notHttp(err: unknown): boolean {
  const e = err as { code?: unknown } | null;
  if (typeof e?.code === "string" && e.code.startsWith("HPE_")) return true;
  return /invalid HTTP (version|status|header)|Parse Error: Expected HTTP|is not HTTP\/1/i.test(
    chainText(err),
  );
}

/** Code 38 for a server that does not speak HTTP, quoting what it `said` on connect when known. */
function notHttpError(err: unknown, said: string | undefined): BackendError {
  return new BackendError(
    said === undefined
      ? "the server does not speak HTTP on this port (its answer is not HTTP/1.x)"
      : `the server does not speak HTTP on this port: it said "${scrub(said)}"`,
    { code: ErrorCode.connection_failed, cause: new Error(chainText(err)) },
  );
}

/** Whether `err` is a 404 ContainerNotFound answer (as {@linkcode answerError} made it). */
export function isContainerMissing(err: unknown): boolean {
  return err instanceof BackendError && err.code === ErrorCode.backend_not_found &&
    err.message === CONTAINER_MISSING;
}

/** A message without SAS signatures or keys that might have slipped in: its first line only. */
export function scrub(text: string): string {
  return text
    .replace(/(sig|se|sp|sv|AccountKey|SharedAccessSignature)=([^&;\s"']+)/gi, "$1=***")
    .replace(/\s*\n[\s\S]*$/, "") // first line only: drop RequestId/Time
    .trim();
}

/** A failure without an HTTP answer: TLS → 60, else the errno's code, else 38 (retried). */
function networkError(err: unknown, text: string): BackendError {
  const code = tlsErrorCode(err) ?? errnoCode(err) ?? causeErrno(err) ??
    ErrorCode.connection_failed;
  const reason = tlsReason(err, text, CA_HINT) ?? text;
  return new BackendError(reason || "the connection failed", {
    code,
    cause: new Error(text),
  });
}

/** The errno code of an error's causes (fetch puts the real error in `cause`). */
function causeErrno(err: unknown): ErrorCode | undefined {
  let e = err instanceof Error ? err.cause : undefined;
  for (let i = 0; e !== undefined && e !== null && i < 4; i++) {
    const code = errnoCode(e);
    if (code !== undefined) return code;
    e = e instanceof Error ? e.cause : undefined;
  }
  return undefined;
}

/**
 * An error's message and its causes' on one line, without URLs (they may
 * carry a SAS): Deno says "fetch failed" and puts the reason, with the URL,
 * in `cause`.
 */
function chainText(err: unknown): string {
  const parts: string[] = [];
  for (let e: unknown = err, i = 0; e !== undefined && e !== null && i < 4; i++) {
    parts.push(e instanceof Error ? e.message : String(e));
    e = e instanceof Error ? e.cause : undefined;
  }
  return scrub(
    parts.join(": ")
      .replace(/\s*\(?\bhttps?:\/\/[^\s)]*\)?/g, "")
      .replace(/\s*\n[\s\S]*$/, ""),
  );
}

/** The `<Message>` of an error answer, decoded (as received when it is not well-formed XML). */
function xmlMessage(xml: string): string {
  const raw = /<Message>([^<]*)<\/Message>/.exec(xml)?.[1] ?? "";
  try {
    return xmlText(raw);
  } catch {
    return raw;
  }
}

/** A short reason for an HTTP status and storage error code. */
function reasonFor(status: number, code: string | undefined, msg: string): string {
  if (status === 404) {
    return code === "ContainerNotFound" ? CONTAINER_MISSING : "not found";
  }
  if (status === 401 || status === 403) {
    return `access denied (${status}${code ? ` ${code}` : ""}): check the account key or SAS token`;
  }
  return `the server answered ${status}${code ? ` ${code}` : ""}${msg ? `: ${msg}` : ""}`;
}
