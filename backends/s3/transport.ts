/**
 * How `s3://` reaches the store: the bucket and prefix from the URL, the
 * endpoint, region and credentials from the options and the environment
 * (the AWS SDK's standard chain, or `GS_*` keys for `gs://`), the two SDK
 * clients (uploads through {@linkcode UploadHandler}, everything else
 * through {@linkcode fetchHandler}), the bucket check on first use, and
 * {@linkcode S3Transport.send}, which turns SDK failures into
 * `BackendError`s.
 *
 * @module
 */

import { createHash } from "node:crypto";
import { homedir } from "node:os";
import { join } from "node:path";
import {
  CreateBucketCommand,
  type CreateBucketCommandInput,
  HeadBucketCommand,
  S3Client,
  type S3ClientConfig,
} from "@aws-sdk/client-s3";
import { fromNodeProviderChain } from "@aws-sdk/credential-providers";
import type { OperationContext } from "../../core/backend.ts";
import { BackendError, ErrorCode } from "../../core/errors.ts";
import type { ParsedUrl } from "../../core/url.ts";
import { toBackendError } from "./error.ts";
import { type FetchHandler, fetchHandler, UploadHandler } from "./handlers.ts";
import type { S3Settings } from "./options.ts";

const GCS_ENDPOINT = "https://storage.googleapis.com";
const SILENT = { trace() {}, debug() {}, info() {}, warn() {}, error() {} };

/** An SDK call under a signal: `(o) => client.send(command, o)`. */
export type SdkCall<T> = (options: { abortSignal?: AbortSignal }) => Promise<T>;

/**
 * The connection to one bucket: made in the constructor without I/O; the
 * clients are built on first use and dropped by {@linkcode reset}.
 */
export class S3Transport {
  /** The bucket. */
  readonly bucket: string;
  /** The key prefix that acts as the folder: empty, or ending with `/`. */
  readonly prefix: string;
  /** The region requests are signed for. */
  readonly region: string;
  readonly #endpoint: string | undefined;
  readonly #pathStyle: boolean;
  readonly #credentials: S3ClientConfig["credentials"];
  readonly #contentMd5: boolean;
  readonly #createBucket: boolean;
  #client: S3Client | undefined;
  #readClient: S3Client | undefined;
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
    this.#endpoint = endpoint;
    this.#pathStyle = settings.forcePathStyle ?? (endpoint !== undefined);
    const profile = settings.profile ?? (gs ? undefined : env("AWS_PROFILE"));
    this.region = settings.region ??
      (gs ? undefined : env("AWS_REGION") ?? env("AWS_DEFAULT_REGION") ?? profileRegion(profile)) ??
      "us-east-1";
    this.#credentials = credentialsFor(gs, profile, settings);
    this.#contentMd5 = settings.contentMd5;
    this.#createBucket = settings.createBucket;
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
   * The client for requests with a file body (uploads), made on first use,
   * after the bucket check passed once.
   */
  async writer(ctx?: OperationContext): Promise<S3Client> {
    const client = this.#client ?? (this.#client = this.#makeClient(new UploadHandler()));
    if (!this.#bucketChecked) {
      const check = this.#checkBucket(this.fetchClient(), ctx);
      this.#bucketChecked = check;
      check.catch(() => {
        if (this.#bucketChecked === check) this.#bucketChecked = undefined;
      });
    }
    await this.#bucketChecked;
    return client;
  }

  /** The client for requests without a file body (GET, HEAD, DELETE), after the bucket check. */
  async reader(ctx?: OperationContext): Promise<S3Client> {
    await this.writer(ctx);
    return this.fetchClient();
  }

  /** The fetch client, without the bucket check (for the listing that doubles as one). */
  fetchClient(): S3Client {
    return this.#readClient ?? (this.#readClient = this.#makeClient(fetchHandler));
  }

  /** One SDK call under the attempt's signal (or `signal`); SDK errors come back as BackendError. */
  async send<T>(call: SdkCall<T>, ctx?: OperationContext, signal?: AbortSignal): Promise<T> {
    const abortSignal = signal ?? ctx?.signal;
    try {
      return await call(abortSignal ? { abortSignal } : {});
    } catch (err) {
      throw this.convert(err);
    }
  }

  /** An error as a BackendError whose message may name this bucket and region. */
  convert(err: unknown): BackendError {
    return toBackendError(err, { bucket: this.bucket, region: this.region });
  }

  /** Drop the clients and their connections: the next request starts afresh. */
  reset(): void {
    this.#client?.destroy();
    this.#client = undefined;
    this.#readClient?.destroy();
    this.#readClient = undefined;
  }

  #makeClient(handler: FetchHandler): S3Client {
    const config: S3ClientConfig = {
      region: this.region,
      forcePathStyle: this.#pathStyle,
      maxAttempts: 1, // stowage's wrapper retries
      requestChecksumCalculation: "WHEN_REQUIRED",
      responseChecksumValidation: "WHEN_REQUIRED",
      expectContinueHeader: false,
      requestHandler: handler as S3ClientConfig["requestHandler"],
      logger: SILENT, // a library does not write to the console
      credentials: this.#credentials,
    };
    if (this.#endpoint) config.endpoint = this.#endpoint;
    else config.followRegionRedirects = true;
    const client = new S3Client(config);
    if (this.#contentMd5) {
      // DeleteObjects needs a body checksum: the SDK adds a CRC32 under
      // WHEN_REQUIRED; older Ceph and other S3-compatible stores accept only
      // Content-MD5, so send that too.
      client.middlewareStack.add(
        (next, context) => (args) => {
          const req = args.request as { headers?: Record<string, string>; body?: unknown };
          if (
            context.commandName === "DeleteObjectsCommand" && typeof req.body === "string" &&
            req.headers
          ) {
            req.headers["content-md5"] = createHash("md5").update(req.body).digest("base64");
          }
          return next(args);
        },
        { step: "build", name: "stowageDeleteObjectsMd5" },
      );
    }
    return client;
  }

  /** HeadBucket: a missing bucket is code 52 naming the fix (or is created with createBucket). */
  async #checkBucket(client: S3Client, ctx?: OperationContext): Promise<void> {
    try {
      await this.send((o) => client.send(new HeadBucketCommand({ Bucket: this.bucket }), o), ctx);
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
      const input: CreateBucketCommandInput = { Bucket: this.bucket };
      if (!this.#endpoint && this.region !== "us-east-1") {
        input.CreateBucketConfiguration = { LocationConstraint: this.region as never };
      }
      await this.send((o) => client.send(new CreateBucketCommand(input), o), ctx);
    }
  }
}

