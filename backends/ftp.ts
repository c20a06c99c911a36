/**
 * `ftp://` and `ftps://` — an FTP server, with duplicity's URLs:
 * `ftp://user[:password]@host[:port]/dir`, where `dir` is relative to the
 * folder the server logs you in to (`ftp://user@host//abs/dir` is absolute).
 * `ftps://` is explicit TLS (`AUTH TLS` on the normal port), with the
 * server's certificate verified against the system roots, or against
 * `caFile`. The password comes from the URL, else `FTP_PASSWORD`.
 *
 * Transfers stream between the local file and the data connection (passive
 * mode by default, active mode with `activeMode`); puts go to a hidden
 * temporary name and are renamed over the final name, so a reader never sees
 * a partial file. One control connection is opened on first use and reused
 * (calls queue for it); `connections` allows a few in parallel.
 *
 * @example
 * ```ts ignore
 * import { getBackend } from "@stowage/backends";
 * Deno.env.set("FTP_PASSWORD", "secret");
 * await using store = await getBackend("ftps://backup@ftp.example.com/nightly", {
 *   caFile: "/etc/ssl/private-ca.pem",
 * });
 * await store.put("/var/backups/db.tar.gz", "db.tar.gz");
 * console.log(await store.list());
 * ```
 *
 * @module
 */

import type { Buffer } from "node:buffer";
import { X509Certificate } from "node:crypto";
import { createServer, type Server, type Socket, Socket as NetSocket } from "node:net";
import { Duplex } from "node:stream";
import { connect as tlsConnect, TLSSocket } from "node:tls";
import {
  type AccessOptions,
  Client,
  type FTPContext,
  FTPError,
  type FTPResponse,
  type ResponseHandler,
} from "basic-ftp";
import {
  Backend,
  type BackendOptions,
  type DeclaredCapabilities,
  type OperationContext,
  type QueryResult,
} from "../core/backend.ts";
import { BackendError, ErrorCode, reasonOf } from "../core/errors.ts";
import { tempName } from "../core/names.ts";
import { optBool, optNumber, optString } from "../core/options.ts";
import { resolvePassword } from "../core/password.ts";
import type { ParsedUrl } from "../core/url.ts";

/** Options for {@linkcode FtpBackend}. */
export interface FtpOptions extends BackendOptions {
  /**
   * Use active mode (the server connects back to us: `PORT`/`EPRT`) instead
   * of passive mode; default `false` (passive: `EPSV`, then `PASV`).
   */
  activeMode?: boolean;
  /**
   * `ftps://` only: a PEM file of CA certificates to trust instead of the
   * system roots (for a self-signed or private CA); default unset.
   */
  caFile?: string;
  /**
   * `ftps://` only: accept any certificate. Turns off protection against a
   * man in the middle; default `false`.
   */
  insecureSkipVerify?: boolean;
  /** `ftps://` only: the name to verify the certificate against; default the URL's host. */
  tlsServerName?: string;
  /**
   * Milliseconds a control or data connection may stay silent before it is
   * dropped (and the call retried); default 30000.
   */
  timeout?: number;
  /**
   * Control connections the backend may open at once for concurrent calls,
   * 1–16; default 1 (calls queue for the one connection).
   */
  connections?: number;
  /** Bytes read from the local file per write on the data connection; default 256 KiB. */
  bufferSize?: number;
}

/** TLS options as basic-ftp takes them. */
type TlsOptions = NonNullable<AccessOptions["secureOptions"]>;

/** SIZE round trips are cheaper than a listing up to this many names. */
const QUERY_BY_SIZE_MAX = 8;
const CLEANUP_TIMEOUT = 4000;

/** One control connection and what we know about it. */
interface Connection {
  client: Client;
  /** The working directory is the store's folder. */
  inFolder: boolean;
  /** FTPS with `caFile`: refuses a data connection whose certificate is not the control connection's. */
  pin?: (socket: unknown) => void;
}

/** Someone waiting for a connection. */
interface Waiter {
  resolve(conn: Connection | null): void;
  reject(err: unknown): void;
}

/**
 * An FTP or FTPS server folder as a store.
 *
 * @example
 * ```ts
 * import { ParsedUrl } from "@stowage/backends";
 * import { FtpBackend } from "@stowage/backends/backends/ftp";
 * const backend = new FtpBackend(new ParsedUrl("ftp://alice:pw@127.0.0.1:2121/backups"), {
 *   activeMode: false,
 * });
 * console.log(backend.folder); // backups
 * ```
 */
export class FtpBackend extends Backend {
  /** The folder as given in the URL: relative to the login folder, or absolute (`/…`). */
  readonly folder: string;
  readonly #host: string;
  readonly #port: number;
  readonly #user: string;
  readonly #password: string | undefined;
  readonly #secure: boolean;
  readonly #active: boolean;
  readonly #caFile: string | undefined;
  readonly #insecure: boolean;
  readonly #serverName: string | undefined;
  readonly #timeout: number;
  readonly #maxConnections: number;
  readonly #bufferSize: number;
  #ca: X509Certificate[] | undefined;
  /** The folder as an absolute server path, known after the first login. */
  #absFolder: string | undefined;
  #idle: Connection[] = [];
  #open = 0;
  #waiters: Waiter[] = [];
  #closed = false;
  #renameOverWorks = true;

  /** Read the URL and options; no network I/O. */
  constructor(url: ParsedUrl, options: FtpOptions = {}) {
    super(url, options);
    if (url.scheme !== "ftp" && url.scheme !== "ftps") {
      throw new BackendError(`Invalid URL "${url.stripAuth()}": the scheme must be ftp or ftps`, {
        code: ErrorCode.user_error,
      });
    }
    this.#secure = url.scheme === "ftps";
    this.#host = url.hostname!;
    this.#port = url.port ?? 21;
    this.#user = url.username ?? "anonymous";
    this.#password = resolvePassword(url);
    // duplicity: the path after the host's "/" is relative to the login folder.
    const rel = url.path.startsWith("/") ? url.path.slice(1) : url.path;
    this.folder = rel.length > 1 ? rel.replace(/\/+$/, "") : rel;
    if (/[\r\n]/.test(this.folder)) {
      throw new BackendError(`Invalid URL "${url.stripAuth()}": the path has a line break`, {
        code: ErrorCode.user_error,
      });
    }
    this.#active = optBool(options, "activeMode") ?? false;
    this.#caFile = optString(options, "caFile");
    this.#insecure = optBool(options, "insecureSkipVerify") ?? false;
    this.#serverName = optString(options, "tlsServerName");
    this.#timeout = optNumber(options, "timeout", { min: 0, integer: true }) ?? 30000;
    this.#maxConnections = optNumber(options, "connections", { min: 1, max: 16, integer: true }) ??
      1;
    this.#bufferSize =
      optNumber(options, "bufferSize", { min: 4096, max: 64 << 20, integer: true }) ??
        (256 << 10);
  }

