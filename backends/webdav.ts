/**
 * `webdav://` and `webdavs://` (and their aliases `http://` and `https://`,
 * as in duplicity) — a folder on a WebDAV server (Apache mod_dav, nginx,
 * `rclone serve webdav`, Nextcloud, ...).
 *
 * `webdav://user:pass@host:port/path/` talks to `http://host:port/path/`
 * with Basic auth (the password comes from the URL, else `FTP_PASSWORD`).
 * Uploads go through the shared {@linkcode Http1Client} (Deno sockets, the
 * body streamed from the file through one reused buffer with
 * `Content-Length`); gets through Deno's `fetch`; the other requests (and
 * every request with `insecureSkipVerify`, which Deno's TLS cannot do) on
 * `node:http`/`node:https`. Connections are kept alive and reused across
 * calls, bodies stream from and to disk (memory stays flat with file size),
 * and TLS certificates are verified unless the `insecureSkipVerify` option
 * says otherwise.
 *
 * - A put goes to a hidden temporary name in the folder (`PUT`, the body
 *   streamed from the file with `Content-Length`), then `MOVE`s onto the
 *   final name with `Overwrite: T`; the temporary file is deleted when
 *   anything fails or the operation is cancelled. Missing folders are made
 *   with `MKCOL` on the first put.
 * - A list is one `PROPFIND` with `Depth: 1` (never `infinity`, which Apache
 *   refuses); sub-folders are left out and a missing folder lists as empty.
 * - Redirects (301, 302, 303, 307, 308) are followed, up to `maxRedirects`;
 *   when the folder itself moved, later requests go straight to the new
 *   place. Credentials are only sent to the URL's own host, and a redirect
 *   from `https` to plain `http` is refused.
 * - Errors: 401/403 → 51 (not retried), 404 → 52, 507 → 53, 429/503 → 58
 *   (retried, honouring `Retry-After`), other 5xx and dropped connections
 *   retried; an untrusted TLS certificate → 60 (not retried).
 *
 * @example
 * ```ts ignore
 * import { getBackend } from "@stowage/backends";
 * await using store = await getBackend("webdavs://alice@dav.example.com/backups/host1", {
 *   caFile: "/etc/ssl/private-ca.pem",
 *   headers: "X-Tenant: ops",
 * });
 * console.log(await store.list());
 * ```
 *
 * @module
 */

import { Buffer } from "node:buffer";
import { createReadStream, type ReadStream } from "node:fs";
import { Readable } from "node:stream";
import http from "node:http";
import https from "node:https";
import {
  Backend,
  type BackendOptions,
  type DeclaredCapabilities,
  type OperationContext,
  type QueryResult,
} from "../core/backend.ts";
import { BackendError, ErrorCode, isAbortError } from "../core/errors.ts";
import { BufferPool } from "../core/buffer_pool.ts";
import { httpError } from "../core/http.ts";
import { type Http1Answer, Http1Client } from "../core/http1.ts";
import { tempName } from "../core/names.ts";
import { optBool, optBytes, optNumber, optString } from "../core/options.ts";
import { resolvePassword } from "../core/password.ts";
import type { ParsedUrl } from "../core/url.ts";

/** Options for {@linkcode WebdavBackend}. */
export interface WebdavOptions extends BackendOptions {
  /**
   * A PEM file with the certificate authorities to trust for `webdavs://`
   * (in addition to the system's); default: the system's trust store only.
   */
  caFile?: string;
  /**
   * Accept any TLS certificate, even an expired, self-signed or wrong-host
   * one. Dangerous: anyone on the path can read and change your backups.
   * Default `false`.
   */
  insecureSkipVerify?: boolean | string;
  /**
   * Extra request headers, as duplicity's `--webdav-headers`: an object, or a
   * string `"Name: value, Name2: value2"` (a comma only separates headers
   * when a `Name:` follows it). Sent with every request; an `Authorization`
   * header here replaces the Basic auth from the URL. Default: none.
   */
  headers?: string | Record<string, string>;
  /** How many redirects one request follows; default 10. */
  maxRedirects?: number | string;
  /** Read buffer for uploads (the piece moved at once), e.g. `1M`; default 128 KiB. */
  bufferSize?: number | string;
}

/** One entry of a PROPFIND answer. */
interface DavEntry {
  /** The last path segment, percent-decoded. */
  name: string;
  /** The whole href path, percent-decoded, without a trailing slash. */
  path: string;
  /** A collection (folder). */
  collection: boolean;
  /** `getcontentlength`, when given. */
  size: number | null;
}

/** What a request sends. */
type Body = string | { file: string; size: number };

/** What the redirect loop needs of an answer: `node:http`'s, or one from {@linkcode Http1Client}. */
interface Reply {
  statusCode?: number | undefined;
  statusMessage?: string | undefined;
  headers: Record<string, string | string[] | undefined>;
  /** Drain the body (nothing to do when it was read whole). */
  resume(): unknown;
}

const REDIRECTS: ReadonlySet<number> = new Set([301, 302, 303, 307, 308]);
const PROPFIND_BODY = '<?xml version="1.0" encoding="utf-8"?>\n' +
  '<D:propfind xmlns:D="DAV:"><D:prop><D:resourcetype/><D:getcontentlength/></D:prop></D:propfind>';
/** At most this many names are queried one by one; more use one listing. */
const QUERY_ONE_BY_ONE = 10;
/** How often a download through fetch reports progress (the file's growing size), in ms. */
const PROGRESS_MS = 250;
/** How long removing a temporary file after a failure may take. */
const CLEANUP_MS = 2000;
const TLS_CODES: ReadonlySet<string> = new Set([
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
  "HOSTNAME_MISMATCH",
  "ERR_TLS_CERT_ALTNAME_INVALID",
]);

