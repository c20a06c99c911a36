/**
 * How `s3://` reaches the store: the bucket and prefix from the URL; the
 * endpoint, addressing (path or virtual-hosted style) and region from the
 * options and the environment; credentials from credentials.ts; every
 * request signed by core/sigv4.ts and sent by the runtime's `fetch`, or,
 * for an object or part body, by core/http1.ts (the body streamed from a
 * file range, or sent from bytes, with a real `Content-Length`). The AWS SDK
 * sends nothing: its middleware cost about 1 ms of CPU per request.
 *
 * Two answers are handled here once for every request: a bucket in another
 * region (AWS only: the answer names the region, which is signed for from
 * then on) and a skewed clock (`RequestTimeTooSkewed`: the server's `Date`
 * corrects the signing time). Either sends the request once more.
 *
 * @module
 */

import type { OperationContext } from "../../core/backend.ts";
import { BackendError, ErrorCode, isAbortError } from "../../core/errors.ts";
import { type FileRangeBody, Http1Client } from "../../core/http1.ts";
import { EMPTY_SHA256, sha256Hex, SigV4Signer, uriEncode } from "../../core/sigv4.ts";
import type { ParsedUrl } from "../../core/url.ts";
import { credentialsFor, type CredentialSource, env, profileRegion } from "./credentials.ts";
import { errorAnswer, type S3ErrorAnswer, toBackendError } from "./error.ts";
import { boundedText, decodeText, greeting, headersOf, uploadBuffers } from "./http.ts";
import type { S3Settings } from "./options.ts";

const GCS_ENDPOINT = "https://storage.googleapis.com";
/** How long an idle upload connection is reused (servers close idle keep-alive connections after ~5 s). */
const IDLE_REUSE_MS = 2000;

/** One request to the bucket. */
export interface S3Call {
  /** The method. */
  method: "GET" | "HEAD" | "PUT" | "POST" | "DELETE";
  /** The object key (prefix included); none for the bucket itself. */
  key?: string;
  /** Query parameters, not encoded; `""` for one without a value (`uploads`). */
  query?: [string, string][];
  /** Headers to send and sign. */
  headers?: Record<string, string>;
  /**
   * The body: bytes (small XML documents, signed by their SHA-256; or part
   * data), or a file range streamed by core/http1.ts (sent as
   * UNSIGNED-PAYLOAD: pair it with a Content-MD5).
   */
  body?: Uint8Array | FileRangeBody;
  /**
   * Object or part data in bytes: sent by core/http1.ts like a file range,
   * unsigned (UNSIGNED-PAYLOAD: pair it with a Content-MD5), not hashed.
   */
  unsignedBody?: boolean;
  /** Stops the request (default the attempt's signal). */
  signal?: AbortSignal;
}

/** A small answer, read in full. */
export interface S3Answer {
  /** The status (2xx, or one the caller accepted). */
  status: number;
  /** Header names in lower case. */
  headers: Record<string, string>;
  /** The body. */
  body: Uint8Array;
}

/**
 * The connection to one bucket: made in the constructor without I/O; the
 * HTTP clients are made on first use and dropped by {@linkcode reset}.
 */
export class S3Transport {
  /** The bucket. */
  readonly bucket: string;
  /** The key prefix that acts as the folder: empty, or ending with `/`. */
  readonly prefix: string;
  readonly #endpoint: URL | undefined;
  readonly #forcePathStyle: boolean;
  readonly #credentials: CredentialSource;
  readonly #createBucket: boolean;
  #signer: SigV4Signer;
  #origin = "";
  #originUrl: URL = new URL("http://127.0.0.1");
  #host = "";
  #basePath = "";
  #virtual = false;
  #clockOffset = 0;
  #fetchClient: Deno.HttpClient | undefined;
  #upload: Http1Client | undefined;
  #bucketChecked: Promise<void> | undefined;

  /** Resolve bucket, endpoint, region and credentials; no I/O but reading ~/.aws/config. */
  constructor(url: ParsedUrl, settings: S3Settings) {
    const gs = url.scheme === "gs";
    const raw = url.path.replace(/^\/+/, "");
    const slash = raw.indexOf("/");
    this.bucket = slash === -1 ? raw : raw.slice(0, slash);
    const rest = slash === -1 ? "" : raw.slice(slash + 1).replace(/^\/+/, "").replace(/\/+$/, "");
    this.prefix = rest ? `${rest}/` : "";
    if (!this.bucket) {
      throw new BackendError(`Invalid URL "${url.stripAuth()}": it names no bucket`, {
        code: ErrorCode.user_error,
      });
    }
    const endpoint = settings.endpoint ??
      (gs ? GCS_ENDPOINT : env("AWS_ENDPOINT_URL_S3") ?? env("AWS_ENDPOINT_URL"));
    if (endpoint !== undefined && !/^https?:\/\/[^/]/i.test(endpoint)) {
      throw new BackendError(
        `Invalid option "endpoint": ${JSON.stringify(endpoint)} is not an http(s) URL`,
        { code: ErrorCode.user_error },
      );
    }
    this.#endpoint = endpoint === undefined ? undefined : new URL(endpoint);
    this.#forcePathStyle = settings.forcePathStyle ?? (endpoint !== undefined);
    const profile = settings.profile ?? (gs ? undefined : env("AWS_PROFILE"));
    const region = settings.region ??
      (gs ? undefined : env("AWS_REGION") ?? env("AWS_DEFAULT_REGION") ?? profileRegion(profile)) ??
      "us-east-1";
    this.#credentials = credentialsFor(gs, profile, settings);
    this.#createBucket = settings.createBucket;
    this.#signer = new SigV4Signer({ service: "s3", region });
    this.#address(region);
  }

