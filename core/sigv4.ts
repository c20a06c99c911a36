/**
 * AWS Signature Version 4 (SigV4), written once for every backend that
 * speaks an AWS-style API (S3 and the S3-compatible stores, Google Cloud
 * Storage's XML API with HMAC keys): sign a request's method, path, query
 * and headers with an access key, the way the AWS SDK's `SignatureV4` does
 * (byte for byte: tests/sigv4_test.ts signs the same requests with the SDK
 * and compares).
 *
 * Signing is synchronous and cheap: one SHA-256 of the canonical request
 * and one HMAC per request (the day's signing key is derived once per day,
 * region and service, and cached). SHA-256 and HMAC come from
 * `@noble/hashes` (audited, pure JavaScript), so signing loads no Node.js
 * compatibility module (`node:crypto` costs a process about 4.5 MiB of
 * memory) and needs no `await`. The body is not read: pass its SHA-256
 * as `payloadHash`, or {@linkcode UNSIGNED_PAYLOAD} for a streamed body
 * (S3 accepts it; pair it with a `Content-MD5` so the body is still checked).
 *
 * @example
 * ```ts
 * import { SigV4Signer, UNSIGNED_PAYLOAD } from "./sigv4.ts";
 *
 * const signer = new SigV4Signer({ service: "s3", region: "us-east-1" });
 * const signed = signer.sign(
 *   {
 *     method: "PUT",
 *     host: "127.0.0.1:9000",
 *     path: "/bucket/backups/a%20b.txt",
 *     headers: { "content-length": "5", "content-type": "application/octet-stream" },
 *     payloadHash: UNSIGNED_PAYLOAD,
 *   },
 *   { accessKeyId: "AKIDEXAMPLE", secretAccessKey: "secret" },
 * );
 * console.log(signed.target); // /bucket/backups/a%20b.txt
 * console.log(signed.headers.authorization.startsWith("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/"));
 * ```
 *
 * @module
 */

import { hmac } from "@noble/hashes/hmac.js";
import { sha256 } from "@noble/hashes/sha2.js";

/** The payload hash that tells the service the body is not signed (a streamed body). */
export const UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD";

/** The SHA-256 of nothing: the payload hash of a request without a body. */
export const EMPTY_SHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

/** An access key, as the AWS credential providers resolve it. */
export interface AwsCredentials {
  /** The access key id (sent in the clear, in the Authorization header). */
  accessKeyId: string;
  /** The secret key (never sent; signs). */
  secretAccessKey: string;
  /** The session token of temporary credentials (sent as `x-amz-security-token`). */
  sessionToken?: string;
  /** When temporary credentials expire. */
  expiration?: Date;
}

/** One request to sign. */
export interface SigV4Request {
  /** The method, e.g. `GET`. */
  method: string;
  /** The `Host` header as it will be sent: host name, and `:port` when not the scheme's. */
  host: string;
  /**
   * The path exactly as it will be sent, already percent-encoded (for S3:
   * `"/" + uriEncode(key, true)`, see {@linkcode uriEncode}). It is signed as
   * it is: no normalization, no second encoding (S3's rule).
   */
  path: string;
  /**
   * The query parameters, not encoded (they are encoded here, the way
   * SigV4 wants, and returned in {@linkcode SignedRequest.target}). A
   * parameter without a value (`?uploads`) has the value `""`.
   */
  query?: Readonly<Record<string, string>> | ReadonlyArray<readonly [string, string]>;
  /**
   * Headers to send and sign (any case; names are sent in lower case). Do
   * not pass `authorization`, `x-amz-date` or `host`: they are made here.
   */
  headers?: Readonly<Record<string, string>>;
  /**
   * The hex SHA-256 of the body ({@linkcode sha256Hex}), or
   * {@linkcode UNSIGNED_PAYLOAD}; default {@linkcode EMPTY_SHA256} (no body).
   * Sent as `x-amz-content-sha256`.
   */
  payloadHash?: string;
}

/** A signed request: what to send. */
export interface SignedRequest {
  /** The request target: the path, then `?` and the encoded query when there is one. */
  target: string;
  /**
   * Every header to send, names in lower case: the request's own, `host`,
   * `x-amz-date`, `x-amz-content-sha256`, `x-amz-security-token` (with a
   * session token) and `authorization`.
   */
  headers: Record<string, string>;
}

/** Options for {@linkcode SigV4Signer}. */
export interface SigV4SignerOptions {
  /** The service name in the credential scope, e.g. `s3`. */
  service: string;
  /** The region in the credential scope, e.g. `us-east-1`. */
  region: string;
}

/** Headers the SDK never signs (a proxy or the runtime may change them). */
const UNSIGNABLE: ReadonlySet<string> = new Set([
  "authorization",
  "cache-control",
  "connection",
  "expect",
  "from",
  "keep-alive",
  "max-forwards",
  "pragma",
  "referer",
  "te",
  "trailer",
  "transfer-encoding",
  "upgrade",
  "user-agent",
  "x-amzn-trace-id",
]);

/**
 * Signs requests for one service and region. Cheap to keep: it caches the
 * last few signing keys (one per day and secret).
 */
export class SigV4Signer {
  /** The service signed for. */
  readonly service: string;
  /** The region signed for. */
  readonly region: string;
  readonly #keys = new Map<string, Uint8Array>();

