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
 * region and service, and cached). SHA-256 is written here in plain
 * TypeScript, so signing loads no Node.js compatibility module (`node:crypto`
 * costs a process about 4.5 MiB of memory) and needs no `await`. The body is not read: pass its SHA-256
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
      hmac(this.#signingKey(credentials.secretAccessKey, shortDate), stringToSign),
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
      const kDate = hmac(utf8.encode(`AWS4${secret}`), shortDate);
      const kRegion = hmac(kDate, this.region);
      const kService = hmac(kRegion, this.service);
      key = hmac(kService, "aws4_request");
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
function hmac(key: Uint8Array, data: string): Uint8Array {
  let k = key.length > 64 ? sha256(key) : key;
  if (k.length < 64) {
    const padded = new Uint8Array(64);
    padded.set(k);
    k = padded;
  }
  const message = utf8.encode(data);
  const inner = new Uint8Array(64 + message.length);
  const outer = new Uint8Array(64 + 32);
  for (let i = 0; i < 64; i++) {
    inner[i] = k[i]! ^ 0x36;
    outer[i] = k[i]! ^ 0x5c;
  }
  inner.set(message, 64);
  outer.set(sha256(inner), 64);
  return sha256(outer);
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

/** SHA-256's round constants. */
const K = new Uint32Array([
  0x428a2f98,
  0x71374491,
  0xb5c0fbcf,
  0xe9b5dba5,
  0x3956c25b,
  0x59f111f1,
  0x923f82a4,
  0xab1c5ed5,
  0xd807aa98,
  0x12835b01,
  0x243185be,
  0x550c7dc3,
  0x72be5d74,
  0x80deb1fe,
  0x9bdc06a7,
  0xc19bf174,
  0xe49b69c1,
  0xefbe4786,
  0x0fc19dc6,
  0x240ca1cc,
  0x2de92c6f,
  0x4a7484aa,
  0x5cb0a9dc,
  0x76f988da,
  0x983e5152,
  0xa831c66d,
  0xb00327c8,
  0xbf597fc7,
  0xc6e00bf3,
  0xd5a79147,
  0x06ca6351,
  0x14292967,
  0x27b70a85,
  0x2e1b2138,
  0x4d2c6dfc,
  0x53380d13,
  0x650a7354,
  0x766a0abb,
  0x81c2c92e,
  0x92722c85,
  0xa2bfe8a1,
  0xa81a664b,
  0xc24b8b70,
  0xc76c51a3,
  0xd192e819,
  0xd6990624,
  0xf40e3585,
  0x106aa070,
  0x19a4c116,
  0x1e376c08,
  0x2748774c,
  0x34b0bcb5,
  0x391c0cb3,
  0x4ed8aa4a,
  0x5b9cca4f,
  0x682e6ff3,
  0x748f82ee,
  0x78a5636f,
  0x84c87814,
  0x8cc70208,
  0x90befffa,
  0xa4506ceb,
  0xbef9a3f7,
  0xc67178f2,
]);
const W = new Uint32Array(64);

/** SHA-256 (FIPS 180-4) of `data`. */
function sha256(data: Uint8Array): Uint8Array {
  const bits = data.length * 8;
  const blocks = Math.ceil((data.length + 9) / 64);
  const buf = new Uint8Array(blocks * 64);
  buf.set(data);
  buf[data.length] = 0x80;
  const view = new DataView(buf.buffer);
  view.setUint32(buf.length - 8, Math.floor(bits / 0x100000000));
  view.setUint32(buf.length - 4, bits >>> 0);
  let h0 = 0x6a09e667, h1 = 0xbb67ae85, h2 = 0x3c6ef372, h3 = 0xa54ff53a;
  let h4 = 0x510e527f, h5 = 0x9b05688c, h6 = 0x1f83d9ab, h7 = 0x5be0cd19;
  for (let off = 0; off < buf.length; off += 64) {
    for (let i = 0; i < 16; i++) W[i] = view.getUint32(off + i * 4);
    for (let i = 16; i < 64; i++) {
      const w15 = W[i - 15]!, w2 = W[i - 2]!;
      const s0 = ((w15 >>> 7) | (w15 << 25)) ^ ((w15 >>> 18) | (w15 << 14)) ^ (w15 >>> 3);
      const s1 = ((w2 >>> 17) | (w2 << 15)) ^ ((w2 >>> 19) | (w2 << 13)) ^ (w2 >>> 10);
      W[i] = (W[i - 16]! + s0 + W[i - 7]! + s1) | 0;
    }
    let a = h0, b = h1, c = h2, d = h3, e = h4, f = h5, g = h6, h = h7;
    for (let i = 0; i < 64; i++) {
      const S1 = ((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7));
      const t1 = (h + S1 + ((e & f) ^ (~e & g)) + K[i]! + W[i]!) | 0;
      const S0 = ((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10));
      const t2 = (S0 + ((a & b) ^ (a & c) ^ (b & c))) | 0;
      h = g;
      g = f;
      f = e;
      e = (d + t1) | 0;
      d = c;
      c = b;
      b = a;
      a = (t1 + t2) | 0;
    }
    h0 = (h0 + a) | 0;
    h1 = (h1 + b) | 0;
    h2 = (h2 + c) | 0;
    h3 = (h3 + d) | 0;
    h4 = (h4 + e) | 0;
    h5 = (h5 + f) | 0;
    h6 = (h6 + g) | 0;
    h7 = (h7 + h) | 0;
  }
  const out = new Uint8Array(32);
  const o = new DataView(out.buffer);
  [h0, h1, h2, h3, h4, h5, h6, h7].forEach((v, i) => o.setUint32(i * 4, v));
  return out;
}