/**
 * A folder on a WebDAV server.
 *
 * @example
 * ```ts
 * import { ParsedUrl } from "@stowage/backends";
 * import { WebdavBackend } from "@stowage/backends/backends/webdav";
 * const dav = new WebdavBackend(new ParsedUrl("webdavs://bob:pw@dav.example.com:8443/backups"));
 * console.log(dav.baseUrl); // https://dav.example.com:8443/backups/
 * ```
 */
export class WebdavBackend extends Backend {
  /** `http:` or `https:`. */
  #protocol: "http:" | "https:";
  /** The host for the `Host` and `Destination` headers (`host:port`, IPv6 in brackets). */
  #host: string;
  #hostname: string;
  #port: number;
  /** The folder's path, percent-encoded, with leading and trailing `/`. */
  #folder: string;
  readonly #authHost: string;
  readonly #auth: string | undefined;
  readonly #headers: Record<string, string>;
  readonly #caFile: string | undefined;
  readonly #insecure: boolean;
  readonly #maxRedirects: number;
  readonly #bufferSize: number;
  #agents: { http?: http.Agent; https?: https.Agent } = {};
  #client: Deno.HttpClient | undefined;
  #uploads: Http1Client | undefined;
  #ca: string | undefined;
  #folderReady = false;

  /** Work out the server, folder, credentials and options; no network I/O. */
  constructor(url: ParsedUrl, options: WebdavOptions = {}) {
    super(url, options);
    const secure = url.scheme === "webdavs" || url.scheme === "https";
    if (!["webdav", "webdavs", "http", "https"].includes(url.scheme)) {
      throw new BackendError(`Invalid URL "${url.stripAuth()}": not a WebDAV URL`, {
        code: ErrorCode.user_error,
      });
    }
    this.#protocol = secure ? "https:" : "http:";
    this.#hostname = url.hostname!;
    this.#port = url.port ?? (secure ? 443 : 80);
    this.#host = hostHeader(this.#protocol, this.#hostname, this.#port);
    this.#authHost = this.#hostname;
    this.#folder = encodePath(url.path, true);
    if (url.username !== undefined) {
      const password = resolvePassword(url) ?? "";
      this.#auth = "Basic " + Buffer.from(`${url.username}:${password}`, "utf8").toString("base64");
    }
    this.#headers = parseHeaders(options.headers);
    this.#caFile = optString(options, "caFile");
    this.#insecure = optBool(options, "insecureSkipVerify") ?? false;
    this.#maxRedirects = optNumber(options, "maxRedirects", { min: 0, max: 100, integer: true }) ??
      10;
    this.#bufferSize = optBytes(options, "bufferSize", { min: 4096, max: 64 << 20 }) ?? 128 << 10;
  }

  /** The folder as a plain HTTP(S) URL, without credentials (after any redirect of the folder). */
  get baseUrl(): string {
    return `${this.#protocol}//${this.#host}${this.#folder}`;
  }

  /** MOVE with `Overwrite: T` replaces atomically; uploads move `bufferSize` at a time; no name limits. */
  protected override declareCapabilities(): DeclaredCapabilities {
    return {
      atomicOverwrite: true,
      serverSideRename: true,
      chunkSize: this.#bufferSize,
      names: {},
    };
  }

