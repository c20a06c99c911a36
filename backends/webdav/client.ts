/**
 * The connection to a WebDAV server: where the folder is (it follows the
 * folder when a redirect moves it), credentials (Basic auth, resolved on the
 * first request and sent only to the URL's own host), extra headers, and
 * requests that follow redirects (up to `maxRedirects`; `https` to plain
 * `http` is refused), over the kept-alive pools of {@linkcode Connections}.
 *
 * Four ways to send: file uploads through the shared `Http1Client` (Deno
 * sockets, a real `Content-Length`, one reused buffer), gets and ranged
 * reads through Deno's `fetch` (it moves bodies fastest), streamed writes
 * and everything else, and everything with `insecureSkipVerify` (which
 * Deno's TLS cannot do), on `node:http`.
 *
 * @module
 */

import { Buffer } from "node:buffer";
import http from "node:http";
import https from "node:https";
import type { OperationContext } from "../../core/backend.ts";
import { BackendError, ErrorCode } from "../../core/errors.ts";
import type { OptionsParsed } from "../../core/options.ts";
import type { ParsedUrl } from "../../core/url.ts";
import { Connections } from "./connections.ts";
import { toBackendError } from "./error.ts";
import { type Body, exchange, type Reply } from "./exchange.ts";
import { hasHeader, parseHeaders } from "./headers.ts";
import type { WEBDAV_OPTIONS } from "./options.ts";
import { encodePath, encodeSegment, hostHeader, safeDecode } from "./paths.ts";

/** The statuses that redirect. */
const REDIRECTS: ReadonlySet<number> = new Set([301, 302, 303, 307, 308]);

/** What a request sends besides its method and path. */
export interface RequestOptions {
  /** The request's own headers. */
  headers?: Record<string, string>;
  /** The body, if any. */
  body?: Body;
  /** For MOVE: the name to move to, in the folder (wherever the folder now is). */
  destination?: string;
  /** Progress and cancellation. */
  ctx?: OperationContext | undefined;
}

/** A PUT's answer, and how many body bytes were written before it came. */
export interface PutReply extends Reply {
  /** Body bytes written to the connection (all of them unless the server answered early). */
  bodySent: number;
}

/** The connection to one WebDAV folder: location, credentials, keep-alive, redirects. */
export class DavClient {
  /** `http:` or `https:`. */
  #protocol: "http:" | "https:";
  /** The host for the `Host` and `Destination` headers (`host:port`, IPv6 in brackets). */
  #host: string;
  /** The folder's path, percent-encoded, with leading and trailing `/`. */
  #folder: string;
  readonly #authHost: string;
  readonly #username: string | undefined;
  readonly #password: () => Promise<string | undefined>;
  #auth: Promise<string> | undefined;
  readonly #headers: Record<string, string>;
  readonly #insecure: boolean;
  readonly #maxRedirects: number;
  readonly #bufferSize: number;
  readonly #pools: Connections;
  #sent = 0;