  /**
   * A signer for `service` in `region`.
   *
   * @param options The service and region of the credential scope.
   */
  constructor(options: SigV4SignerOptions) {
    this.service = options.service;
    this.region = options.region;
  }

  /**
   * Sign `request` with `credentials` at `date` (default now).
   *
   * @returns The request target and every header to send.
   * @throws {TypeError} When a header name or value holds a line break.
   */
  sign(request: SigV4Request, credentials: AwsCredentials, date: Date = new Date()): SignedRequest {
    const longDate = amzDate(date);
    const shortDate = longDate.slice(0, 8);
    const payloadHash = request.payloadHash ?? EMPTY_SHA256;
    const headers: Record<string, string> = {};
    for (const [name, value] of Object.entries(request.headers ?? {})) {
      if (/[\r\n]/.test(name) || /[\r\n]/.test(value)) {
        throw new TypeError(`the header ${JSON.stringify(name)} holds a line break`);
      }
      headers[name.toLowerCase()] = value;
    }
    headers["host"] = request.host;
    headers["x-amz-date"] = longDate;
    headers["x-amz-content-sha256"] = payloadHash;
    if (credentials.sessionToken) headers["x-amz-security-token"] = credentials.sessionToken;
    delete headers["authorization"];

    const names = Object.keys(headers).filter((n) => !UNSIGNABLE.has(n) && !/^(proxy|sec)-/.test(n))
      .sort();
    let canonicalHeaders = "";
    for (const n of names) canonicalHeaders += `${n}:${canonicalValue(headers[n]!)}\n`;
    const signedHeaders = names.join(";");
    const query = canonicalQuery(request.query);
    const canonicalRequest =
      `${request.method}\n${request.path}\n${query}\n${canonicalHeaders}\n${signedHeaders}\n${payloadHash}`;
    const scope = `${shortDate}/${this.region}/${this.service}/aws4_request`;
    const stringToSign = `AWS4-HMAC-SHA256\n${longDate}\n${scope}\n${sha256Hex(canonicalRequest)}`;
    const signature = toHex(
      hmacSha256(this.#signingKey(credentials.secretAccessKey, shortDate), stringToSign),
    );
    headers["authorization"] = `AWS4-HMAC-SHA256 Credential=${credentials.accessKeyId}/${scope}, ` +
      `SignedHeaders=${signedHeaders}, Signature=${signature}`;
    return { target: query ? `${request.path}?${query}` : request.path, headers };
  }

  /** The day's signing key for `secret`, derived once (four HMACs) and cached. */
  #signingKey(secret: string, shortDate: string): Uint8Array {
    const id = `${shortDate}\n${secret}`;
    let key = this.#keys.get(id);
    if (!key) {
      const kDate = hmacSha256(utf8.encode(`AWS4${secret}`), shortDate);
      const kRegion = hmacSha256(kDate, this.region);
      const kService = hmacSha256(kRegion, this.service);
      key = hmacSha256(kService, "aws4_request");
      if (this.#keys.size >= 4) this.#keys.delete(this.#keys.keys().next().value!);
      this.#keys.set(id, key);
    }
    return key;
  }
}

/**
 * Percent-encode a string the way SigV4 wants (RFC 3986: everything but
 * `A-Z a-z 0-9 - . _ ~` as UTF-8 `%XX` with capital hex digits). With
 * `keepSlash`, `/` stays as it is: that is how an S3 object key goes into
 * the path.
 */
export function uriEncode(value: string, keepSlash = false): string {
  const out = encodeURIComponent(value).replace(
    /[!'()*]/g,
    (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`,
  );
  return keepSlash ? out.replace(/%2F/g, "/") : out;
}

/** The canonical (and sent) query string: encoded names and values, sorted by name, then value. */
export function canonicalQuery(query: SigV4Request["query"]): string {
  if (!query) return "";
  const pairs = Array.isArray(query) ? query : Object.entries(query);
  if (pairs.length === 0) return "";
  const encoded = pairs.map(([k, v]) => [uriEncode(k), uriEncode(v)] as const);
  encoded.sort((a, b) =>
    a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0
  );
  return encoded.map(([k, v]) => `${k}=${v}`).join("&");
}

/** The hex SHA-256 of a string (as UTF-8) or bytes: a body's `payloadHash`. */
export function sha256Hex(data: string | Uint8Array): string {
  return toHex(sha256(typeof data === "string" ? utf8.encode(data) : data));
}

/** SigV4's time stamp: `YYYYMMDDTHHMMSSZ` in UTC. */
export function amzDate(date: Date): string {
  return date.toISOString().replace(/[-:]/g, "").replace(/\.\d{3}/, "");
}

/** A header value as signed: line breaks and runs of blanks made one space, trimmed. */
function canonicalValue(value: string): string {
  return value.replace(/[ \t]+/g, " ").replace(/^ | $/g, "");
}

const utf8 = new TextEncoder();

/** HMAC-SHA256 of a string (as UTF-8) under `key`. */
function hmacSha256(key: Uint8Array, data: string): Uint8Array {
  return hmac(sha256, key, utf8.encode(data));
}

function toHex(bytes: Uint8Array): string {
  let out = "";
  for (let i = 0; i < bytes.length; i++) out += HEX[bytes[i]!];
  return out;
}

const HEX: readonly string[] = Array.from(
  { length: 256 },
  (_, i) => i.toString(16).padStart(2, "0"),
);