  /** GET the file, streamed to `localPath`; the length is checked against Content-Length. */
  override async _get(name: string, localPath: string, ctx?: OperationContext): Promise<void> {
    const path = this.#folder + encodeSegment(name);
    // Deno's own fetch moves bodies faster and with less garbage than node:http; it
    // cannot skip certificate checks, and redirects are left to #request (which also
    // learns where the folder moved).
    if (!this.#insecure && await this.#fetchGet(path, localPath, ctx)) return;
    const res = await this.#request("GET", path, { ctx });
    if (res.statusCode !== 200) throw await failure(res, "GET");
    await saveBody(res, localPath, ctx);
  }

  /** PUT to a temporary name (streamed from the file), then MOVE onto `name`; the temporary file is removed on failure. */
  override async _put(localPath: string, name: string, ctx?: OperationContext): Promise<void> {
    const size = (await Deno.stat(localPath)).size;
    await this.#ensureFolder(ctx);
    const tmp = tempName(name);
    try {
      await this.#upload(localPath, size, tmp, ctx);
      ctx?.signal.throwIfAborted();
      await this.#move(tmp, name, ctx);
    } catch (err) {
      await this.#removeQuietly(tmp);
      throw err;
    }
  }

  /** PROPFIND `Depth: 1` on the folder: its files (not sub-folders); a missing folder lists as empty. */
  override async _list(ctx?: OperationContext): Promise<string[]> {
    const entries = await this.#propfind(this.#folder, "1", ctx);
    return entries.filter((e) => !e.collection && !this.#isFolder(e)).map((e) => e.name);
  }

  /** DELETE the file; a 404 is fine. */
  override async _delete(name: string, ctx?: OperationContext): Promise<void> {
    const res = await this.#request("DELETE", this.#folder + encodeSegment(name), { ctx });
    if (res.statusCode === 404 || isSuccess(res.statusCode)) {
      res.resume();
      return;
    }
    throw await failure(res, "DELETE");
  }

  /** DELETE each name in turn over the kept-alive connection; missing names are fine. */
  override async _deleteList(names: string[], ctx?: OperationContext): Promise<void> {
    for (const name of names) await this._delete(name, ctx);
  }

  /** PROPFIND `Depth: 0` on the file: its size, or -1 when missing (or a folder). */
  override async _query(name: string, ctx?: OperationContext): Promise<QueryResult> {
    const entries = await this.#propfind(this.#folder + encodeSegment(name), "0", ctx);
    const file = entries.find((e) => !e.collection);
    return { size: file ? file.size : -1 };
  }

  /** A few names one by one (`Depth: 0`), many with one listing; answers only the names asked. */
  override async _queryList(
    names: string[],
    ctx?: OperationContext,
  ): Promise<Record<string, QueryResult>> {
    const out: Record<string, QueryResult> = Object.create(null);
    if (names.length <= QUERY_ONE_BY_ONE) {
      for (const name of names) out[name] = await this._query(name, ctx);
      return out;
    }
    const sizes = new Map<string, number | null>();
    for (const e of await this.#propfind(this.#folder, "1", ctx)) {
      if (!e.collection && !this.#isFolder(e)) sizes.set(e.name, e.size);
    }
    for (const name of names) out[name] = { size: sizes.has(name) ? sizes.get(name)! : -1 };
    return out;
  }

  /** TLS certificate errors → 60; HTTP parse errors and premature closes → 38. */
  override _errorCode(_operation: string, err: unknown): ErrorCode | undefined {
    const code = (err as { code?: unknown })?.code;
    if (typeof code !== "string") return undefined;
    if (TLS_CODES.has(code)) return ErrorCode.backend_untrusted_host;
    if (code.startsWith("HPE_") || code === "ERR_STREAM_PREMATURE_CLOSE") {
      return ErrorCode.connection_failed;
    }
    return undefined;
  }

  /** Drop every kept-alive connection, so the next attempt connects afresh. */
  override _retryCleanup(): Promise<void> {
    this.#dropAgents();
    return Promise.resolve();
  }

  /** Close every connection. */
  override _close(): Promise<void> {
    this.#dropAgents();
    return Promise.resolve();
  }

  // ---- private helpers ----

  /** Whether a PROPFIND entry is the folder itself. */
  #isFolder(e: DavEntry): boolean {
    return e.path === safeDecode(this.#folder.replace(/\/+$/, ""));
  }

  /** Make sure the folder exists before the first put (PROPFIND, then MKCOL as needed). */
  async #ensureFolder(ctx?: OperationContext): Promise<void> {
    if (this.#folderReady) return;
    const res = await this.#request("PROPFIND", this.#folder, {
      headers: { Depth: "0", "Content-Type": "application/xml; charset=utf-8" },
      body: PROPFIND_BODY,
      ctx,
    });
    res.resume();
    if (res.statusCode === 404) await this.#mkcol(this.#folder, ctx);
    else if (res.statusCode !== 207 && !isSuccess(res.statusCode)) {
      throw await failure(res, "PROPFIND");
    }
    this.#folderReady = true;
  }

  /** MKCOL a folder, making missing parents first; 405 means it exists. */
  async #mkcol(path: string, ctx?: OperationContext, depth = 0): Promise<void> {
    if (path === "/" || depth > 64) return;
    for (let attempt = 0; attempt < 2; attempt++) {
      const res = await this.#request("MKCOL", path, { ctx });
      res.resume();
      const s = res.statusCode ?? 0;
      if (isSuccess(s) || s === 405) return;
      if ((s === 409 || s === 404) && attempt === 0) {
        await this.#mkcol(parentOf(path), ctx, depth + 1);
        continue;
      }
      throw await failure(res, "MKCOL");
    }
  }

