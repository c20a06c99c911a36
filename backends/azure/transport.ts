/**
 * How `azure://` reaches the blob service: the container and folder from
 * the URL; the SDK's container client over `node:http(s)` with its own
 * keep-alive agent (container creation, deletes, queries); Deno's `fetch`
 * with its own HTTP client (gets, listings, the block-list commit); and
 * core/http1.ts for upload bodies streamed from the file (Azure needs a
 * Content-Length, and `fetch` sends stream bodies chunked). With a proxy set
 * in the environment, the SDK and uploads go through `fetch`'s proxy
 * support instead.
 *
 * @module
 */

import { Agent as HttpAgent } from "node:http";
import { Agent as HttpsAgent } from "node:https";
import type { BlobClient, ContainerClient } from "@azure/storage-blob";
import type { OperationContext } from "../../core/backend.ts";
import { BufferPool } from "../../core/buffer_pool.ts";
import { BackendError, ErrorCode } from "../../core/errors.ts";
import { type Http1Answer, Http1Client, type Http1Request } from "../../core/http1.ts";
import type { ParsedUrl } from "../../core/url.ts";
import {
  type AzureCredentials,
  envVar,
  resolveCredentials,
  serviceClient,
  signedBlobUrl,
  signedContainerUrl,
} from "./credentials.ts";
import { answerError, toBackendError } from "./error.ts";
import type { AzureSettings } from "./options.ts";

/** The REST version sent with our own requests (a SAS carries its own `sv`); `Cold` needs 2021-12-02. */
export const API_VERSION = "2021-12-02";
const PROXY_ENV = ["HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy"];
/** Idle upload connections older than this are not reused (servers drop idle ones after ~5 s). */
const IDLE_REUSE_MS = 4000;
/** The most an upload's answer body may hold (an error's XML). */
const MAX_ANSWER = 1024 * 1024;
/** Buffer an upload is read through, one per request in flight. */
const PUT_BUFFER = 256 * 1024;

/** Whether a proxy is set in the environment (which `fetch` honours and our own sockets would not). */
export function proxyConfigured(): boolean {
  return PROXY_ENV.some((n) => envVar(n) !== undefined);
}