/**
 * The credentials: keys from the options (or `GS_*` for `gs://`), else the
 * SDK's provider chain. Made once (no I/O until first use) and shared by
 * both clients, so they are resolved and cached once, not after every retry.
 */
function credentialsFor(
  gs: boolean,
  profile: string | undefined,
  settings: S3Settings,
): S3ClientConfig["credentials"] {
  const keyId = settings.accessKeyId ?? (gs ? env("GS_ACCESS_KEY_ID") : undefined);
  const secret = settings.secretAccessKey ?? (gs ? env("GS_SECRET_ACCESS_KEY") : undefined);
  if ((keyId === undefined) !== (secret === undefined)) {
    throw new BackendError(
      gs
        ? "Incomplete credentials: set both GS_ACCESS_KEY_ID and GS_SECRET_ACCESS_KEY"
        : 'Incomplete credentials: options "accessKeyId" and "secretAccessKey" go together',
      { code: ErrorCode.user_error },
    );
  }
  const token = settings.sessionToken;
  if (keyId !== undefined && secret !== undefined) {
    return {
      accessKeyId: keyId,
      secretAccessKey: secret,
      ...(token ? { sessionToken: token } : {}),
    };
  }
  if (gs && !profile) return noGsCredentials;
  return fromNodeProviderChain(profile ? { profile } : {});
}

/** A credentials provider for `gs://` without keys: a clear code-51 error, not AWS keys sent to Google. */
function noGsCredentials(): Promise<never> {
  return Promise.reject(
    new BackendError(
      "no credentials for gs://: set GS_ACCESS_KEY_ID and GS_SECRET_ACCESS_KEY (HMAC keys), or the option profile",
      { code: ErrorCode.backend_permission_denied },
    ),
  );
}

/** An environment variable; unset, empty or unreadable (no --allow-env) is `undefined`. */
function env(name: string): string | undefined {
  try {
    return Deno.env.get(name) || undefined;
  } catch {
    return undefined;
  }
}

/** The `region` of a profile in the shared config file (`AWS_CONFIG_FILE`, else `~/.aws/config`). */
function profileRegion(profile: string | undefined): string | undefined {
  const name = profile ?? "default";
  let text: string;
  try {
    text = Deno.readTextFileSync(env("AWS_CONFIG_FILE") ?? join(homedir(), ".aws", "config"));
  } catch {
    return undefined;
  }
  let inSection = false;
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.replace(/[#;].*$/, "").trim();
    const section = /^\[\s*(.+?)\s*\]$/.exec(line);
    if (section) {
      const s = section[1]!.replace(/^profile\s+/, "");
      inSection = s === name;
      continue;
    }
    const kv = /^region\s*=\s*(\S+)$/.exec(line);
    if (inSection && kv) return kv[1];
  }
  return undefined;
}