  /** PUT a file under `remote`; makes the folder and tries again once when it has gone. */
  async #upload(
    localPath: string,
    size: number,
    remote: string,
    ctx?: OperationContext,
  ): Promise<void> {
    const body = { file: localPath, size };
    for (let attempt = 0; attempt < 2; attempt++) {
      const opts = { headers: { "Content-Type": "application/octet-stream" }, ctx };
      // Each hop of a redirect sends the body again from the file.
      const res = await this.#follow(
        this.#folder + encodeSegment(remote),
        opts,
        (target, headers) =>
          this.#insecure
            ? this.#send("PUT", target, headers, body, ctx)
            : this.#putFile(target, headers, body, ctx),
      );
      const s = res.statusCode ?? 0;
      if (isSuccess(s)) {
        res.resume();
        return;
      }
      if ((s === 404 || s === 409) && attempt === 0) {
        res.resume();
        this.#folderReady = false;
        await this.#mkcol(this.#folder, ctx);
        this.#folderReady = true;
        continue;
      }
      throw await failure(res, "PUT");
    }
  }

  /** MOVE `from` onto `to` in the folder, replacing it. */
  async #move(from: string, to: string, ctx?: OperationContext): Promise<void> {
    const res = await this.#request("MOVE", this.#folder + encodeSegment(from), {
      headers: { Overwrite: "T" },
      destination: to,
      ctx,
    });
    if (!isSuccess(res.statusCode)) throw await failure(res, "MOVE");
    res.resume();
  }

  /**
   * Delete a temporary file after a failure, ignoring errors, within a few
   * seconds. A server may still be finishing the aborted upload for a moment:
   * rclone answers 423 Locked while it holds the upload's lock, and its
   * writer can bring the file back just after a delete (or, under load, start
   * on the dropped request only after our delete). So the delete is repeated
   * until the name has been gone four times in a row over about 0.7 s.
   */
  async #removeQuietly(name: string): Promise<void> {
    const ac = new AbortController();
    const timer = setTimeout(() => ac.abort(new Error("cleanup timed out")), CLEANUP_MS);
    const ctx: OperationContext = { signal: ac.signal, progress: () => {} };
    const path = this.#folder + encodeSegment(name);
    let gone = 0;
    try {
      for (let wait = 100; !ac.signal.aborted; wait = Math.min(wait * 2, 800)) {
        try {
          const res = await this.#request("DELETE", path, { ctx });
          res.resume();
          const s = res.statusCode ?? 0;
          gone = isSuccess(s) || s === 404 ? gone + 1 : 0;
          if (gone >= 4) return;
        } catch {
          gone = 0; // a dropped connection: try again
        }
        await sleepUnless(wait, ac.signal);
      }
    } finally {
      clearTimeout(timer);
    }
  }

  /** PROPFIND `path` with `depth`; a 404 gives no entries. */
  async #propfind(path: string, depth: "0" | "1", ctx?: OperationContext): Promise<DavEntry[]> {
    const res = await this.#request("PROPFIND", path, {
      headers: { Depth: depth, "Content-Type": "application/xml; charset=utf-8" },
      body: PROPFIND_BODY,
      ctx,
    });
    if (res.statusCode === 404) {
      res.resume();
      return [];
    }
    if (res.statusCode !== 207) throw await failure(res, "PROPFIND");
    const parser = new MultistatusParser();
    const entries: DavEntry[] = [];
    await readBody(res, ctx, (chunk) => {
      for (const e of parser.push(chunk)) entries.push(e);
    });
    for (const e of parser.end()) entries.push(e);
    return entries;
  }

  /**
   * Send a request to `path` on the server with `node:http` and follow
   * redirects; resolves with the final response, whose body the caller reads
   * or drains.
   */
  #request(
    method: string,
    path: string,
    opts: {
      headers?: Record<string, string>;
      body?: Body;
      destination?: string;
      ctx?: OperationContext;
    },
  ): Promise<http.IncomingMessage> {
    return this.#follow(
      path,
      opts,
      (target, headers) => this.#send(method, target, headers, opts.body, opts.ctx),
    );
  }

  /**
   * Send a request to `path` with `send` (given the URL and the request's
   * own headers) and follow redirects; resolves with the final answer.
   */
  async #follow<R extends Reply>(
    path: string,
    opts: { headers?: Record<string, string>; destination?: string },
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
      const next = new URL(location, target);
      if (next.protocol !== "http:" && next.protocol !== "https:") {
        throw new BackendError(
          `the server redirected to an unsupported URL scheme ${next.protocol}`,
          {
            code: ErrorCode.backend_code_error,
          },
        );
      }
      if (target.protocol === "https:" && next.protocol === "http:") {
        throw new BackendError("the server redirected from https to insecure http; refusing", {
          code: ErrorCode.backend_untrusted_host,
        });
      }
      target = next;
      // When the folder itself moved (the suffix survived the redirect), go there directly from now on.
      if (
        suffix !== undefined && this.#folder === folderAtStart && target.pathname.endsWith(suffix)
      ) {
        const folder = target.pathname.slice(0, target.pathname.length - suffix.length);
        if (folder.startsWith("/") && folder.endsWith("/")) {
          this.#protocol = target.protocol as "http:" | "https:";
          this.#hostname = target.hostname.replace(/^\[|\]$/g, "");
          this.#port = Number(target.port) || (target.protocol === "https:" ? 443 : 80);
          this.#host = hostHeader(this.#protocol, this.#hostname, this.#port);
          this.#folder = folder;
        }
      }
    }
  }

  /** One HTTP exchange: resolves when the response headers arrive. */
  #send(
    method: string,
    target: URL,
    extra: Record<string, string>,
    body: Body | undefined,
    ctx: OperationContext | undefined,
  ): Promise<http.IncomingMessage> {
    const signal = ctx?.signal;
    if (signal?.aborted) return Promise.reject(abortReason(signal));
    const secure = target.protocol === "https:";
    const hostname = target.hostname.replace(/^\[|\]$/g, "");
    const headers = this.#headersFor(target, extra);
    const size = body === undefined
      ? 0
      : typeof body === "string"
      ? Buffer.byteLength(body)
      : body.size;
    if (body !== undefined || method === "PUT") headers["Content-Length"] = String(size);
    return new Promise<http.IncomingMessage>((resolve, reject) => {
      let settled = false;
      let file: ReadStream | undefined;
      let gotResponse = false;
      const options: https.RequestOptions = {
        method,
        protocol: target.protocol,
        hostname,
        port: Number(target.port) || (secure ? 443 : 80),
        path: target.pathname + target.search,
        headers,
        agent: secure ? this.#httpsAgent() : this.#httpAgent(),
      };
      const req = secure ? https.request(options) : http.request(options);
      const fail = (err: unknown) => {
        file?.destroy();
        if (settled) return;
        settled = true;
        signal?.removeEventListener("abort", onAbort);
        reject(err);
      };
      const onAbort = () => {
        const reason = abortReason(signal!);
        // Close the connection itself: the server must see the upload end.
        req.socket?.destroy();
        req.destroy(reason instanceof Error ? reason : new Error(String(reason)));
        fail(reason);
      };
      signal?.addEventListener("abort", onAbort, { once: true });
      req.on("error", (err: Error & { code?: string }) => {
        if (settled) return;
        if (isTlsError(err)) {
          fail(
            new BackendError(
              `the server's TLS certificate is not trusted (${err.code ?? err.message}); ` +
                "set caFile to trust its CA, or insecureSkipVerify to skip the check",
              { code: ErrorCode.backend_untrusted_host, cause: err },
            ),
          );
          return;
        }
        const stale = !gotResponse && req.reusedSocket === true &&
          (err.code === "ECONNRESET" || err.code === "EPIPE");
        if (stale) Object.assign(err, { staleSocket: true });
        fail(err);
      });
      req.on("response", (res: http.IncomingMessage) => {
        gotResponse = true;
        if (file && !file.readableEnded) {
          // An early answer (an error or a redirect): do not send the rest of the body,
          // and do not reuse this connection.
          file.destroy();
          res.once("end", () => req.destroy());
          res.once("close", () => req.destroy());
        }
        if (settled) {
          res.destroy();
          return;
        }
        settled = true;
        // Keep watching the signal while the caller reads the body.
        const onBodyAbort = () => {
          const reason = abortReason(signal!);
          res.destroy(reason instanceof Error ? reason : new Error(String(reason)));
          req.destroy();
        };
        signal?.removeEventListener("abort", onAbort);
        if (signal) {
          signal.addEventListener("abort", onBodyAbort, { once: true });
          res.once("close", () => signal.removeEventListener("abort", onBodyAbort));
        }
        resolve(res);
      });
      if (typeof body === "object") {
        // Stream the file, a buffer at a time, pausing while the socket is full. The last
        // piece goes with end(): Deno's node:https can stall when end() follows a write
        // on a reused TLS connection (as stream.pipe() does).
        if (body.size === 0) {
          req.end();
        } else {
          const stream = file = createReadStream(body.file, { highWaterMark: this.#bufferSize });
          let sent = 0;
          stream.on("data", (chunk: string | Buffer) => {
            sent += chunk.length;
            ctx?.progress(chunk.length);
            if (sent > body.size) {
              stream.destroy(changedSize());
            } else if (sent === body.size) {
              req.end(chunk);
            } else if (!req.write(chunk)) {
              stream.pause();
              req.once("drain", () => stream.resume());
            }
          });
          stream.on("end", () => {
            if (sent < body.size) stream.destroy(changedSize());
          });
          stream.on("error", (err) => {
            req.destroy(err);
            fail(err);
          });
        }
      } else {
        req.end(body);
      }
    });
  }

  /** The headers sent to `target`: the extra ones, then the request's own, then credentials (its own host only). */
  #headersFor(target: URL, extra: Record<string, string>): Record<string, string> {
    const hostname = target.hostname.replace(/^\[|\]$/g, "");
    const headers: Record<string, string> = { ...this.#headers, ...extra };
    if (this.#auth && hostname === this.#authHost && !hasHeader(this.#headers, "authorization")) {
      headers["Authorization"] = this.#auth;
    }
    return headers;
  }

  /**
   * PUT the file to `target` through {@linkcode Http1Client} (Deno sockets,
   * one reused buffer, `Content-Length`); resolves with the answer, read whole.
   */
  async #putFile(
    target: URL,
    extra: Record<string, string>,
    body: { file: string; size: number },
    ctx: OperationContext | undefined,
  ): Promise<Reply> {
    let answer: Http1Answer;
    try {
      answer = await this.#uploader().send({
        url: target,
        method: "PUT",
        headers: this.#headersFor(target, extra),
        body: { path: body.file, start: 0, length: body.size },
        ...(ctx ? { signal: ctx.signal, onProgress: (n: number) => ctx.progress(n) } : {}),
      });
    } catch (err) {
      if (err instanceof BackendError && !ctx?.signal.aborted) throw err;
      throw fetchError(err, ctx);
    }
    return {
      statusCode: answer.status,
      statusMessage: answer.reason,
      headers: answer.headers,
      resume: () => {},
    };
  }

  #uploader(): Http1Client {
    if (this.#uploads) return this.#uploads;
    this.#loadCa();
    return this.#uploads = new Http1Client({
      buffers: new BufferPool(this.#bufferSize, 4),
      ...(this.#ca !== undefined ? { caCerts: [this.#ca] } : {}),
    });
  }

  #httpAgent(): http.Agent {
    return this.#agents.http ??= new http.Agent({ keepAlive: true, scheduling: "lifo" });
  }

  #httpsAgent(): https.Agent {
    if (this.#agents.https) return this.#agents.https;
    this.#loadCa();
    return this.#agents.https = new https.Agent({
      keepAlive: true,
      scheduling: "lifo",
      rejectUnauthorized: !this.#insecure,
      ...(this.#ca !== undefined ? { ca: this.#ca } : {}),
    });
  }

  #dropAgents(): void {
    this.#agents.http?.destroy();
    this.#agents.https?.destroy();
    this.#agents = {};
    this.#client?.close();
    this.#client = undefined;
    this.#uploads?.closeIdle();
  }

  /**
   * GET `path` into `localPath` with Deno's fetch; `false` when the server
   * redirects (the caller then goes through #request).
   */
  async #fetchGet(path: string, localPath: string, ctx?: OperationContext): Promise<boolean> {
    // identity: fetch would otherwise ask for gzip and inflate, and the length check would fail.
    const headers: Record<string, string> = { "Accept-Encoding": "identity", ...this.#headers };
    if (this.#auth && this.#hostname === this.#authHost && !hasHeader(headers, "authorization")) {
      headers["Authorization"] = this.#auth;
    }
    let res: Response;
    try {
      res = await fetch(`${this.#protocol}//${this.#host}${path}`, {
        headers,
        redirect: "manual",
        client: this.#fetchClient(),
        ...(ctx ? { signal: ctx.signal } : {}),
      });
    } catch (err) {
      throw fetchError(err, ctx);
    }
    if (REDIRECTS.has(res.status)) {
      await res.body?.cancel().catch(() => {});
      return false;
    }
    if (res.status !== 200) {
      await res.body?.cancel().catch(() => {});
      throw httpError(
        res.status,
        `GET answered HTTP ${res.status} ${res.statusText}`.trim(),
        res.headers,
      );
    }
    const header = res.headers.get("content-length");
    const expected = header !== null && /^\d+$/.test(header) ? Number(header) : undefined;
    let file: Deno.FsFile;
    try {
      file = await Deno.open(localPath, { write: true, create: true, truncate: true });
    } catch (err) {
      await res.body?.cancel().catch(() => {});
      throw err;
    }
    // A plain pipeTo lets Deno copy between its own resources without a JS hop per
    // chunk (the fastest and leanest path); progress comes from the file's growing size.
    let reported = 0;
    const report = () => {
      let size = reported;
      try {
        size = Deno.statSync(localPath).size;
      } catch {
        // not there yet
      }
      if (size > reported) {
        ctx?.progress(size - reported);
        reported = size;
      }
    };
    const ticker = ctx ? setInterval(report, PROGRESS_MS) : undefined;
    try {
      if (res.body) await res.body.pipeTo(file.writable);
      else file.close();
    } catch (err) {
      if (ctx?.signal.aborted) throw abortReason(ctx.signal);
      if (isLocalFileError(err)) throw err;
      report();
      throw connectionLost(`got ${reported} of ${expected ?? "?"} bytes`);
    } finally {
      clearInterval(ticker);
    }
    report();
    const received = (await Deno.stat(localPath)).size;
    if (expected !== undefined && received !== expected) {
      throw connectionLost(`got ${received} of ${expected} bytes`);
    }
    return true;
  }

  #fetchClient(): Deno.HttpClient {
    if (this.#client) return this.#client;
    this.#loadCa();
    return this.#client = Deno.createHttpClient(
      this.#ca !== undefined ? { caCerts: [this.#ca] } : {},
    );
  }

  /** Read the caFile once; code 23 when it cannot be read. */
  #loadCa(): void {
    if (this.#caFile === undefined || this.#ca !== undefined) return;
    try {
      this.#ca = Deno.readTextFileSync(this.#caFile);
    } catch (err) {
      throw new BackendError(`Invalid option "caFile": cannot read "${this.#caFile}"`, {
        code: ErrorCode.user_error,
        cause: err,
      });
    }
  }
}

