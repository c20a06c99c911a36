/**
 * The one place where S3's failures become error codes: error answers (by
 * S3 error name, else by HTTP status, with `Retry-After` kept), network
 * failures (errno, TLS through core/tls.ts, a server that does not speak
 * HTTP), credential failures and aborts.
 *
 * @module
 */

import { BackendError, errnoCode, ErrorCode, isAbortError, reasonOf } from "../../core/errors.ts";
import { codeForHttpStatus } from "../../core/http.ts";
import { parseRetryAfter } from "../../core/retry.ts";
import { tlsErrorCode, tlsReason } from "../../core/tls.ts";
import { xmlText } from "../../core/xml.ts";

/** S3 error names whose code differs from what the HTTP status alone says. */
const S3_CODES: Readonly<Record<string, ErrorCode>> = {
  NoSuchKey: ErrorCode.backend_not_found,
  NotFound: ErrorCode.backend_not_found,
  NoSuchBucket: ErrorCode.backend_not_found,
  NoSuchUpload: ErrorCode.backend_not_found,
  AccessDenied: ErrorCode.backend_permission_denied,
  Forbidden: ErrorCode.backend_permission_denied,
  InvalidAccessKeyId: ErrorCode.backend_permission_denied,
  SignatureDoesNotMatch: ErrorCode.backend_permission_denied,
  ExpiredToken: ErrorCode.backend_permission_denied,
  InvalidToken: ErrorCode.backend_permission_denied,
  TokenRefreshRequired: ErrorCode.backend_permission_denied,
  AccountProblem: ErrorCode.backend_permission_denied,
  AllAccessDisabled: ErrorCode.backend_permission_denied,
  InvalidObjectState: ErrorCode.backend_permission_denied, // archived (GLACIER): restore first
  SlowDown: ErrorCode.backend_rate_limited,
  Throttling: ErrorCode.backend_rate_limited,
  ThrottlingException: ErrorCode.backend_rate_limited,
  TooManyRequests: ErrorCode.backend_rate_limited,
  RequestLimitExceeded: ErrorCode.backend_rate_limited,
  RequestTimeout: ErrorCode.backend_timeout,
  // The clock is corrected from the answer's Date (transport.ts): the next attempt can pass.
  RequestTimeTooSkewed: ErrorCode.backend_error,
  InvalidStorageClass: ErrorCode.user_error,
  InvalidBucketName: ErrorCode.user_error,
  InvalidArgument: ErrorCode.user_error,
  KMS: ErrorCode.user_error,
  "KMS.NotFoundException": ErrorCode.user_error,
  EntityTooLarge: ErrorCode.user_error,
  PermanentRedirect: ErrorCode.user_error,
  MovedPermanently: ErrorCode.user_error,
  AuthorizationHeaderMalformed: ErrorCode.user_error,
  KeyTooLongError: ErrorCode.backend_unsupported, // a name the store finds too long
  QuotaExceeded: ErrorCode.backend_no_space,
  XMinioStorageFull: ErrorCode.backend_no_space,
  InternalError: ErrorCode.backend_error,
  ServiceUnavailable: ErrorCode.backend_rate_limited,
  BadDigest: ErrorCode.backend_error, // the body changed on the way: try again
};

/** The names S3 gives a status when the answer has no body (HEAD). */
const STATUS_NAMES: Readonly<Record<number, string>> = {
  301: "MovedPermanently",
  400: "BadRequest",
  403: "Forbidden",
  404: "NotFound",
  409: "Conflict",
  412: "PreconditionFailed",
  416: "InvalidRange",
  429: "TooManyRequests",
  500: "InternalError",
  501: "NotImplemented",
  503: "ServiceUnavailable",
};

/** How to trust a private CA: Deno's trust store is the only one read. */
const CA_HINT = "DENO_CERT=/path/ca.pem (or DENO_TLS_CA_STORE=system)";

/** What a message may name: the bucket, and the region requests are signed for. */
export interface S3ErrorContext {
  /** The bucket, for NoSuchBucket. */
  bucket?: string;
  /** The region signed for, for redirects to another region. */
  region?: string;
}

/** An error answer from the store: its status, S3 error name and message, and its headers. */
export class S3ErrorAnswer extends Error {
  /** The HTTP status. */
  readonly status: number;
  /** S3's error name (`NoSuchKey`, `SlowDown`, ...), or a name for the status when none was given. */
  readonly s3Code: string;
  /** The answer's headers, names in lower case. */
  readonly headers: Readonly<Record<string, string>>;

