/**
 * How `azure://` reaches the blob service: the container and folder from
 * the URL; URLs signed by sas.ts; Deno's `fetch` with its own HTTP client
 * for every request without a file body (gets, listings, queries, deletes,
 * container creation, Blob Batch deletes, the block-list commit); and
 * core/http1.ts for upload bodies (Azure needs a Content-Length, and
 * `fetch` sends stream bodies chunked). No SDK: a get or a put loads
 * nothing it does not use. Every request carries the operation's signal,
 * so the wrapper's timeout and Ctrl-C end it at once. A server that does not speak HTTP
 * (say an SSH server on that port) fails at once with code 38 quoting the
 * first line it sends on connect.
 *
 * @module
 */

import type { OperationContext } from "../../core/backend.ts";
import { BufferPool } from "../../core/buffer_pool.ts";
import { BackendError, ErrorCode } from "../../core/errors.ts";
import { type Http1Answer, Http1Client, type Http1Request } from "../../core/http1.ts";
import type { ParsedUrl } from "../../core/url.ts";
import { type AzureCredentials, envVar, resolveCredentials } from "./credentials.ts";
import { answerError, notHttp, toBackendError } from "./error.ts";
import type { AzureSettings } from "./options.ts";
import { API_VERSION, checkAccountKey, escapePath, SasSigner } from "./sas.ts";

export { API_VERSION } from "./sas.ts";