// ---- module helpers ----

/** Wait `ms`, or less when the signal aborts; never rejects. */
function sleepUnless(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise<void>((resolve) => {
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      signal.removeEventListener("abort", done);
      resolve();
    }
    signal.addEventListener("abort", done, { once: true });
  });
}

function isSuccess(status: number | undefined): boolean {
  return status !== undefined && status >= 200 && status < 300;
}

function hasHeader(headers: Record<string, string>, name: string): boolean {
  return Object.keys(headers).some((k) => k.toLowerCase() === name);
}

function hostHeader(protocol: string, hostname: string, port: number): string {
  const host = hostname.includes(":") ? `[${hostname}]` : hostname;
  const standard = (protocol === "https:" && port === 443) || (protocol === "http:" && port === 80);
  return standard ? host : `${host}:${port}`;
}

/** Percent-encode one path segment: everything but RFC 3986's unreserved characters. */
function encodeSegment(name: string): string {
  return encodeURIComponent(name).replace(
    /[!'()*]/g,
    (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`,
  );
}

/** A decoded path as an encoded one, with a leading `/` (and a trailing one for a folder). */
function encodePath(path: string, folder: boolean): string {
  const segments = path.split("/").filter((s) => s !== "");
  const joined = "/" + segments.map(encodeSegment).join("/");
  return folder && !joined.endsWith("/") ? joined + "/" : joined;
}

function parentOf(folder: string): string {
  const trimmed = folder.replace(/\/+$/, "");
  return trimmed.slice(0, trimmed.lastIndexOf("/") + 1) || "/";
}

/** Percent-decode, leaving malformed escapes as they are. */
function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s.replace(/(?:%[0-9A-Fa-f]{2})+/g, (run) => {
      try {
        return decodeURIComponent(run);
      } catch {
        return run;
      }
    });
  }
}

function abortReason(signal: AbortSignal): unknown {
  const r = signal.reason;
  return r instanceof Error || r instanceof DOMException
    ? r
    : new DOMException("cancelled", "AbortError");
}

function isTlsError(err: Error & { code?: string }): boolean {
  if (err.code && TLS_CODES.has(err.code)) return true;
  return /certificate/i.test(err.message) && !isAbortError(err);
}

/**
 * Parse `--webdav-headers` style text (`"A: 1, B: 2"`) or an object into
 * headers; code 23 for anything malformed.
 */
function parseHeaders(value: unknown): Record<string, string> {
  if (value === undefined || value === null || value === "") return {};
  const out: Record<string, string> = {};
  const bad = (why: string): never => {
    throw new BackendError(`Invalid option "headers": ${why}`, { code: ErrorCode.user_error });
  };
  let pairs: [string, string][];
  if (typeof value === "string") {
    pairs = value.split(/,\s*(?=[!#$%&'*+.^_`|~0-9A-Za-z-]+\s*:)/).filter((p) => p.trim()).map(
      (p) => {
        const colon = p.indexOf(":");
        if (colon <= 0) bad(`expected "Name: value", got ${JSON.stringify(p.trim().slice(0, 40))}`);
        return [p.slice(0, colon).trim(), p.slice(colon + 1).trim()];
      },
    );
  } else if (typeof value === "object" && !Array.isArray(value)) {
    pairs = Object.entries(value as Record<string, unknown>).map(([k, v]) => {
      if (typeof v !== "string") bad(`the value of ${JSON.stringify(k)} is not a string`);
      return [k, v as string];
    });
  } else {
    return bad("expected a string or an object");
  }
  for (const [name, v] of pairs) {
    if (!/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(name)) {
      bad(`${JSON.stringify(name)} is not a header name`);
    }
    if (/[\r\n\0]/.test(v)) bad(`the value of ${JSON.stringify(name)} contains a line break`);
    out[name] = v;
  }
  return out;
}