  /** What the store can do; `atomicOverwrite` turns false once the server refused to rename over a file. */
  protected override declareCapabilities(): DeclaredCapabilities {
    return {
      // RNTO over an existing file is one rename(2) on Unix servers; a server
      // that refuses it makes us delete first, which is not atomic.
      atomicOverwrite: this.#renameOverWorks,
      serverSideRename: true,
      chunkSize: this.#bufferSize,
      // FTP commands are lines: CR and LF cannot travel in a name.
      names: { forbiddenChars: "\r\n" },
    };
  }

  /** Download `name` into `localPath`, streaming to disk. */
  override async _get(name: string, localPath: string, ctx?: OperationContext): Promise<void> {
    await this.#with(ctx, async (conn) => {
      if (!await this.#enterFolder(conn, false)) {
        throw new BackendError("no such file (the folder does not exist)", {
          code: ErrorCode.backend_not_found,
        });
      }
      const file = await Deno.open(localPath, { write: true, create: true, truncate: true });
      try {
        await this.#transfer(conn, `RETR ${arg(name)}`, ctx, async (data, moved) => {
          const buf = new Uint8Array(this.#bufferSize);
          while (true) {
            const n = await data.read(buf);
            if (n === null) return;
            let off = 0;
            while (off < n) off += await file.write(buf.subarray(off, n));
            moved(n);
          }
        });
      } finally {
        file.close();
      }
    });
  }

  /** Upload to a temporary name, then rename over `name`; the temporary file is removed on failure. */
  override async _put(localPath: string, name: string, ctx?: OperationContext): Promise<void> {
    const tmp = tempName(name);
    await this.#with(ctx, async (conn) => {
      await this.#enterFolder(conn, true);
      try {
        const file = await Deno.open(localPath, { read: true });
        let sent = 0;
        let size: number;
        try {
          size = (await file.stat()).size;
          await this.#transfer(conn, `STOR ${arg(tmp)}`, ctx, async (data, moved) => {
            const buf = new Uint8Array(this.#bufferSize);
            while (true) {
              const n = await file.read(buf);
              if (n === null) break;
              let off = 0;
              while (off < n) off += await data.write(buf.subarray(off, n));
              sent += n;
              moved(n);
            }
            await data.finish(); // TLS: close_notify, then wait for the server's end
          });
        } finally {
          file.close();
        }
        if (sent !== size) {
          throw new BackendError(
            `the local file changed during the upload (${sent} of ${size} bytes sent)`,
          );
        }
        ctx?.signal.throwIfAborted();
        await this.#renameOver(conn, tmp, name);
      } catch (err) {
        await this.#removeTemp(conn, tmp);
        throw err;
      }
    });
  }

  /** The names of the files in the folder (LIST, or MLSD where offered); empty when the folder is missing. */
  override async _list(ctx?: OperationContext): Promise<string[]> {
    return await this.#with(ctx, async (conn) => {
      if (!await this.#enterFolder(conn, false)) return [];
      const entries = await conn.client.list();
      return entries.filter((e) => e.isFile || e.isSymbolicLink).map((e) => e.name);
    });
  }

  /** Delete one file; a missing file is not an error. */
  override async _delete(name: string, ctx?: OperationContext): Promise<void> {
    await this._deleteList([name], ctx);
  }

  /** Delete several files on one connection; missing ones are skipped. */
  override async _deleteList(names: string[], ctx?: OperationContext): Promise<void> {
    await this.#with(ctx, async (conn) => {
      if (!await this.#enterFolder(conn, false)) return;
      for (const name of names) {
        ctx?.signal.throwIfAborted();
        const res = await conn.client.sendIgnoringError(`DELE ${arg(name)}`);
        if (res.code >= 400 && !await this.#isMissing(conn, name, res)) {
          // It is there but would not go: 550 here is a refusal, not "missing".
          throw res.code === 550 ? permissionError(res) : new FTPError(res);
        }
        ctx?.progress();
      }
    });
  }

  /** The size of one file by SIZE, `-1` when missing. */
  override async _query(name: string, ctx?: OperationContext): Promise<QueryResult> {
    const got = await this._queryList([name], ctx);
    return got[name] ?? { size: -1 };
  }

  /** Sizes of the names asked: SIZE each for a few, one listing for many. */
  override async _queryList(
    names: string[],
    ctx?: OperationContext,
  ): Promise<Record<string, QueryResult>> {
    return await this.#with(ctx, async (conn) => {
      const out: Record<string, QueryResult> = Object.create(null);
      if (!await this.#enterFolder(conn, false)) {
        for (const n of names) out[n] = { size: -1 };
        return out;
      }
      if (names.length <= QUERY_BY_SIZE_MAX) {
        for (const n of names) out[n] = { size: await this.#size(conn, n) };
        return out;
      }
      const asked = new Set(names);
      for (const n of names) out[n] = { size: -1 };
      for (const e of await conn.client.list()) {
        if (asked.has(e.name) && (e.isFile || e.isSymbolicLink)) {
          out[e.name] = { size: e.isFile && Number.isFinite(e.size) ? e.size : null };
        }
      }
      return out;
    });
  }

  /** Drop idle connections so the next attempt logs in afresh. */
  override async _retryCleanup(): Promise<void> {
    // Drop the idle connections: the next attempt logs in afresh.
    for (const conn of this.#idle.splice(0)) this.#discard(conn);
    await Promise.resolve();
  }

  /** Map FTP replies and socket errors to error codes. */
  override _errorCode(_operation: string, err: unknown): ErrorCode | undefined {
    return classify(err);
  }

  /** Close every connection. */
  override async _close(): Promise<void> {
    this.#closed = true;
    for (const conn of this.#idle.splice(0)) this.#discard(conn);
    for (const w of this.#waiters.splice(0)) w.resolve(null);
    await Promise.resolve();
  }

  // ---- private helpers ----

  /**
   * Run `fn` on a connection from the pool: abort closes the connection
   * (which ends the command in flight), errors become short
   * {@linkcode BackendError}s, and a connection that may be out of step is
   * discarded instead of reused.
   */
  async #with<T>(
    ctx: OperationContext | undefined,
    fn: (conn: Connection) => Promise<T>,
  ): Promise<T> {
    const signal = ctx?.signal;
    signal?.throwIfAborted();
    const conn = await this.#acquire(signal);
    const onAbort = () => conn.client.close();
    signal?.addEventListener("abort", onAbort, { once: true });
    let healthy = false;
    try {
      const out = await fn(conn);
      healthy = true;
      return out;
    } catch (err) {
      healthy = !signal?.aborted && isCleanReply(err) && !conn.client.closed;
      if (signal?.aborted) throw signal.reason ?? err;
      throw translate(err);
    } finally {
      signal?.removeEventListener("abort", onAbort);
      this.#release(conn, healthy);
    }
  }

  async #acquire(signal: AbortSignal | undefined): Promise<Connection> {
    while (true) {
      if (this.#closed) {
        throw new BackendError("the store is closed", { code: ErrorCode.user_error });
      }
      const idle = this.#idle.pop();
      if (idle) {
        if (!idle.client.closed) return idle;
        this.#discard(idle); // the server dropped it while idle
        continue;
      }
      if (this.#open < this.#maxConnections) {
        this.#open++;
        try {
          return await this.#connect(signal);
        } catch (err) {
          this.#open--;
          this.#wakeOne();
          throw err;
        }
      }
      const conn = await new Promise<Connection | null>((resolve, reject) => {
        const waiter: Waiter = {
          resolve: (c) => {
            signal?.removeEventListener("abort", onAbort);
            resolve(c);
          },
          reject,
        };
        const onAbort = () => {
          this.#waiters = this.#waiters.filter((w) => w !== waiter);
          reject(signal?.reason);
        };
        signal?.addEventListener("abort", onAbort, { once: true });
        this.#waiters.push(waiter);
      });
      if (conn) return conn;
      // null: a slot freed up (or the store closed); loop to take it.
    }
  }

  #release(conn: Connection, healthy: boolean): void {
    if (!healthy || this.#closed || conn.client.closed) {
      this.#discard(conn);
      return;
    }
    const waiter = this.#waiters.shift();
    if (waiter) waiter.resolve(conn);
    else this.#idle.push(conn);
  }

  #discard(conn: Connection): void {
    conn.client.close();
    this.#open--;
    this.#wakeOne();
  }

  #wakeOne(): void {
    this.#waiters.shift()?.resolve(null);
  }

  /**
   * Open and log in a new control connection: the steps of basic-ftp's
   * `access()`, with our own certificate check (for `caFile`) between the
   * TLS upgrade and the password.
   */
  async #connect(signal: AbortSignal | undefined, timeout = this.#timeout): Promise<Connection> {
    const client = new Client(timeout);
    const onAbort = () => client.close();
    signal?.addEventListener("abort", onAbort, { once: true });
    try {
      const trust = this.#secure && this.#caFile && !this.#insecure
        ? await this.#trust()
        : undefined;
      let pin: ((socket: unknown) => void) | undefined;
      await client.connect(this.#host, this.#port);
      if (this.#secure) {
        try {
          await client.useTLS(this.#tlsOptions(trust !== undefined));
        } catch (err) {
          if (!(err instanceof FTPError)) throw err;
          throw new BackendError(
            `the server does not offer explicit TLS (AUTH TLS: server replied "${err.message.trim()}")`,
            { code: ErrorCode.backend_unsupported, cause: err },
          );
        }
        if (trust) {
          const fingerprint = verifyPeer(client.ftp.socket, trust, this.#serverName ?? this.#host);
          pin = (socket) => pinData(socket, fingerprint);
        }
      }
      if (this.#active) client.prepareTransfer = activeMode(pin);
      else if (pin) pinPassive(client, pin);
      await client.sendIgnoringError("OPTS UTF8 ON");
      await client.login(this.#user, this.#password ?? "");
      await client.useDefaultSettings();
      if (this.#absFolder === undefined) {
        const home = await client.pwd();
        this.#absFolder = this.folder.startsWith("/") ? this.folder : joinPath(home, this.folder);
      }
      return { client, inFolder: false, ...(pin ? { pin } : {}) };
    } catch (err) {
      client.close();
      if (signal?.aborted) throw signal.reason ?? err;
      throw translate(err);
    } finally {
      signal?.removeEventListener("abort", onAbort);
    }
  }

  /**
   * TLS options for the control connection (data connections reuse them).
   * With `caFile`, Deno's TLS cannot resume a session made with a custom
   * `ca` on the data connections (servers such as vsftpd require that), so
   * the handshake runs without the built-in check and {@linkcode verifyPeer}
   * checks the certificate against the CA file before anything is sent.
   */
  #tlsOptions(manual: boolean): TlsOptions {
    const name = this.#serverName ?? this.#host;
    const opts: TlsOptions = { host: name, rejectUnauthorized: !this.#insecure && !manual };
    // RFC 6066: SNI carries host names, never IP addresses.
    if (!isIp(name)) opts.servername = name;
    return opts;
  }

  /** The certificates of `caFile`, read once. */
  async #trust(): Promise<X509Certificate[]> {
    if (this.#ca) return this.#ca;
    let text: string;
    try {
      text = await Deno.readTextFile(this.#caFile!);
    } catch (err) {
      throw new BackendError(`Invalid option "caFile": ${reasonOf(err)}`, {
        code: ErrorCode.user_error,
        cause: err,
      });
    }
    const pems = text.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
    const certs: X509Certificate[] = [];
    for (const pem of pems) {
      try {
        certs.push(new X509Certificate(pem));
      } catch {
        // skip a damaged block; none at all is an error below
      }
    }
    if (!certs.length) {
      throw new BackendError(
        `Invalid option "caFile": "${this.#caFile}" holds no PEM certificate`,
        {
          code: ErrorCode.user_error,
        },
      );
    }
    this.#ca = certs;
    return certs;
  }

  /**
   * One file transfer on a Deno TCP data connection (passive or active),
   * wrapped in {@linkcode TlsData} for FTPS: send `command`, run `pump` once
   * the server answers 125/150 and the data connection is there, and finish
   * when both the pump and the server's final reply are done. (Listings use
   * basic-ftp's own transfers.) The control connection's timeout is off
   * while data flows; a watchdog drops both connections when no byte moves
   * for the timeout, and an abort closes them at once.
   */
  async #transfer(
    conn: Connection,
    command: string,
    ctx: OperationContext | undefined,
    pump: (data: DataConn, moved: (bytes: number) => void) => Promise<void>,
  ): Promise<void> {
    const ftp = conn.client.ftp;
    const opening = this.#active
      ? await this.#openActive(conn)
      : { tcp: Promise.resolve(await this.#openPassive(conn, ctx)), close: () => {} };
    let data: DataConn | undefined;
    let closed = false;
    const closeData = () => {
      if (closed) return;
      closed = true;
      opening.close();
      data?.close();
    };
    const ready = opening.tcp.then((tcp) => {
      if (closed) {
        tcp.close();
        throw new Error("The data connection closed");
      }
      data = this.#secure ? new TlsData(tcp, ftp, conn.pin) : plainData(tcp);
      return data;
    });
    ready.catch(() => {}); // the pump reports it
    let idle = 0;
    const watchdog = this.#timeout > 0
      ? setInterval(() => {
        idle += 1000;
        if (idle >= this.#timeout) {
          closeData();
          ftp.closeWithError(new Error("Timeout (data connection)"));
        }
      }, 1000)
      : undefined;
    const moved = (bytes: number) => {
      idle = 0;
      ctx?.progress(bytes);
    };
    const onAbort = () => closeData();
    ctx?.signal.addEventListener("abort", onAbort, { once: true });
    let pumping: Promise<void> | undefined;
    let pumpDone = false;
    let final: FTPResponse | undefined;
    try {
      await ftp.handle(command, (res, task) => {
        if (res instanceof Error) {
          closeData();
          task.reject(res);
          return;
        }
        if (res.code === 125 || res.code === 150) {
          if (pumping) return;
          ftp.socket.setTimeout(0); // the control connection idles while data flows
          pumping = ready.then((data) => pump(data, moved)).then(() => {
            closeData(); // EOF tells the server an upload is complete
            pumpDone = true;
            if (final) task.resolve(final);
          }, (err) => {
            closeData();
            task.reject(err);
          });
          return;
        }
        if (res.code >= 200 && res.code < 300) {
          final = res;
          if (pumpDone) task.resolve(res);
          else if (!pumping) task.reject(new Error(`Unexpected reply "${res.message}"`));
          return;
        }
        if (res.code >= 300) task.reject(new FTPError(res));
      });
    } finally {
      clearInterval(watchdog);
      ctx?.signal.removeEventListener("abort", onAbort);
      closeData();
    }
  }

  /**
   * Passive mode: EPSV (else PASV), then connect to the control
   * connection's peer (never to another host a PASV reply names).
   */
  async #openPassive(conn: Connection, ctx: OperationContext | undefined): Promise<Deno.TcpConn> {
    const host = conn.client.ftp.socket.remoteAddress?.replace(/^::ffff:/, "");
    if (!host) throw new Error("Control socket is disconnected");
    let port: number | undefined;
    const epsv = await conn.client.sendIgnoringError("EPSV");
    if (epsv.code === 229) port = Number(/\|\|\|(\d+)\|/.exec(epsv.message)?.[1]);
    else {
      const pasv = await conn.client.send("PASV");
      const m = /(\d+),(\d+),(\d+),(\d+),(\d+),(\d+)/.exec(pasv.message);
      if (m) port = (Number(m[5]) & 255) * 256 + (Number(m[6]) & 255);
    }
    if (!port) throw new Error(`Cannot parse the passive-mode reply "${epsv.message}"`);
    const connectSignals = [AbortSignal.timeout(this.#timeout || 30000)];
    if (ctx) connectSignals.push(ctx.signal);
    return await Deno.connect({ hostname: host, port, signal: AbortSignal.any(connectSignals) });
  }

  /**
   * Active mode: listen on the control connection's local address, send
   * `PORT` (IPv4) or `EPRT` (IPv6), and accept the server's connection —
   * only from the server's address. The transfer's watchdog and abort close
   * the listener when the server never connects.
   */
  async #openActive(conn: Connection): Promise<{ tcp: Promise<Deno.TcpConn>; close(): void }> {
    const control = conn.client.ftp.socket;
    const local = control.localAddress?.replace(/^::ffff:/, "");
    const remote = control.remoteAddress?.replace(/^::ffff:/, "");
    if (!local || !remote) throw new Error("Control socket is disconnected");
    const listener = Deno.listen({ hostname: local, port: 0 });
    const close = () => {
      try {
        listener.close();
      } catch {
        // already closed
      }
    };
    try {
      const port = listener.addr.port;
      await conn.client.send(
        local.includes(":")
          ? `EPRT |2|${local}|${port}|`
          : `PORT ${local.split(".").join(",")},${port >> 8},${port & 255}`,
      );
    } catch (err) {
      close();
      throw err;
    }
    const accept = async (): Promise<Deno.TcpConn> => {
      for (let i = 0; i < 16; i++) {
        const tcp = await listener.accept();
        if (tcp.remoteAddr.hostname.replace(/^::ffff:/, "") === remote) {
          close();
          return tcp;
        }
        tcp.close(); // someone else
      }
      close();
      throw new Error("Too many connections from other hosts to the active-mode port");
    };
    return { tcp: accept(), close };
  }

  /**
   * Change into the store's folder; `create` makes it (and its parents)
   * when missing. Returns `false` when it does not exist and was not made.
   */
  async #enterFolder(conn: Connection, create: boolean): Promise<boolean> {
    if (conn.inFolder) return true;
    const folder = this.#absFolder!;
    const res = await conn.client.sendIgnoringError(`CWD ${folder}`);
    if (res.code < 400) {
      conn.inFolder = true;
      return true;
    }
    if (res.code !== 550 || looksLikePermission(res.message)) throw new FTPError(res);
    if (!create) {
      // 550 means "missing" or "not allowed" on many servers: look for it.
      if (await this.#exists(conn, folder)) {
        throw new BackendError(
          `the folder exists but cannot be entered (server replied "${res.message.trim()}")`,
          { code: ErrorCode.backend_permission_denied, cause: new FTPError(res) },
        );
      }
      return false;
    }
    let path = "";
    for (const part of folder.split("/").filter(Boolean)) {
      path += `/${part}`;
      if ((await conn.client.sendIgnoringError(`CWD ${path}`)).code < 400) continue;
      const made = await conn.client.sendIgnoringError(`MKD ${path}`);
      const cd = await conn.client.sendIgnoringError(`CWD ${path}`);
      if (cd.code >= 400) {
        const res = made.code >= 400 ? made : cd;
        throw res.code === 550 ? permissionError(res) : new FTPError(res);
      }
    }
    conn.inFolder = true;
    return true;
  }

  /** Whether a folder's entry shows in its parent's listing (to tell "missing" from "denied"). */
  async #exists(conn: Connection, path: string): Promise<boolean> {
    const cut = path.lastIndexOf("/");
    const parent = cut <= 0 ? "/" : path.slice(0, cut);
    const base = path.slice(cut + 1);
    if ((await conn.client.sendIgnoringError(`CWD ${parent}`)).code >= 400) {
      return parent === "/" ? false : await this.#exists(conn, parent);
    }
    return (await conn.client.list()).some((e) => e.name === base);
  }

  /** The size of a file by SIZE, `-1` when the server has no such file. */
  async #size(conn: Connection, name: string): Promise<number> {
    const res = await conn.client.sendIgnoringError(`SIZE ${arg(name)}`);
    if (res.code === 213) {
      const n = parseInt(res.message.slice(4), 10);
      return Number.isNaN(n) ? -1 : n;
    }
    if (res.code === 550 && !looksLikePermission(res.message)) return -1;
    throw new FTPError(res);
  }

  /** Whether a failed command's name is missing (not merely refused). */
  async #isMissing(conn: Connection, name: string, res: FTPResponse): Promise<boolean> {
    if (res.code !== 550 || looksLikePermission(res.message)) return false;
    return (await this.#size(conn, name)) === -1;
  }

  /** RNFR/RNTO the temporary upload over the final name. */
  async #renameOver(conn: Connection, from: string, to: string): Promise<void> {
    const rename = async () => {
      const rnfr = await conn.client.sendIgnoringError(`RNFR ${arg(from)}`);
      return rnfr.code >= 400 ? rnfr : await conn.client.sendIgnoringError(`RNTO ${arg(to)}`);
    };
    let res = await rename();
    if (res.code < 400) return;
    // Some servers refuse to rename over an existing file: delete it first.
    if (res.code >= 500 && res.code !== 502 && (await this.#size(conn, to)) >= 0) {
      const del = await conn.client.sendIgnoringError(`DELE ${arg(to)}`);
      if (del.code < 400) {
        this.#renameOverWorks = false;
        res = await rename();
        if (res.code < 400) return;
      }
    }
    if (!isCleanReply(new FTPError(res))) throw new FTPError(res);
    throw new BackendError(
      `cannot rename the upload into place (server replied "${res.message.trim()}")`,
      {
        code: looksLikePermission(res.message)
          ? ErrorCode.backend_permission_denied
          : ErrorCode.backend_error,
        cause: new FTPError(res),
      },
    );
  }

  /**
   * Remove a temporary upload after a failure: on the same connection when
   * it is still usable, else on a short-lived one of its own.
   */
  async #removeTemp(conn: Connection, tmp: string): Promise<void> {
    if (!conn.client.closed) {
      await conn.client.sendIgnoringError(`DELE ${arg(tmp)}`).catch(() => {});
      return;
    }
    let extra: Connection | undefined;
    try {
      extra = await this.#connect(AbortSignal.timeout(CLEANUP_TIMEOUT), CLEANUP_TIMEOUT);
      await extra.client.sendIgnoringError(`DELE ${joinPath(this.#absFolder!, tmp)}`);
    } catch {
      // best effort: the next `stowage cleanup` finds it by its prefix
    } finally {
      extra?.client.close();
    }
  }
}

// ---- names, paths and errors ----

/**
 * A name as a command argument. Names are sent raw (FTP has no quoting);
 * a leading space would be eaten by servers that trim arguments, a leading
 * `~` is expanded to a home folder by some, and a leading `-` can read as
 * an option, so such names go as `./name`.
 */
function arg(name: string): string {
  return /^[\s~-]/.test(name) ? `./${name}` : name;
}

function joinPath(dir: string, name: string): string {
  if (!name) return dir;
  return dir.endsWith("/") ? dir + name : `${dir}/${name}`;
}

function looksLikePermission(message: string): boolean {
  return /permission|denied|not allowed|access|forbidden|not authori[sz]ed/i.test(message);
}

function permissionError(res: FTPResponse): BackendError {
  return new BackendError(`permission denied (server replied "${res.message.trim()}")`, {
    code: ErrorCode.backend_permission_denied,
    cause: new FTPError(res),
  });
}

/** An FTP error reply that leaves the control connection in step. */
function isCleanReply(err: unknown): boolean {
  if (err instanceof BackendError) return !(err.cause instanceof Error) || isCleanReply(err.cause);
  return err instanceof FTPError && ![421, 425, 426].includes(err.code);
}

const TLS_CERT_CODES = new Set([
  "DEPTH_ZERO_SELF_SIGNED_CERT",
  "SELF_SIGNED_CERT_IN_CHAIN",
  "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
  "UNABLE_TO_GET_ISSUER_CERT",
  "UNABLE_TO_GET_ISSUER_CERT_LOCALLY",
  "CERT_HAS_EXPIRED",
  "CERT_NOT_YET_VALID",
  "CERT_UNTRUSTED",
  "CERT_REJECTED",
  "ERR_TLS_CERT_ALTNAME_INVALID",
  "HOSTNAME_MISMATCH",
]);

/** The error code for an FTP reply or socket error, or `undefined`. */
function classify(err: unknown): ErrorCode | undefined {
  if (err instanceof BackendError) return err.code;
  if (err instanceof FTPError) {
    const c = err.code;
    if (c === 530 || c === 532) return ErrorCode.backend_permission_denied;
    if (c === 552 || c === 452) return ErrorCode.backend_no_space;
    if (c === 550) {
      return looksLikePermission(err.message)
        ? ErrorCode.backend_permission_denied
        : ErrorCode.backend_not_found;
    }
    if (c === 553) return ErrorCode.backend_permission_denied;
    if (c === 421 || c === 425 || c === 426) return ErrorCode.connection_failed;
    if (c >= 500) return ErrorCode.backend_code_error;
    return ErrorCode.backend_error;
  }
  const code = (err as { code?: unknown } | null)?.code;
  const text = err instanceof Error ? err.message : String(err);
  if (typeof code === "string" && TLS_CERT_CODES.has(code)) return ErrorCode.backend_untrusted_host;
  if (/certificate|UnknownIssuer|NotValidForName|self[- ]signed|peer cert/i.test(text)) {
    return ErrorCode.backend_untrusted_host;
  }
  if (/timeout|timed out/i.test(text)) return ErrorCode.backend_timeout;
  if (
    typeof code === "string" && /^(ECONNRESET|ECONNREFUSED|EPIPE|ECONNABORTED)$/.test(code) ||
    /closed|FIN packet|ECONNRESET|connection/i.test(text)
  ) {
    return ErrorCode.connection_failed;
  }
  return undefined;
}

/** Turn a library error into a short {@linkcode BackendError} with its code. */
function translate(err: unknown): unknown {
  if (err instanceof BackendError) return err;
  const code = classify(err);
  if (code === undefined) return err;
  let reason: string;
  if (err instanceof FTPError) {
    const said = err.message.trim();
    if (err.code === 530) reason = `login refused (server replied "${said}")`;
    else if (code === ErrorCode.backend_not_found) {
      reason = `no such file (server replied "${said}")`;
    } else if (code === ErrorCode.backend_permission_denied) {
      reason = `permission denied (server replied "${said}")`;
    } else if (code === ErrorCode.backend_no_space) reason = `no space (server replied "${said}")`;
    else reason = `server replied "${said}"`;
  } else if (code === ErrorCode.backend_untrusted_host) {
    reason = `the server's TLS certificate is not trusted (${
      reasonOf(err)
    }); pass caFile to trust a private CA`;
  } else {
    reason = reasonOf(err).replace(/^Client is closed because /, "");
  }
  return new BackendError(reason, { code, cause: err });
}

// ---- data connections ----

/** A data connection as the transfers use it: a Deno TCP connection, or {@linkcode TlsData} over one. */
interface DataConn {
  /** Read into `buf`; `null` at the end of the data. */
  read(buf: Uint8Array): Promise<number | null>;
  /** Write some of `buf` (the caller may reuse it once this resolves); returns the bytes taken. */
  write(buf: Uint8Array): Promise<number>;
  /** End an upload cleanly (TLS: close_notify); closing the connection follows. */
  finish(): Promise<void>;
  /** Close at once; safe to call twice. */
  close(): void;
}

function plainData(tcp: Deno.TcpConn): DataConn {
  return {
    read: (buf) => tcp.read(buf),
    write: (buf) => tcp.write(buf),
    finish: () => Promise.resolve(), // closing sends the EOF
    close: () => {
      try {
        tcp.close();
      } catch {
        // already closed
      }
    },
  };
}

/** Decrypted bytes held for the reader before the socket stops reading ciphertext. */
const TLS_QUEUE_MAX = 1 << 20;
/**
 * Bytes of ciphertext read, and of plain text written, at once: one TLS
 * record. Small pieces keep memory flat (see {@linkcode TlsData}).
 */
const TLS_PIECE = 16 << 10;

/**
 * An FTPS data connection: Node's TLS (the only TLS in Deno that can resume
 * the control connection's session, which servers such as vsftpd require)
 * running over a Deno TCP connection through a small Duplex that this class
 * feeds itself.
 *
 * Two Deno quirks shape it. A Node TLS socket in Deno that is paused for
 * backpressure never reports its end, so the TLS socket is never paused:
 * decrypted chunks go to a queue, and backpressure is applied one level
 * down, by not reading more ciphertext from the TCP connection while the
 * queue holds {@linkcode TLS_QUEUE_MAX} bytes. And Deno's garbage collector
 * reclaims short-lived byte buffers late: a Node socket on Deno's own TCP
 * handle allocates one per read, and a 1 GiB download peaked at ~300–500
 * MiB. Here ciphertext is read into one reused buffer, and data moves in
 * 16 KiB pieces, which keeps the peak near 100 MiB whatever the size.
 */
class TlsData implements DataConn {
  readonly #tcp: Deno.TcpConn;
  readonly #tls: TLSSocket;
  readonly #duplex: Duplex;
  readonly #ready: Promise<void>;
  #queue: Uint8Array[] = [];
  #queued = 0;
  #ended = false;
  #error: unknown;
  #wake: (() => void) | undefined;
  /** The Duplex asked for ciphertext and has none yet. */
  #wanted = false;
  #reading = false;
  #closed = false;
  readonly #readBuf = new Uint8Array(TLS_PIECE);

  constructor(tcp: Deno.TcpConn, ftp: FTPContext, pin: ((socket: unknown) => void) | undefined) {
    this.#tcp = tcp;
    this.#duplex = new Duplex({
      read: () => {
        this.#wanted = true;
        this.#pull();
      },
      write: (chunk: Uint8Array, _enc, cb) => {
        this.#writeTcp(chunk).then(() => cb(), (err) => cb(err as Error));
      },
      final: (cb) => {
        // close_notify is out: send our EOF, and let the server finish.
        this.#tcp.closeWrite().then(() => cb(), () => cb());
      },
    });
    this.#duplex.on("error", (err) => this.#fail(err));
    const control = ftp.socket as unknown as TLSSocket;
    // basic-ftp's TLS types come from its own @types/node: same objects, other declarations.
    const options = {
      ...ftp.tlsOptions,
      socket: this.#duplex,
      session: ftp.tlsSessionStore ?? control.getSession(),
    } as unknown as Parameters<typeof tlsConnect>[0];
    const tls = tlsConnect(options);
    this.#tls = tls;
    pin?.(tls); // checks the certificate first, on 'secureConnect'
    tls.on(
      "session",
      (s: Buffer) => ftp.tlsSessionStore = s as unknown as FTPContext["tlsSessionStore"],
    );
    this.#ready = new Promise<void>((resolve) => {
      // The certificate check may have destroyed it: then wait for the error.
      tls.once("secureConnect", () => tls.destroyed || resolve());
      tls.once("close", () => resolve());
    });
    tls.on("data", (chunk: Uint8Array) => {
      this.#queue.push(chunk);
      this.#queued += chunk.length;
      this.#notify();
    });
    tls.on("end", () => {
      this.#ended = true;
      this.#notify();
    });
    tls.on("error", (err: unknown) => this.#fail(err));
    tls.on("close", () => this.#fail(new Error("The data connection closed")));
  }

  async read(buf: Uint8Array): Promise<number | null> {
    while (true) {
      if (this.#queue.length > 0) {
        let n = 0;
        while (n < buf.length && this.#queue.length > 0) {
          const head = this.#queue[0]!;
          const take = Math.min(head.length, buf.length - n);
          buf.set(head.subarray(0, take), n);
          n += take;
          if (take === head.length) this.#queue.shift();
          else this.#queue[0] = head.subarray(take);
        }
        this.#queued -= n;
        this.#pull();
        return n;
      }
      if (this.#ended) return null;
      if (this.#error !== undefined) throw this.#error;
      await new Promise<void>((resolve) => this.#wake = resolve);
    }
  }

  async write(buf: Uint8Array): Promise<number> {
    await this.#ready;
    if (this.#error !== undefined) throw this.#error;
    const piece = buf.subarray(0, TLS_PIECE);
    await new Promise<void>((resolve, reject) => {
      this.#tls.write(piece, (err?: Error | null) => err ? reject(this.#error ?? err) : resolve());
    });
    return piece.length;
  }

  /**
   * Send close_notify and our EOF, then wait for the server to close its
   * side: by then the TLS socket has read the session ticket the server
   * issued (TLS 1.3 tickets are single-use), which the next data connection
   * must present.
   */
  async finish(): Promise<void> {
    await this.#ready;
    if (this.#error !== undefined) throw this.#error;
    this.#tls.end();
    while (!this.#ended && this.#error === undefined) {
      await new Promise<void>((resolve) => this.#wake = resolve);
    }
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#fail(new Error("The data connection closed"));
    this.#tls.destroy();
    this.#duplex.destroy();
    try {
      this.#tcp.close();
    } catch {
      // already closed
    }
  }

  #fail(err: unknown): void {
    this.#error ??= err;
    this.#notify();
  }

  #notify(): void {
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }

  /** Read ciphertext for the Duplex when it wants some and the reader keeps up. */
  #pull(): void {
    if (!this.#wanted || this.#reading || this.#closed || this.#queued >= TLS_QUEUE_MAX) return;
    this.#wanted = false;
    this.#reading = true;
    // One buffer serves every read while the Duplex holds nothing: its only
    // consumer, the TLS socket, copies each chunk synchronously as it is
    // emitted. Should a chunk wait in the Duplex, the read gets its own buffer.
    const buf = this.#duplex.readableLength === 0 ? this.#readBuf : new Uint8Array(TLS_PIECE);
    this.#tcp.read(buf).then((n) => {
      this.#reading = false;
      if (this.#closed) return;
      this.#duplex.push(n === null ? null : buf.subarray(0, n));
    }, (err) => {
      this.#reading = false;
      if (!this.#closed) this.#duplex.destroy(err as Error);
    });
  }

  async #writeTcp(chunk: Uint8Array): Promise<void> {
    let off = 0;
    while (off < chunk.length) off += await this.#tcp.write(chunk.subarray(off));
  }
}

// ---- TLS checks ----

function isIp(host: string): boolean {
  return /^[\d.]+$/.test(host) || host.includes(":");
}

/** The parts of a Node TLS socket the checks read. */
interface PeerSocket {
  getPeerCertificate(detailed?: boolean): { raw?: Uint8Array; fingerprint256?: string } | null;
  prependOnceListener(event: "secureConnect", fn: () => void): unknown;
  destroy(err?: Error): unknown;
}

function untrusted(reason: string): BackendError {
  return new BackendError(
    `the server's TLS certificate is not trusted (${reason}); check caFile`,
    { code: ErrorCode.backend_untrusted_host },
  );
}

/**
 * Check the control connection's certificate against the `caFile`
 * certificates: validity dates, the host name (or IP), and a chain of
 * signatures from the certificate up to one of them (the file may hold the
 * server's own self-signed certificate, a CA, or a CA and its
 * intermediates). Returns the certificate's SHA-256 fingerprint, which the
 * data connections must then present too.
 */
function verifyPeer(socket: unknown, trusted: X509Certificate[], host: string): string {
  const peer = (socket as PeerSocket).getPeerCertificate(true);
  if (!peer?.raw) throw untrusted("the server sent no certificate");
  const leaf = new X509Certificate(peer.raw);
  const now = Date.now();
  const current = (c: X509Certificate) =>
    Date.parse(c.validFrom) <= now && now <= Date.parse(c.validTo);
  if (!current(leaf)) throw untrusted("it is expired or not yet valid");
  const nameOk = isIp(host) ? leaf.checkIP(host) !== undefined : leaf.checkHost(host) !== undefined;
  if (!nameOk) throw untrusted(`it is not valid for "${host}"`);
  let cert = leaf;
  for (let depth = 0; depth < 8; depth++) {
    if (trusted.some((t) => t.fingerprint256 === cert.fingerprint256)) return leaf.fingerprint256;
    const issuer = trusted.find((t) =>
      t.ca && t.subject === cert.issuer && current(t) && cert.verify(t.publicKey)
    );
    if (!issuer) break;
    if (issuer.issuer === issuer.subject) return leaf.fingerprint256; // reached a root
    cert = issuer;
  }
  throw untrusted("it is not signed by a certificate in caFile");
}

/** Refuse a TLS data connection whose certificate is not the control connection's. */
function pinData(socket: unknown, fingerprint: string): void {
  const s = socket as PeerSocket;
  s.prependOnceListener("secureConnect", () => {
    if (s.getPeerCertificate()?.fingerprint256 !== fingerprint) {
      s.destroy(untrusted("the data connection presented another certificate"));
    }
  });
}

/** Apply `pin` to every passive data connection, whatever strategy basic-ftp settles on. */
function pinPassive(client: Client, pin: (socket: unknown) => void): void {
  let inner = client.prepareTransfer;
  const wrapper = async (ftp: FTPContext): Promise<FTPResponse> => {
    const res = await inner.call(client, ftp);
    // basic-ftp replaces prepareTransfer with the strategy that worked.
    if (client.prepareTransfer !== wrapper) {
      inner = client.prepareTransfer;
      client.prepareTransfer = wrapper;
    }
    if (ftp.dataSocket) pin(ftp.dataSocket);
    return res;
  };
  client.prepareTransfer = wrapper;
}

// ---- active mode ----

/**
 * basic-ftp's transfer strategy for active mode: listen on the control
 * connection's local address, send `PORT` (IPv4) or `EPRT` (IPv6), and
 * accept the server's data connection — only from the server's address —
 * wrapping it in TLS (as the client, resuming the control session) for
 * FTPS. basic-ftp wants a data socket before it sends the command and uses
 * it when the server's `150` arrives; servers may connect before or after
 * sending that, so a placeholder stands in and replies are held back until
 * the real connection is accepted.
 */
function activeMode(pin?: (socket: unknown) => void): (ftp: FTPContext) => Promise<FTPResponse> {
  return (ftp) => enterActiveMode(ftp, pin);
}

async function enterActiveMode(
  ftp: FTPContext,
  pin: ((socket: unknown) => void) | undefined,
): Promise<FTPResponse> {
  const control = ftp.socket;
  const local = control.localAddress;
  const remote = control.remoteAddress;
  if (!local || !remote) throw new Error("Control socket is disconnected");
  const server: Server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen({ host: local, port: 0, backlog: 1 }, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const port = (server.address() as { port: number }).port;
  const v6 = local.includes(":") && !local.startsWith("::ffff:");
  const command = v6
    ? `EPRT |2|${local}|${port}|`
    : `PORT ${local.replace(/^::ffff:/, "").split(".").join(",")},${port >> 8},${port & 255}`;
  let res: FTPResponse;
  try {
    res = await ftp.request(command);
  } catch (err) {
    server.close();
    throw err;
  }
  const sameHost = (a: string | undefined) =>
    (a ?? "").replace(/^::ffff:/, "") === remote.replace(/^::ffff:/, "");

  let dataReady = false;
  let finished = false;
  const held: FTPResponse[] = [];
  let heldTask: Parameters<ResponseHandler>[1] | undefined;
  let deliver: ResponseHandler | undefined;
  const stop = () => {
    if (finished) return;
    finished = true;
    clearTimeout(timer);
    server.close();
    server.removeAllListeners("connection");
  };
  const flush = () => {
    if (!deliver || !heldTask) return;
    for (const r of held.splice(0)) {
      try {
        deliver(r, heldTask);
      } catch (err) {
        heldTask.reject(err as Error);
        ftp.closeWithError(err as Error);
        return;
      }
    }
  };
  server.on("connection", (raw: Socket) => {
    if (finished || !sameHost(raw.remoteAddress)) {
      raw.destroy();
      return;
    }
    stop();
    let socket: Socket = raw;
    if ((control as unknown) instanceof TLSSocket) {
      // basic-ftp's TLS types come from its own @types/node: same objects, other declarations.
      const options = {
        ...ftp.tlsOptions,
        socket: raw,
        session: ftp.tlsSessionStore ?? (control as unknown as TLSSocket).getSession(),
      } as unknown as Parameters<typeof tlsConnect>[0];
      const tls = tlsConnect(options);
      tls.on("session", (s: Buffer) => ftp.tlsSessionStore = s);
      pin?.(tls);
      socket = tls;
    }
    ftp.dataSocket = socket as unknown as FTPContext["dataSocket"];
    dataReady = true;
    flush();
  });
  const timer = setTimeout(() => {
    if (finished) return;
    stop();
    ftp.closeWithError(new Error("Timeout waiting for the server's data connection (active mode)"));
  }, ftp.timeout || 30000);

  // basic-ftp checks for a data socket before sending a download command.
  ftp.dataSocket = new NetSocket() as unknown as FTPContext["dataSocket"];
  // Hook the next task (the transfer command) so its preliminary reply waits
  // for the data connection.
  const original = ftp.handle;
  ftp.handle = (cmd: string | undefined, handler: ResponseHandler) => {
    ftp.handle = original;
    deliver = handler;
    const wrapped: ResponseHandler = (r, task) => {
      if (r instanceof Error) {
        stop();
        handler(r, task);
        return;
      }
      if (dataReady) {
        handler(r, task);
        return;
      }
      if (r.code === 150 || r.code === 125 || held.length > 0) {
        heldTask = task;
        held.push(r);
        return;
      }
      handler(r, task);
    };
    return original.call(ftp, cmd, wrapped).finally(stop);
  };
  return res;
}