const PROXY_ENV = ["HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy"];
/** Idle upload connections older than this are not reused (servers drop idle ones after ~5 s). */
const IDLE_REUSE_MS = 4000;
/** The most an upload's answer body may hold (an error's XML). */
const MAX_ANSWER = 1024 * 1024;
/** Buffer an upload is read through, one per request in flight. */
const PUT_BUFFER = 256 * 1024;
/** Azure's longest blob name, in characters, folder included. */
const MAX_NAME = 1024;
/** The most the greeting probe waits (less when the caller's timeout is shorter). */
const PROBE_MS = 1000;

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
  readonly #signer: SasSigner;
  #http: Deno.HttpClient | undefined;
  /** Fetch clients replaced by `reset` while transfers were running; closed later. */
  #retired: Deno.HttpClient[] = [];
  #transfers = 0;
  /** The caller's timeout of the latest operation (ms, 0: none). */
  #timeout = 0;
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
    const creds: AzureCredentials = resolveCredentials(settings);
    checkAccountKey(creds);
    this.#signer = new SasSigner(creds, container);
  }

  /** Remember the caller's timeout: it bounds the backend's own waits. */
  note(ctx: OperationContext | undefined): void {
    if (ctx?.timeout !== undefined) this.#timeout = ctx.timeout;
  }

  /**
   * The full name of `name` in the container (folder included); code 59
   * when Azure cannot hold it (more than 1,024 characters), naming only
   * the store-relative name.
   */
  blobPath(name: string): string {
    const path = this.prefix + name;
    if (path.length > MAX_NAME) {
      const short = name.length > 60 ? `${name.slice(0, 40)}…${name.slice(-12)}` : name;
      throw new BackendError(
        `the name "${short}" is too long for Azure: ${path.length} characters with the folder, ` +
          `at most ${MAX_NAME}`,
        { code: ErrorCode.backend_unsupported },
      );
    }
    return path;
  }

  /** The full name of `name`, percent-encoded for a URL path (code 59 when too long). */
  escapedPath(name: string): string {
    return escapePath(this.blobPath(name));
  }

  /** The blob's URL with the `permissions` asked (`r`, `cw`, `d`), signed when we hold the key. */
  blobUrl(name: string, permissions: string): Promise<string> {
    return this.#signer.blobUrl(this.blobPath(name), permissions);
  }

  /** The container's URL with `query` first and a SAS allowed `permissions` (default `l`, to list). */
  containerUrl(query: string, permissions = "l"): Promise<string> {
    return this.#signer.containerUrl(permissions, query);
  }

  /**
   * Create the container: `"created"`, `"exists"` (409), or `"denied"` when
   * these credentials may not create containers (a container SAS).
   */
  async createContainer(signal: AbortSignal | undefined): Promise<"created" | "exists" | "denied"> {
    const url = await this.#signer.createContainerUrl();
    const res = await this.request("PUT", url, {}, signal, [401, 403, 409], new Uint8Array(0));
    if (res.status === 409) return "exists";
    if (res.status === 401 || res.status === 403) return "denied";
    return "created";
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
      this.#release();
    }
  }

  /**
   * `body` as a stream that counts as a running transfer until it ends,
   * fails or is cancelled (a streamed read outlives the call that opened it).
   */
  hold(body: ReadableStream<Uint8Array>): ReadableStream<Uint8Array> {
    this.#transfers++;
    const reader = body.getReader();
    let held = true;
    const release = () => {
      if (!held) return;
      held = false;
      this.#release();
    };
    return new ReadableStream<Uint8Array>({
      async pull(controller) {
        try {
          const r = await reader.read();
          if (r.done) {
            release();
            controller.close();
          } else controller.enqueue(r.value);
        } catch (err) {
          release();
          throw err;
        }
      },
      async cancel(reason) {
        release();
        await reader.cancel(reason);
      },
    }, { highWaterMark: 0 });
  }

  /**
   * One request through the fetch client. An answer with a status other
   * than 2xx or one of `pass` throws with its code and `Retry-After`;
   * network failures throw code 38 (or 60 for TLS) without the URL. A GET
   * answer comes with its body to read (or cancel); any other is read
   * whole first (its connection is then free), and comes as a copy.
   */
  async request(
    method: string,
    url: string,
    headers: Record<string, string>,
    signal: AbortSignal | undefined,
    pass: number[] = [],
    body?: Uint8Array,
  ): Promise<Response> {
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
      throw await this.#failure(err, signal);
    }
    const passed = res.ok || pass.includes(res.status);
    if (passed && method === "GET") return res;
    let text = "";
    try {
      text = await res.text();
    } catch (err) {
      throw await this.#failure(err, signal);
    }
    if (passed) {
      return new Response(text === "" ? null : text, { status: res.status, headers: res.headers });
    }
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
      throw await this.#failure(err, ctx?.signal);
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
      throw await this.#failure(err, request.signal);
    }
  }

  /**
   * Drop idle pooled connections (one may be the broken one) so the next
   * attempt connects afresh; requests of other operations running at the
   * same time on this store keep their connections.
   */
  reset(): void {
    this.#uploader.closeIdle();
    if (this.#http) {
      if (this.#transfers === 0) this.#http.close();
      else this.#retired.push(this.#http);
      this.#http = undefined;
    }
  }

  /** Close every connection; the next call reconnects. */
  close(): void {
    this.#uploader.closeIdle();
    for (const h of [...this.#retired, ...(this.#http ? [this.#http] : [])]) h.close();
    this.#retired = [];
    this.#http = undefined;
  }

  /**
   * A failure without an answer as a BackendError: an abort as its reason;
   * an answer that is not HTTP as code 38 quoting what the server says on
   * connect (probed for at most a second, or the caller's timeout); else by
   * error.ts.
   */
  async #failure(err: unknown, signal: AbortSignal | undefined): Promise<unknown> {
    if (signal?.aborted) return toBackendError(signal.reason, { network: true });
    if (notHttp(err)) {
      const limit = this.#timeout > 0 ? Math.min(this.#timeout, PROBE_MS) : PROBE_MS;
      const said = await greeting(this.#signer.endpoint, limit);
      return toBackendError(err, { network: true, ...(said !== undefined ? { said } : {}) });
    }
    return toBackendError(err, { network: true });
  }

  /** One transfer ended: close the retired fetch clients when it was the last. */
  #release(): void {
    if (--this.#transfers === 0 && this.#retired.length) {
      for (const h of this.#retired) h.close();
      this.#retired = [];
    }
  }

  /** Deno's own HTTP client for downloads and listings (faster and leaner than node:http here). */
  #fetchClient(): Deno.HttpClient {
    this.#http ??= Deno.createHttpClient({});
    return this.#http;
  }
}

/**
 * The first line a plain-TCP server at `endpoint` sends unasked within `ms`
 * (an SSH or FTP greeting), printable characters only; `undefined` for
 * `https:` endpoints, silence or a failed connect.
 */
async function greeting(endpoint: string, ms: number): Promise<string | undefined> {
  const url = new URL(endpoint);
  if (url.protocol !== "http:") return undefined;
  const signal = AbortSignal.timeout(ms);
  let conn: Deno.TcpConn | undefined;
  try {
    conn = await Deno.connect({
      hostname: url.hostname.replace(/^\[(.*)\]$/, "$1"),
      port: Number(url.port || 80),
      signal,
    });
    const c = conn;
    const buf = new Uint8Array(256);
    const n = await new Promise<number | null>((resolve) => {
      const onAbort = () => resolve(null);
      signal.addEventListener("abort", onAbort, { once: true });
      c.read(buf).then(resolve, () => resolve(null)).finally(() =>
        signal.removeEventListener("abort", onAbort)
      );
    });
    if (!n) return undefined;
    const line = new TextDecoder().decode(buf.subarray(0, n)).split(/\r?\n/)[0] ?? "";
    return line.replace(/[^\x20-\x7e]/g, "?").slice(0, 120) || undefined;
  } catch {
    return undefined;
  } finally {
    try {
      conn?.close();
    } catch {
      // closed already
    }
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