  /** An answer with `status`, the error `s3Code` and the server's `message`. */
  constructor(
    status: number,
    s3Code: string,
    message: string,
    headers: Readonly<Record<string, string>>,
  ) {
    super(message);
    this.name = "S3ErrorAnswer";
    this.status = status;
    this.s3Code = s3Code;
    this.headers = headers;
  }
}

/**
 * The error an answer with `status` and (for most answers) an XML body
 * `<Error><Code>..</Code><Message>..</Message></Error>` stands for.
 */
export function errorAnswer(
  status: number,
  headers: Readonly<Record<string, string>>,
  body: string,
): S3ErrorAnswer {
  const tag = (name: string) => {
    const m = new RegExp(`<${name}>([^<]*)</${name}>`).exec(body);
    return m ? xmlText(m[1]!, { lenient: true }).trim() : undefined;
  };
  const code = tag("Code") || STATUS_NAMES[status] || `HTTP${status}`;
  return new S3ErrorAnswer(status, code, tag("Message") ?? "", headers);
}

/** The HTTP status of an error answer (or of the answer a BackendError wraps). */
export function statusOf(err: unknown): number | undefined {
  const e = err instanceof BackendError ? err.cause : err;
  return e instanceof S3ErrorAnswer ? e.status : undefined;
}

/** Whether a (converted) error says the store lacks the operation (HTTP 501 NotImplemented). */
export function isNotImplemented(err: unknown): boolean {
  const e = err instanceof BackendError ? err.cause : err;
  return e instanceof S3ErrorAnswer && (e.s3Code === "NotImplemented" || e.status === 501);
}

/** The code for an error answer, network or stream error (what `_errorCode` answers). */
export function errorCode(err: unknown): ErrorCode | undefined {
  return toBackendError(err).code;
}

/**
 * An error answer, network, credential or stream error as a
 * {@linkcode BackendError} with the right code (DESIGN section 4); a
 * `BackendError` is returned unchanged. `context` lets the message name
 * the bucket and the region.
 */
export function toBackendError(err: unknown, context: S3ErrorContext = {}): BackendError {
  if (err instanceof BackendError) return err;
  if (isAbortError(err)) {
    return new BackendError("cancelled", { code: ErrorCode.backend_aborted, cause: err });
  }
  if (!(err instanceof S3ErrorAnswer)) return networkError(err);
  const { status, s3Code: name } = err;
  const code = S3_CODES[name] ?? codeForHttpStatus(status);
  const retryAfter = parseRetryAfter(err.headers["retry-after"]);
  let message = err.message && err.message !== name
    ? `${name}: ${err.message}`
    : `${name} (HTTP ${status})`;
  if (name === "NoSuchBucket" && context.bucket !== undefined) {
    message = `bucket "${context.bucket}" does not exist`;
  }
  if (name === "KeyTooLongError") message = "the store finds the name too long (KeyTooLongError)";
  if (status === 301 || name === "PermanentRedirect" || name === "AuthorizationHeaderMalformed") {
    message += ` (is the bucket in another region than "${
      context.region ?? "the one set"
    }"? set the option region)`;
  }
  return new BackendError(message.replace(/\s*\n\s*/g, " "), {
    code,
    cause: err,
    ...(retryAfter !== undefined ? { retryAfter } : {}),
  });
}

/**
 * A failure without an HTTP answer: refused, reset, DNS (their errno's
 * code), TLS (60), a server that does not speak HTTP (38, saying so),
 * missing credentials (51). `fetch` throws `TypeError` with the real error
 * as its cause.
 */
function networkError(err: unknown): BackendError {
  const name = (err as { name?: unknown } | undefined)?.name;
  const inner = err instanceof TypeError && err.cause !== undefined ? err.cause : undefined;
  const detail = inner ? `${reasonOf(err)}: ${reasonOf(inner)}` : reasonOf(err);
  const tls = tlsErrorCode(err);
  if (tls !== undefined) {
    return new BackendError(tlsReason(err, detail, CA_HINT) ?? detail, { code: tls, cause: err });
  }
  if (/invalid HTTP|invalid (status|header)|HTTP parse|not HTTP/i.test(detail)) {
    return new BackendError(`the server does not answer in HTTP (${detail})`, {
      code: ErrorCode.connection_failed,
      cause: err,
    });
  }
  const code = errnoCode(err) ?? (inner ? errnoCode(inner) : undefined) ??
    (err instanceof TypeError && /fetch failed|error sending request|connection/i.test(detail)
      ? ErrorCode.connection_failed
      : undefined) ??
    (name === "TimeoutError" ? ErrorCode.backend_timeout : undefined) ??
    (name === "CredentialsProviderError" ? ErrorCode.backend_permission_denied : undefined) ??
    ErrorCode.backend_error;
  return new BackendError(detail, { code, cause: err });
}