  /** The region requests are signed for. */
  get region(): string {
    return this.#signer.region;
  }

  /** The object key of a name. */
  key(name: string): string {
    return this.prefix + name;
  }

  /** Whether the bucket check passed (or a listing proved the bucket exists). */
  get bucketChecked(): boolean {
    return this.#bucketChecked !== undefined;
  }

  /** Record that the bucket exists (a listing's first page answered). */
  markBucketChecked(): void {
    this.#bucketChecked ??= Promise.resolve();
  }

  /**
   * Check the bucket once (HeadBucket), before the first request that needs
   * it. Concurrent callers share one check; one cancelled by its own caller
   * is made again for the others.
   */
  async ready(ctx?: OperationContext): Promise<void> {
    while (true) {
      let check = this.#bucketChecked;
      if (!check) {
        check = this.#checkBucket(ctx);
        this.#bucketChecked = check;
      }
      try {
        return await check;
      } catch (err) {
        if (this.#bucketChecked === check) this.#bucketChecked = undefined;
        if (!isAbortError(err) || ctx?.signal.aborted) throw err;
      }
    }
  }

  /**
   * Send one request and read its answer in full. An answer outside 2xx
   * (and not in `accept`) is thrown as a BackendError.
   */
  async request(call: S3Call, ctx?: OperationContext, accept: number[] = []): Promise<S3Answer> {
    for (let tries = 0;; tries++) {
      let answer: S3Answer;
      try {
        answer = await this.#send(call, ctx);
      } catch (err) {
        throw await this.#failure(err, ctx);
      }
      if ((answer.status >= 200 && answer.status < 300) || accept.includes(answer.status)) {
        return answer;
      }
      const err = errorAnswer(answer.status, answer.headers, decodeText(answer.body));
      if (tries === 0 && this.#corrected(err)) continue;
      throw this.convert(err);
    }
  }

  /**
   * Send a bodiless request (a GET of an object) and resolve with the
   * answer once its head arrived: its body is a stream. An answer outside
   * 2xx (and not in `accept`) is thrown as a BackendError.
   */
  async open(call: S3Call, ctx?: OperationContext, accept: number[] = []): Promise<Response> {
    for (let tries = 0;; tries++) {
      let res: Response;
      try {
        res = await this.#fetch(call, await this.#sign(call), ctx);
      } catch (err) {
        throw await this.#failure(err, ctx);
      }
      if ((res.status >= 200 && res.status < 300) || accept.includes(res.status)) return res;
      const err = errorAnswer(res.status, headersOf(res), await boundedText(res));
      if (tries === 0 && this.#corrected(err)) continue;
      throw this.convert(err);
    }
  }

  /** An error as a BackendError whose message may name this bucket and region. */
  convert(err: unknown): BackendError {
    return toBackendError(err, { bucket: this.bucket, region: this.region });
  }

  /**
   * A request that got no HTTP answer as a BackendError; when the server
   * spoke something else than HTTP, the message says what it said first
   * (an SSH or FTP greeting), read on a new connection within the caller's
   * timeout, at most 1 s.
   */
  async #failure(err: unknown, ctx?: OperationContext): Promise<BackendError> {
    const converted = this.convert(err);
    if (!converted.message.startsWith("the server does not answer in HTTP")) return converted;
    const url = this.#originUrl;
    const said = url.protocol === "http:"
      ? await greeting(url.hostname, Number(url.port || 80), Math.min(ctx?.timeout || 1000, 1000))
      : undefined;
    if (!said) return converted;
    return new BackendError(
      `the server at ${url.host} does not speak HTTP: it said ${JSON.stringify(said)}`,
      { code: ErrorCode.connection_failed, cause: err },
    );
  }

  /** Drop the connections: the next request starts afresh. */
  reset(): void {
    this.#upload?.closeIdle();
    this.#upload = undefined;
    try {
      this.#fetchClient?.close();
    } catch {
      // already closed
    }
    this.#fetchClient = undefined;
  }

  /** Sign and send: an object or part body through Http1Client, everything else through fetch. */
  async #send(call: S3Call, ctx?: OperationContext): Promise<S3Answer> {
    const signed = await this.#sign(call);
    const body = call.body;
    if (body && (!(body instanceof Uint8Array) || call.unsignedBody)) {
      this.#upload ??= new Http1Client({ idleReuseMs: IDLE_REUSE_MS, buffers: uploadBuffers });
      const signal = call.signal ?? ctx?.signal;
      return await this.#upload.send({
        url: this.#originUrl,
        target: signed.target,
        method: call.method,
        headers: signed.headers,
        body,
        ...(signal ? { signal } : {}),
        ...(ctx ? { onProgress: (n: number) => ctx.progress(n) } : {}),
      });
    }
    const res = await this.#fetch(call, signed, ctx);
    const bytes = res.body ? new Uint8Array(await res.arrayBuffer()) : new Uint8Array(0);
    return { status: res.status, headers: headersOf(res), body: bytes };
  }

  #fetch(
    call: S3Call,
    signed: { target: string; headers: Record<string, string> },
    ctx?: OperationContext,
  ): Promise<Response> {
    const headers = new Headers();
    for (const [k, v] of Object.entries(signed.headers)) if (k !== "host") headers.set(k, v);
    // The object's bytes as stored: never let fetch decompress a Content-Encoding.
    headers.set("accept-encoding", "identity");
    const signal = call.signal ?? ctx?.signal;
    this.#fetchClient ??= Deno.createHttpClient({});
    return fetch(this.#origin + signed.target, {
      method: call.method,
      headers,
      redirect: "manual",
      client: this.#fetchClient,
      ...(call.body instanceof Uint8Array ? { body: call.body as Uint8Array<ArrayBuffer> } : {}),
      ...(signal ? { signal } : {}),
    });
  }

  async #sign(call: S3Call): Promise<{ target: string; headers: Record<string, string> }> {
    const credentials = this.#credentials.now() ?? await this.#credentials.get();
    const body = call.body;
    const payloadHash = body === undefined
      ? EMPTY_SHA256
      : body instanceof Uint8Array && !call.unsignedBody
      ? sha256Hex(body)
      : "UNSIGNED-PAYLOAD";
    return this.#signer.sign(
      {
        method: call.method,
        host: this.#host,
        path: this.#path(call.key),
        ...(call.query ? { query: call.query } : {}),
        ...(call.headers ? { headers: call.headers } : {}),
        payloadHash,
      },
      credentials,
      new Date(Date.now() + this.#clockOffset),
    );
  }

  /** The path of a key (or of the bucket): `.` and `..` segments encoded, so nothing normalizes them. */
  #path(key: string | undefined): string {
    const encoded = key === undefined
      ? undefined
      : uriEncode(key, true).split("/").map((s) => s === "." ? "%2E" : s === ".." ? "%2E%2E" : s)
        .join("/");
    if (this.#virtual) return `${this.#basePath}/${encoded ?? ""}`;
    const bucket = `${this.#basePath}/${uriEncode(this.bucket)}`;
    return encoded === undefined ? bucket : `${bucket}/${encoded}`;
  }

  /** Where requests go for `region`: the endpoint, or AWS's regional one; path or virtual-hosted. */
  #address(region: string): void {
    const base = this.#endpoint ?? new URL(`https://s3.${region}.amazonaws.com`);
    // Virtual-hosted style needs a bucket name that is one DNS label (no dots: TLS wildcards).
    const virtual = !this.#forcePathStyle && /^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$/.test(this.bucket);
    this.#virtual = virtual;
    this.#host = virtual ? `${this.bucket}.${base.host}` : base.host;
    this.#origin = `${base.protocol}//${this.#host}`;
    this.#originUrl = new URL(this.#origin);
    this.#basePath = base.pathname.replace(/\/+$/, "");
  }

  /**
   * Whether an error answer was corrected here and the request can go once
   * more: a bucket in another region (AWS only), or a skewed clock.
   */
  #corrected(err: S3ErrorAnswer): boolean {
    const region = err.headers["x-amz-bucket-region"];
    if (!this.#endpoint && region && region !== this.region && /^[a-z0-9-]+$/.test(region)) {
      this.#signer = new SigV4Signer({ service: "s3", region });
      this.#address(region);
      return true;
    }
    const date = Date.parse(err.headers["date"] ?? "");
    if (err.s3Code === "RequestTimeTooSkewed" && Number.isFinite(date)) {
      this.#clockOffset = date - Date.now();
      return true;
    }
    return false;
  }

  /** HeadBucket: a missing bucket is code 52 naming the fix (or is created with createBucket). */
  async #checkBucket(ctx?: OperationContext): Promise<void> {
    try {
      await this.request({ method: "HEAD" }, ctx);
    } catch (err) {
      if (!(err instanceof BackendError)) throw err;
      // Keys that may write but not list the bucket get 403 here; let the real call speak for itself.
      if (err.code === ErrorCode.backend_permission_denied) return;
      if (err.code !== ErrorCode.backend_not_found) throw err;
      if (!this.#createBucket) {
        throw new BackendError(
          `bucket "${this.bucket}" does not exist (create it first, or pass the option createBucket=true)`,
          { code: ErrorCode.backend_not_found, cause: err },
        );
      }
      const body = !this.#endpoint && this.region !== "us-east-1"
        ? new TextEncoder().encode(
          `<CreateBucketConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/">` +
            `<LocationConstraint>${this.region}</LocationConstraint></CreateBucketConfiguration>`,
        )
        : undefined;
      await this.request({ method: "PUT", ...(body ? { body } : {}) }, ctx);
    }
  }
}