  /**
   * Work out the server and folder; no I/O.
   *
   * @param password Resolves the password, called once at the first request that needs it.
   * @throws {BackendError} Code 23 for a URL that is not WebDAV or a malformed `headers` option.
   */
  constructor(
    url: ParsedUrl,
    settings: OptionsParsed<typeof WEBDAV_OPTIONS>,
    password: () => Promise<string | undefined>,
  ) {
    if (!["webdav", "webdavs", "http", "https"].includes(url.scheme)) {
      throw new BackendError(`Invalid URL "${url.stripAuth()}": not a WebDAV URL`, {
        code: ErrorCode.user_error,
      });
    }
    const secure = url.scheme === "webdavs" || url.scheme === "https";
    this.#protocol = secure ? "https:" : "http:";
    this.#authHost = url.hostname!;
    this.#host = hostHeader(this.#protocol, this.#authHost, url.port ?? (secure ? 443 : 80));
    this.#folder = encodePath(url.path, true);
    this.#username = url.username;
    this.#password = password;
    this.#headers = parseHeaders(settings.headers);
    this.#insecure = settings.insecureSkipVerify;
    this.#maxRedirects = settings.maxRedirects;
    this.#bufferSize = settings.bufferSize;
    this.#pools = new Connections({
      caFile: settings.caFile,
      insecure: this.#insecure,
      bufferSize: this.#bufferSize,
    });
  }

  /** The folder as a plain HTTP(S) URL, without credentials (after any redirect of the folder). */
  get baseUrl(): string {
    return `${this.#protocol}//${this.#host}${this.#folder}`;
  }

  /** The folder's path, percent-encoded, with leading and trailing `/`. */
  get folder(): string {
    return this.#folder;
  }

  /** The folder's path for messages: decoded, without the slashes around it. */
  get folderName(): string {
    return safeDecode(this.#folder.replace(/^\/+|\/+$/g, ""));
  }

  /** The encoded path of `name` in the folder. */
  pathOf(name: string): string {
    return this.#folder + encodeSegment(name);
  }

  /** Whether certificates go unchecked (then every request goes through `node:https`). */
  get insecure(): boolean {
    return this.#insecure;
  }

  /** How many requests have been started so far (each hop of a redirect counts). */
  get sent(): number {
    return this.#sent;
  }

  /**
   * Send a request to `path` on `node:http` and follow redirects; resolves
   * with the final answer, whose body the caller reads or drains.
   */
  request(method: string, path: string, opts: RequestOptions = {}): Promise<http.IncomingMessage> {
    return this.#follow(path, opts, async (target, headers) =>
      exchange({
        method,
        target,
        headers: await this.#headersFor(target, headers),
        body: opts.body,
        agent: this.#pools.agent(target),
        bufferSize: this.#bufferSize,
        ctx: opts.ctx,
      }));
  }

  /**
   * PUT a local file to `path`, following redirects (each hop sends the
   * body again from the file); resolves with the final answer and how much
   * of the body went out before it.
   */
  put(path: string, file: string, size: number, ctx?: OperationContext): Promise<PutReply> {
    const body = { file, size };
    const opts = { headers: { "Content-Type": "application/octet-stream" } };
    return this.#follow(path, opts, async (target, extra) => {
      const headers = await this.#headersFor(target, extra);
      let sent = 0;
      const counted: OperationContext = {
        signal: ctx?.signal ?? new AbortController().signal,
        progress: (n = 0) => {
          sent += n;
          ctx?.progress(n);
        },
      };
      if (this.#insecure) {
        const agent = this.#pools.agent(target, true);
        const bufferSize = this.#bufferSize;
        const res = await exchange({
          method: "PUT",
          target,
          headers,
          body,
          agent,
          bufferSize,
          ctx: counted,
        });
        return Object.assign(res, { bodySent: sent });
      }
      const reply = await this.#pools.putFile(target, headers, body, counted);
      return { ...reply, bodySent: sent };
    });
  }

  /**
   * Send `method` to `path` with Deno's fetch (redirects not followed, no
   * body); resolves with the answer whatever its status, `undefined` for a
   * redirect (the caller then goes through {@linkcode request}, which also
   * learns where the folder moved).
   *
   * @throws {BackendError} 60 for an untrusted certificate or TLS to a plain
   * server; 38 for a failed connection or a server that does not speak HTTP.
   */
  async fetch(
    method: string,
    path: string,
    headers: Record<string, string>,
    ctx?: OperationContext,
  ): Promise<Response | undefined> {
    const url = `${this.#protocol}//${this.#host}${path}`;
    let res: Response;
    try {
      this.#sent++;
      res = await fetch(url, {
        method,
        // identity: fetch would otherwise ask for gzip and inflate, and length checks would fail.
        headers: await this.#headersFor(new URL(url), {
          "Accept-Encoding": "identity",
          ...headers,
        }),
        redirect: "manual",
        client: this.#pools.fetchClient(),
        ...(ctx ? { signal: ctx.signal } : {}),
      });
    } catch (err) {
      const text = `${(err as Error)?.message} ${((err as Error)?.cause as Error)?.message}`;
      if (!ctx?.signal.aborted && /invalid HTTP version/i.test(text)) {
        // Not HTTP: node:http's parser keeps what the server said; ask again to show it.
        (await this.request(method, path, { ctx, headers })).resume();
      }
      throw toBackendError(err, method, ctx?.signal);
    }
    if (!REDIRECTS.has(res.status)) return res;
    await res.body?.cancel().catch(() => {});
    return undefined;
  }

  /**
   * A `node:http` request to `path` with the store's headers and credentials,
   * not yet sent (redirects are not followed), on a fresh connection: for a
   * body streamed by the caller.
   */
  async openRequest(
    method: string,
    path: string,
    headers: Record<string, string>,
  ): Promise<http.ClientRequest> {
    const target = new URL(`${this.#protocol}//${this.#host}${path}`);
    const all = await this.#headersFor(target, headers);
    this.#sent++;
    const options: https.RequestOptions = {
      method,
      protocol: target.protocol,
      hostname: target.hostname.replace(/^\[|\]$/g, ""),
      port: Number(target.port) || (target.protocol === "https:" ? 443 : 80),
      path: target.pathname,
      headers: all,
      agent: this.#pools.agent(target, true),
    };
    return target.protocol === "https:" ? https.request(options) : http.request(options);
  }

  /** Drop every kept-alive connection, so the next request connects afresh. */
  close(): void {
    this.#pools.close();
  }

  /**
   * Send a request to `path` with `send` (given the URL and the request's
   * own headers) and follow redirects; resolves with the final answer.
   */
  async #follow<R extends Reply>(
    path: string,
    opts: Pick<RequestOptions, "headers" | "destination">,
    send: (target: URL, headers: Record<string, string>) => Promise<R>,
  ): Promise<R> {
    const folderAtStart = this.#folder;
    const suffix = path.startsWith(folderAtStart) ? path.slice(folderAtStart.length) : undefined;
    let target = new URL(`${this.#protocol}//${this.#host}${path}`);
    let staleRetry = true;
    for (let hop = 0;; hop++) {
      const headers: Record<string, string> = { ...opts.headers };
      if (opts.destination !== undefined) {
        // The folder may have moved with a redirect: name the destination where the source now is.
        const dir = target.pathname.slice(0, target.pathname.lastIndexOf("/") + 1);
        headers["Destination"] = `${target.protocol}//${target.host}${dir}${
          encodeSegment(opts.destination)
        }`;
      }
      let res: R;
      try {
        this.#sent++;
        res = await send(target, headers);
      } catch (err) {
        // A kept-alive socket the server closed meanwhile: try once more on a new one.
        if (staleRetry && (err as { staleSocket?: boolean }).staleSocket) {
          staleRetry = false;
          hop--;
          continue;
        }
        throw err;
      }
      const status = res.statusCode ?? 0;
      const location = res.headers["location"];
      if (!REDIRECTS.has(status) || typeof location !== "string" || !location) return res;
      res.resume();
      if (hop >= this.#maxRedirects) {
        throw new BackendError(`too many redirects (more than ${this.#maxRedirects})`, {
          code: ErrorCode.backend_error,
        });
      }
      target = this.#redirectTarget(target, location);
      // When the folder itself moved (the suffix survived the redirect), go there directly from now on.
      if (
        suffix !== undefined && this.#folder === folderAtStart && target.pathname.endsWith(suffix)
      ) {
        const folder = target.pathname.slice(0, target.pathname.length - suffix.length);
        if (folder.startsWith("/") && folder.endsWith("/")) {
          this.#protocol = target.protocol as "http:" | "https:";
          const hostname = target.hostname.replace(/^\[|\]$/g, "");
          const port = Number(target.port) || (target.protocol === "https:" ? 443 : 80);
          this.#host = hostHeader(this.#protocol, hostname, port);
          this.#folder = folder;
        }
      }
    }
  }

  /** Where a redirect from `from` to `location` goes; only http(s), never https → http. */
  #redirectTarget(from: URL, location: string): URL {
    const next = new URL(location, from);
    if (next.protocol !== "http:" && next.protocol !== "https:") {
      throw new BackendError(
        `the server redirected to an unsupported URL scheme ${next.protocol}`,
        {
          code: ErrorCode.backend_code_error,
        },
      );
    }
    if (from.protocol === "https:" && next.protocol === "http:") {
      throw new BackendError("the server redirected from https to insecure http; refusing", {
        code: ErrorCode.backend_untrusted_host,
      });
    }
    return next;
  }

  /** The headers sent to `target`: the extra ones, then the request's own, then credentials (its own host only). */
  async #headersFor(
    target: URL,
    extra: Record<string, string>,
  ): Promise<Record<string, string>> {
    const headers: Record<string, string> = { ...this.#headers, ...extra };
    if (
      this.#username !== undefined && target.hostname.replace(/^\[|\]$/g, "") === this.#authHost &&
      !hasHeader(this.#headers, "authorization")
    ) {
      headers["Authorization"] = await this.#authorization();
    }
    return headers;
  }

  /** The Basic auth header; the password is resolved once, at the first request that needs it. */
  #authorization(): Promise<string> {
    return this.#auth ??= this.#password().then(
      (pw) => "Basic " + Buffer.from(`${this.#username}:${pw ?? ""}`, "utf8").toString("base64"),
      (err) => {
        this.#auth = undefined; // asked again on the next attempt
        throw err;
      },
    );
  }
}