/** An error for an unexpected answer, with the code for its status and any Retry-After. */
function failure(res: Reply, method: string): Promise<BackendError> {
  res.resume();
  const status = res.statusCode ?? 0;
  const text = res.statusMessage ? `${status} ${res.statusMessage}` : String(status);
  return Promise.resolve(httpError(status, `${method} answered HTTP ${text}`, res.headers));
}

/** Read a response body chunk by chunk, reporting progress; checks it arrived whole. */
function readBody(
  res: http.IncomingMessage,
  ctx: OperationContext | undefined,
  onChunk: (chunk: Uint8Array) => void,
): Promise<void> {
  return new Promise((resolve, reject) => {
    let done = false;
    const finish = (err?: unknown) => {
      if (done) return;
      done = true;
      if (err) reject(err);
      else resolve();
    };
    res.on("data", (chunk: Uint8Array) => {
      ctx?.progress();
      try {
        onChunk(chunk);
      } catch (err) {
        res.destroy();
        finish(err);
      }
    });
    res.on("end", () => {
      if (!res.complete) finish(connectionLost());
      else finish();
    });
    res.on("error", (err) => finish(err));
    res.on("close", () => finish(ctx?.signal.aborted ? abortReason(ctx.signal) : connectionLost()));
  });
}

/**
 * Stream a response body into a local file (web streams into Deno's own file
 * writer: under Deno this holds less garbage than `pipe()` into an fs write
 * stream); checks the length against Content-Length.
 */
