/**
 * HTTP status codes mapped to error codes, shared by the HTTP-speaking
 * backends (WebDAV, S3, Azure), and the `Retry-After` a response carries.
 *
 * @module
 */

import { BackendError, ErrorCode } from "./errors.ts";
import { parseRetryAfter } from "./retry.ts";

/**
 * The error code for an HTTP status: 401/403 → 51, 404/410 → 52, 413/507 → 53,
 * 429 and 503 → 58 (rate limited, retried), 408/504 → 57 (timeout, retried),
 * other 4xx → 55, other 5xx → 50 (retried).
 */
export function codeForHttpStatus(status: number): ErrorCode {
  if (status === 401 || status === 403) return ErrorCode.backend_permission_denied;
  if (status === 404 || status === 410) return ErrorCode.backend_not_found;
  if (status === 413 || status === 507) return ErrorCode.backend_no_space;
  if (status === 429 || status === 503) return ErrorCode.backend_rate_limited;
  if (status === 408 || status === 504) return ErrorCode.backend_timeout;
  if (status >= 400 && status < 500) return ErrorCode.backend_code_error;
  return ErrorCode.backend_error;
}

/** Whether a failure with this HTTP status should be tried again. */
export function isRetriableHttpStatus(status: number): boolean {
  return status === 408 || status === 429 || status >= 500;
}

/**
 * A {@linkcode BackendError} for an HTTP answer, with the code for its status
 * and the `Retry-After` it asked for (in milliseconds).
 */
export function httpError(
  status: number,
  reason: string,
  headers?: { get(name: string): string | null } | Record<string, string | string[] | undefined>,
  cause?: unknown,
): BackendError {
  let ra: string | null | undefined;
  if (headers) {
    if (typeof (headers as { get?: unknown }).get === "function") {
      ra = (headers as { get(name: string): string | null }).get("retry-after");
    } else {
      const v = (headers as Record<string, string | string[] | undefined>)["retry-after"];
      ra = Array.isArray(v) ? v[0] : v;
    }
  }
  const retryAfter = parseRetryAfter(ra);
  const code = codeForHttpStatus(status);
  // A 4xx other than the mapped ones is permanent in practice; mark it so.
  return new BackendError(reason, {
    code,
    ...(cause !== undefined ? { cause } : {}),
    ...(retryAfter !== undefined ? { retryAfter } : {}),
  });
}

/** The total size in a `Content-Range: bytes 0-99/1234` header (`undefined` when it gives none). */
export function contentRangeTotal(contentRange: string | null | undefined): number | undefined {
  const m = /\/(\d+)\s*$/.exec(contentRange ?? "");
  return m ? Number(m[1]) : undefined;
}