/** The connections to one container; made without I/O, connected on first use. */
export class AzureTransport {
  /** The container name. */
  readonly container: string;
  /** The folder inside the container, `""` or ending with `/`. */
  readonly prefix: string;
  readonly #creds: AzureCredentials;
  #client: ContainerClient | undefined;
  #agent: HttpAgent | undefined;
  #http: Deno.HttpClient | undefined;
  /** Fetch clients replaced by `reset` while transfers were running; closed later. */
  #retired: Deno.HttpClient[] = [];
  #transfers = 0;
  readonly #uploader = new Http1Client({
    idleReuseMs: IDLE_REUSE_MS,
    maxAnswerBytes: MAX_ANSWER,
    buffers: new BufferPool(PUT_BUFFER, 64),
  });

  /** Check the container name in the URL, then resolve the credentials (code 23 when either is bad); no I/O. */
  constructor(url: ParsedUrl, settings: AzureSettings) {
    const parts = url.path.replace(/^\/\//, "").split("/").filter((p) => p !== "");
    const container = parts.shift() ?? "";
    const problem = containerProblem(container);
    if (problem) {
      throw new BackendError(
        `Invalid URL "${url.stripAuth()}": ${problem} (write azure://container[/folder])`,
        { code: ErrorCode.user_error },
      );
    }
    this.container = container;
    this.prefix = parts.length ? `${parts.join("/")}/` : "";
    this.#creds = resolveCredentials(settings);
  }

  /** The container client, built on first use with its own keep-alive agent. */
  containerClient(): ContainerClient {
    if (this.#client) return this.#client;
    // Our own agent (TCP_NODELAY, closed by close()) — unless a proxy is set in
    // the environment: the SDK's proxy policy skips requests that carry an agent.
    if (proxyConfigured()) {
      this.#client = serviceClient(this.#creds).getContainerClient(this.container);
      return this.#client;
    }
    const probe = serviceClient(this.#creds);
    this.#agent = probe.url.startsWith("https:")
      ? new HttpsAgent({ keepAlive: true, noDelay: true } as never)
      : new HttpAgent({ keepAlive: true, noDelay: true } as never);
    this.#client = serviceClient(this.#creds, this.#agent).getContainerClient(this.container);
    return this.#client;
  }

  /** The SDK client of one stored name. */
  blobClient(name: string): BlobClient {
    return this.containerClient().getBlobClient(this.prefix + name);
  }

  /** The blob's URL with the `permissions` asked (`r`, or `cw` to write), signed when we hold the key. */
  blobUrl(name: string, permissions: string): Promise<string> {
    return signedBlobUrl(this.blobClient(name), permissions);
  }

  /** The container's URL with a SAS that may list it. */
  containerUrl(): Promise<string> {
    return signedContainerUrl(this.containerClient());
  }

  /**
   * Run a transfer that uses the fetch client: a client `reset` replaces
   * while transfers run is closed only when the last one ends.
   */
  async transfer<T>(fn: () => Promise<T>): Promise<T> {
    this.#transfers++;
    try {
      return await fn();
    } finally {
      if (--this.#transfers === 0 && this.#retired.length) {
        for (const h of this.#retired) h.close();
        this.#retired = [];
      }
    }
  }

  /**
   * One request through the fetch client. An answer with a status other
   * than 2xx or one of `pass` throws with its code and `Retry-After`;
   * network failures throw code 38 (or 60 for TLS) without the URL.
   */
  async request(
    method: string,
    url: string,
    headers: Record<string, string>,
    signal: AbortSignal | undefined,
    pass: number[] = [],
    body?: Uint8Array,
  ): Promise<Response> {
    const failed = (err: unknown) =>
      toBackendError(signal?.aborted ? signal.reason : err, { network: true });
    let res: Response;
    try {
      res = await fetch(url, {
        method,
        headers: { "accept-encoding": "identity", "x-ms-version": API_VERSION, ...headers },
        client: this.#fetchClient(),
        ...(body ? { body: body as Uint8Array<ArrayBuffer> } : {}),
        ...(signal ? { signal } : {}),
      });
    } catch (err) {
      throw failed(err);
    }
    if (res.ok && method !== "PUT") return res;
    if (pass.includes(res.status)) return res;
    let text = "";
    try {
      text = await res.text();
    } catch (err) {
      throw failed(err);
    }
    if (res.ok) return res;
    const errorCode = res.headers.get("x-ms-error-code") ?? undefined;
    throw answerError({ status: res.status, errorCode, headers: res.headers, body: text });
  }

  /** GET a small XML answer; `undefined` on 404; other statuses throw. */
  async fetchText(url: string, ctx?: OperationContext): Promise<string | undefined> {
    const res = await this.request("GET", url, {}, ctx?.signal, [404]);
    if (res.status === 404) {
      await res.body?.cancel().catch(() => {});
      return undefined;
    }
    try {
      return await res.text();
    } catch (err) {
      throw toBackendError(ctx?.signal.aborted ? ctx.signal.reason : err, { network: true });
    }
  }

  /** Send an upload through the HTTP/1.1 client; failures without an answer are mapped. */
  async upload(request: Http1Request): Promise<Http1Answer> {
    try {
      return await this.#uploader.send({
        ...request,
        headers: { "x-ms-version": API_VERSION, ...request.headers },
      });
    } catch (err) {
      const signal = request.signal;
      throw toBackendError(signal?.aborted ? signal.reason : err, { network: true });
    }
  }

  /**
   * Drop idle pooled connections (one may be the broken one) so the next
   * attempt connects afresh; requests of other operations running at the
   * same time on this store keep their connections.
   */
  reset(): void {
    const free =
      (this.#agent as { freeSockets?: Record<string, { destroy(): void }[]> } | undefined)
        ?.freeSockets ?? {};
    for (const list of Object.values(free)) for (const socket of [...list]) socket.destroy();
    this.#uploader.closeIdle();
    if (this.#http) {
      if (this.#transfers === 0) this.#http.close();
      else this.#retired.push(this.#http);
      this.#http = undefined;
    }
  }

  /** Close every connection; the next call reconnects. */
  close(): void {
    this.#agent?.destroy();
    this.#agent = undefined;
    this.#client = undefined;
    this.#uploader.closeIdle();
    for (const h of [...this.#retired, ...(this.#http ? [this.#http] : [])]) h.close();
    this.#retired = [];
    this.#http = undefined;
  }

  /** Deno's own HTTP client for downloads and listings (faster and leaner than node:http here). */
  #fetchClient(): Deno.HttpClient {
    this.#http ??= Deno.createHttpClient({});
    return this.#http;
  }
}

/** Why a container name is not valid (Azure's rules), or `undefined`. */
function containerProblem(name: string): string | undefined {
  if (name === "") return "it names no container";
  if (name === "$root" || name === "$web") return undefined;
  if (name.length < 3 || name.length > 63) {
    return `the container name "${name}" must be 3 to 63 characters long`;
  }
  if (!/^[a-z0-9](?:[a-z0-9]|-(?!-))*[a-z0-9]$/.test(name)) {
    return `the container name "${name}" may hold only lowercase letters, digits and single hyphens, ` +
      `and must start and end with a letter or digit`;
  }
  return undefined;
}
