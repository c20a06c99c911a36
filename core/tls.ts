/**
 * TLS failures, classified once for every backend that speaks TLS (ftps,
 * webdavs, s3, azure): an untrusted or mismatched certificate is code 60
 * (permanent: retrying cannot fix it), and so is TLS spoken to a server that
 * answers in plain text ("wrong version number"), which no retry can fix
 * either.
 *
 * @module
 */

import { ErrorCode } from "./errors.ts";

/** Node/OpenSSL error codes that mean "the certificate is not trusted". */
const CERT_CODES: ReadonlySet<string> = new Set([
  "DEPTH_ZERO_SELF_SIGNED_CERT",
  "SELF_SIGNED_CERT_IN_CHAIN",
  "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
  "UNABLE_TO_GET_ISSUER_CERT",
  "UNABLE_TO_GET_ISSUER_CERT_LOCALLY",
  "UNABLE_TO_DECRYPT_CERT_SIGNATURE",
  "CERT_SIGNATURE_FAILURE",
  "CERT_NOT_YET_VALID",
  "CERT_HAS_EXPIRED",
  "CERT_UNTRUSTED",
  "CERT_REJECTED",
  "INVALID_CA",
  "ERR_TLS_CERT_ALTNAME_INVALID",
  "HOSTNAME_MISMATCH",
]);

/** Words Deno's rustls and Node's OpenSSL use for an untrusted certificate. */
const CERT_TEXT =
  /certificate|UnknownIssuer|NotValidForName|self[- ]signed|peer cert|CERT_|ALTNAME/i;

/** Words for TLS spoken to a server that does not speak TLS on that port. */
const NOT_TLS_TEXT =
  /wrong version number|packet length too long|InvalidContentType|CorruptMessage|received corrupt message|unexpected message|http request/i;

/** What went wrong with TLS, if it was TLS. */
export type TlsProblem = "untrusted" | "not-tls";

/**
 * Whether `err` is a TLS failure, and which: `"untrusted"` for a certificate
 * that does not verify, `"not-tls"` for a server that does not speak TLS.
 * Aborts are never TLS failures.
 */
export function tlsProblem(err: unknown): TlsProblem | undefined {
  if (err === null || err === undefined) return undefined;
  const e = err as { name?: unknown; code?: unknown; message?: unknown };
  if (e.name === "AbortError") return undefined;
  const code = typeof e.code === "string" ? e.code : "";
  if (CERT_CODES.has(code)) return "untrusted";
  const text = `${typeof e.message === "string" ? e.message : String(err)} ${code}`;
  if (NOT_TLS_TEXT.test(text) || code === "ERR_SSL_WRONG_VERSION_NUMBER") return "not-tls";
  if (CERT_TEXT.test(text)) return "untrusted";
  const cause = (err as { cause?: unknown }).cause;
  return cause && cause !== err ? tlsProblem(cause) : undefined;
}

/** Code 60 for a TLS failure (untrusted certificate or a server that does not speak TLS), else `undefined`. */
export function tlsErrorCode(err: unknown): ErrorCode | undefined {
  return tlsProblem(err) ? ErrorCode.backend_untrusted_host : undefined;
}

/**
 * A short reason for a TLS failure, naming the fix, or `undefined` when
 * `err` is not one: `hint` is what to pass to trust a private CA (`caFile`).
 */
export function tlsReason(err: unknown, detail: string, hint = "caFile"): string | undefined {
  const p = tlsProblem(err);
  if (p === "untrusted") {
    return `the server's TLS certificate is not trusted (${detail}); pass ${hint} to trust a private CA`;
  }
  if (p === "not-tls") {
    return `the server does not speak TLS on this port (${detail}); use the plain scheme or the TLS port`;
  }
  return undefined;
}
