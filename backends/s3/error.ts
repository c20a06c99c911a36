/**
 * The one place where S3's failures become error codes: the SDK's service
 * errors (by S3 error name, else by HTTP status, with `Retry-After` kept),
 * network failures (errno, TLS through core/tls.ts) and aborts.
 *
 * @module
 */

import { BackendError, errnoCode, ErrorCode, reasonOf } from "../../core/errors.ts";
import { codeForHttpStatus } from "../../core/http.ts";
import { parseRetryAfter } from "../../core/retry.ts";
import { tlsErrorCode, tlsReason } from "../../core/tls.ts";

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
  RequestTimeTooSkewed: ErrorCode.backend_permission_denied,
  InvalidStorageClass: ErrorCode.user_error,
  InvalidBucketName: ErrorCode.user_error,
  InvalidArgument: ErrorCode.user_error,
  KMS: ErrorCode.user_error,
  "KMS.NotFoundException": ErrorCode.user_error,
  EntityTooLarge: ErrorCode.user_error,
  PermanentRedirect: ErrorCode.user_error,
  AuthorizationHeaderMalformed: ErrorCode.user_error,
  QuotaExceeded: ErrorCode.backend_no_space,
  XMinioStorageFull: ErrorCode.backend_no_space,
  InternalError: ErrorCode.backend_error,
  ServiceUnavailable: ErrorCode.backend_rate_limited,
  BadDigest: ErrorCode.backend_error, // the body changed on the way: try again
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

/** The SDK error fields read here. */
interface SdkError {
  name?: string;
  message?: string;
  Code?: string;
  $metadata?: { httpStatusCode?: number };
  $response?: { statusCode?: number; headers?: Record<string, string | undefined> };
}

/** The HTTP status an SDK error (or the SDK error a BackendError wraps) carries. */
export function statusOf(err: unknown): number | undefined {
  const e = (err instanceof BackendError ? err.cause : err) as SdkError | undefined;
  return e?.$metadata?.httpStatusCode ?? e?.$response?.statusCode;
}

/** Whether a (converted) error says the store lacks the operation (HTTP 501 NotImplemented). */
export function isNotImplemented(err: unknown): boolean {
  const cause = (err instanceof BackendError ? err.cause : err) as SdkError | undefined;
  return cause?.name === "NotImplemented" || cause?.$metadata?.httpStatusCode === 501;
}

/** The code for an SDK, network or stream error (what `_errorCode` answers). */
export function errorCode(err: unknown): ErrorCode | undefined {
  return toBackendError(err).code;
}

/**
 * An SDK, network or stream error as a {@linkcode BackendError} with the
 * right code (DESIGN section 4); a `BackendError` is returned unchanged.
 * `context` lets the message name the bucket and the region.
 */
export function toBackendError(err: unknown, context: S3ErrorContext = {}): BackendError {
  if (err instanceof BackendError) return err;
  const e = err as SdkError | undefined;
  const status = e?.$metadata?.httpStatusCode ?? e?.$response?.statusCode;
  const name = e?.Code ?? e?.name ?? "Error";
  if (name === "AbortError") {
    return new BackendError("cancelled", { code: ErrorCode.backend_aborted, cause: err });
  }
  if (typeof status !== "number" || (status < 300 && !(name in S3_CODES))) {
    return networkError(err, name);
  }
  const code = S3_CODES[name] ?? codeForHttpStatus(status);
  const retryAfter = parseRetryAfter(e?.$response?.headers?.["retry-after"]);
  let message = e?.message && e.message !== "UnknownError" && e.message !== name
    ? `${name}: ${e.message}`
    : `${name} (HTTP ${status})`;
  if (name === "NoSuchBucket" && context.bucket !== undefined) {
    message = `bucket "${context.bucket}" does not exist`;
  }
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
 * code), TLS (60), a timeout, missing credentials. `fetch` throws
 * `TypeError("fetch failed")` with the real error as its cause.
 */
function networkError(err: unknown, name: string): BackendError {
  const inner = err instanceof TypeError && err.cause !== undefined ? err.cause : undefined;
  const code = errnoCode(err) ?? (inner ? errnoCode(inner) : undefined) ?? tlsErrorCode(err) ??
    (err instanceof TypeError &&
        /fetch failed|error sending request|connection/i.test(reasonOf(err))
      ? ErrorCode.connection_failed
      : undefined) ??
    (name === "TimeoutError" ? ErrorCode.backend_timeout : undefined) ??
    (name === "CredentialsProviderError" ? ErrorCode.backend_permission_denied : undefined) ??
    ErrorCode.backend_error;
  const detail = inner ? `${reasonOf(err)}: ${reasonOf(inner)}` : reasonOf(err);
  const reason =
    (code === ErrorCode.backend_untrusted_host ? tlsReason(err, detail, CA_HINT) : undefined) ??
      detail;
  return new BackendError(reason, { code, cause: err });
}