async function saveBody(
  res: http.IncomingMessage,
  localPath: string,
  ctx?: OperationContext,
): Promise<void> {
  const header = res.headers["content-length"];
  const expected = header !== undefined && /^\d+$/.test(header) ? Number(header) : undefined;
  let received = 0;
  const file = await Deno.open(localPath, { write: true, create: true, truncate: true });
  const counter = new TransformStream<Uint8Array, Uint8Array>({
    transform(chunk, controller) {
      received += chunk.length;
      ctx?.progress(chunk.length);
      controller.enqueue(chunk);
    },
  });
  try {
    await (Readable.toWeb(res) as ReadableStream<Uint8Array>).pipeThrough(counter).pipeTo(
      file.writable,
    );
  } catch (err) {
    res.destroy();
    if (ctx?.signal.aborted) throw abortReason(ctx.signal);
    if (isLocalFileError(err)) throw err;
    throw connectionLost(`got ${received} of ${expected ?? "?"} bytes`);
  }
  if (!res.complete || (expected !== undefined && received !== expected)) {
    throw connectionLost(`got ${received} of ${expected ?? "?"} bytes`);
  }
}

/** Whether a failed transfer failed on the local file (no space, no permission), not the network. */
function isLocalFileError(err: unknown): boolean {
  if (err instanceof Deno.errors.ConnectionReset || err instanceof Deno.errors.BrokenPipe) {
    return false;
  }
  if (Object.values(Deno.errors).some((c) => err instanceof c)) return true;
  const code = (err as { code?: unknown })?.code;
  return typeof code === "string" && /^E(NOSPC|DQUOT|ACCES|PERM|ROFS|NOENT|IO|ISDIR)$/.test(code);
}

/** A fetch failure as a short error: untrusted certificate → 60, else a connection failure (38). */
function fetchError(err: unknown, ctx?: OperationContext): unknown {
  if (ctx?.signal.aborted) return abortReason(ctx.signal);
  const text = err instanceof Error
    ? `${err.message} ${String((err as { cause?: unknown }).cause ?? "")}`
    : String(err);
  if (/certificate|UnknownIssuer|invalid peer|NotValidForName|CaUsedAsEndEntity/i.test(text)) {
    const why = /invalid peer certificate: (\w+)/.exec(text)?.[1];
    return new BackendError(
      `the server's TLS certificate is not trusted${why ? ` (${why})` : ""}; ` +
        "set caFile to trust its CA, or insecureSkipVerify to skip the check",
      { code: ErrorCode.backend_untrusted_host, cause: err },
    );
  }
  const reason = /refused/i.test(text)
    ? "connection refused"
    : /reset/i.test(text)
    ? "connection reset"
    : "the connection failed";
  return new BackendError(reason, { code: ErrorCode.connection_failed, cause: err });
}

function changedSize(): BackendError {
  return new BackendError("the local file changed size during the upload", {
    code: ErrorCode.backend_error,
  });
}

function connectionLost(detail?: string): BackendError {
  return new BackendError(
    `the connection closed before the answer was complete${detail ? ` (${detail})` : ""}`,
    {
      code: ErrorCode.connection_failed,
    },
  );
}

/**
 * A small streaming parser for a PROPFIND `multistatus` answer: it cuts the
 * text at each closing `response` tag, whatever the namespace prefix
 * (`D:`, `d:`, `lp1:`, none), and reads `href`, `resourcetype` and
 * `getcontentlength` from the successful `propstat`s. Memory holds one
 * `response` at a time, not the whole answer.
 */
class MultistatusParser {
  #decoder = new TextDecoder();
  #buf = "";
  #sawEnd = false;

  push(chunk: Uint8Array): DavEntry[] {
    this.#buf += this.#decoder.decode(chunk, { stream: true });
    return this.#drain();
  }

  end(): DavEntry[] {
    this.#buf += this.#decoder.decode();
    const out = this.#drain();
    if (!this.#sawEnd && !/<\/(?:[A-Za-z_][\w.-]*:)?multistatus\s*>/.test(this.#buf)) {
      throw new BackendError("the server's PROPFIND answer is incomplete or not a multistatus", {
        code: ErrorCode.backend_error,
      });
    }
    this.#sawEnd = true;
    return out;
  }

  #drain(): DavEntry[] {
    const out: DavEntry[] = [];
    const close = /<\/(?:[A-Za-z_][\w.-]*:)?response\s*>/g;
    let last = 0;
    let m: RegExpExecArray | null;
    while ((m = close.exec(this.#buf)) !== null) {
      const block = this.#buf.slice(last, m.index);
      last = close.lastIndex;
      const entry = parseResponse(block);
      if (entry) out.push(entry);
    }
    if (last > 0) this.#buf = this.#buf.slice(last);
    if (/<\/(?:[A-Za-z_][\w.-]*:)?multistatus\s*>/.test(this.#buf)) this.#sawEnd = true;
    return out;
  }
}

interface XmlNode {
  name: string;
  text: string;
  children: XmlNode[];
}

const TOKEN =
  /<!\[CDATA\[([\s\S]*?)\]\]>|<!--[\s\S]*?-->|<[?!][\s\S]*?>|<(\/?)(?:[A-Za-z_][\w.-]*:)?([A-Za-z_][\w.-]*)((?:[^>"']|"[^"]*"|'[^']*')*?)(\/?)>|([^<]+)/g;

/** Parse the inside of one `response` element (everything before its closing tag). */
function parseResponse(block: string): DavEntry | undefined {
  const open = block.search(
    /<(?:[A-Za-z_][\w.-]*:)?response(?=[\s/>])[^>]*>(?![\s\S]*<(?:[A-Za-z_][\w.-]*:)?response(?=[\s/>]))/,
  );
  if (open === -1) return undefined;
  const root: XmlNode = { name: "response", text: "", children: [] };
  const stack: XmlNode[] = [root];
  TOKEN.lastIndex = 0;
  const body = block.slice(block.indexOf(">", open) + 1);
  let m: RegExpExecArray | null;
  while ((m = TOKEN.exec(body)) !== null) {
    const top = stack[stack.length - 1]!;
    if (m[1] !== undefined) top.text += m[1];
    else if (m[6] !== undefined) top.text += decodeEntities(m[6]);
    else if (m[3] !== undefined) {
      if (m[2] === "/") {
        if (stack.length > 1) stack.pop();
      } else {
        const node: XmlNode = { name: m[3], text: "", children: [] };
        top.children.push(node);
        if (m[5] !== "/") stack.push(node);
      }
    }
  }
  const href = root.children.find((c) => c.name === "href")?.text.trim();
  if (!href) return undefined;
  let collection = false;
  let size: number | null = null;
  for (const ps of root.children.filter((c) => c.name === "propstat")) {
    const status = ps.children.find((c) => c.name === "status")?.text ?? "";
    if (status && !/\s2\d\d(\s|$)/.test(status)) continue;
    for (const prop of ps.children.filter((c) => c.name === "prop")) {
      for (const p of prop.children) {
        if (p.name === "resourcetype" && p.children.some((c) => c.name === "collection")) {
          collection = true;
        }
        if (p.name === "getcontentlength" && /^\s*\d+\s*$/.test(p.text)) {
          size = Number(p.text.trim());
        }
      }
    }
  }
  // An href is a path or an absolute URL; keep the path, never parse it as a URL
  // (a raw `?` or `#` from a careless server must stay part of the name).
  const rawPath = href.replace(/^[A-Za-z][A-Za-z0-9+.-]*:\/\/[^/]*/, "") || "/";
  const trimmed = rawPath.replace(/\/+$/, "");
  const rawName = trimmed.slice(trimmed.lastIndexOf("/") + 1);
  return {
    name: safeDecode(rawName),
    path: safeDecode(trimmed),
    collection: collection || (rawPath.endsWith("/") && rawPath !== trimmed && size === null),
    size,
  };
}

function decodeEntities(s: string): string {
  return s.replace(/&(#x[0-9A-Fa-f]+|#\d+|amp|lt|gt|quot|apos);/g, (_all, e: string) => {
    switch (e) {
      case "amp":
        return "&";
      case "lt":
        return "<";
      case "gt":
        return ">";
      case "quot":
        return '"';
      case "apos":
        return "'";
    }
    const n = e[1] === "x" ? parseInt(e.slice(2), 16) : parseInt(e.slice(1), 10);
    return Number.isFinite(n) && n <= 0x10ffff ? String.fromCodePoint(n) : "";
  });
}
