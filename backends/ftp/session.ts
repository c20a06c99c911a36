/**
 * The control connections: login (with the `caFile` check between the TLS
 * upgrade and the password), and a small pool — one connection opened on
 * first use and reused, up to `connections` for concurrent calls, the others
 * queueing.
 *
 * @module
 */

import type { X509Certificate } from "node:crypto";
import { Client, FTPError } from "basic-ftp";
import type { OperationContext } from "../../core/backend.ts";
import { BackendError, ErrorCode } from "../../core/errors.ts";
import type { OptionsParsed } from "../../core/options.ts";
import { type AskPassword, resolvePassword } from "../../core/password.ts";
import type { ParsedUrl } from "../../core/url.ts";
import { activeMode } from "./active_mode.ts";
import {
  type Pin,
  pinData,
  pinPassive,
  readCaFile,
  tlsOptions,
  verifyPeer,
} from "./certificates.ts";
import { isCleanReply, joinPath } from "./commands.ts";
import { toBackendError, type Where } from "./error.ts";
import type { FTP_OPTIONS } from "./options.ts";
import type { TransferMode } from "./transfer.ts";

/** One control connection and what we know about it. */
export interface Connection {
  /** The basic-ftp client that owns the control connection. */
  client: Client;
  /** The working directory is the store's folder. */
  inFolder: boolean;
  /** FTPS with `caFile`: refuses a data connection whose certificate is not the control connection's. */
  pin?: Pin;
  /**
   * A file transfer runs: an abort is the transfer's to handle (it closes
   * the data connection and keeps the control connection in step, so the
   * temporary file can be removed on it at once).
   */
  transferring: boolean;
  /** The caller's timeout (ms, 0: none) for the current call: bounds waits for replies. */
  timeout: number;
}

/** A connection lent out by {@linkcode Session.lease}. */
export interface Lease {
  /** The connection. */
  readonly conn: Connection;
  /**
   * Give the connection back, once: `err` is the failure that ended its use
   * (none: it is fine and goes back to the pool). Returns the error the
   * caller should throw: the abort reason after an abort, else a short
   * {@linkcode BackendError}.
   */
  release(err?: unknown): unknown;
}

/** Someone waiting for a connection. */
interface Waiter {
  resolve(conn: Connection | null): void;
  reject(err: unknown): void;
}

/** The control connections of one store, and how to open them. */
export class Session implements TransferMode {
  /** Active mode (the server connects to us), else passive. */
  readonly active: boolean;
  /** `ftps://`: explicit TLS on the control and data connections. */
  readonly secure: boolean;
  /** Bytes per read from the source of a transfer. */
  readonly bufferSize: number;
  readonly #url: ParsedUrl;
  readonly #folder: string;
  readonly #host: string;
  readonly #port: number;
  readonly #user: string;
  readonly #ask: AskPassword | undefined;
  readonly #caFile: string | undefined;
  readonly #insecure: boolean;
  readonly #serverName: string | undefined;
  readonly #maxConnections: number;
  #passwordOnce: Promise<string | undefined> | undefined;
  #ca: X509Certificate[] | undefined;
  /** The folder as an absolute server path, known after the first login. */
  #absFolder: string | undefined;
  #idle: Connection[] = [];
  #open = 0;
  #waiters: Waiter[] = [];
  #closed = false;
  /** The caller's timeout of the last call (the wrapper's default until one comes). */
  #timeout = 30000;

  /**
   * Keep what the connections need; no I/O. `folder` is the URL's, relative
   * to the login folder unless it starts with `/`; `askPassword` is asked
   * (once) at the first login when neither the URL nor `FTP_PASSWORD` gives
   * a password.
   */
  constructor(
    url: ParsedUrl,
    folder: string,
    settings: OptionsParsed<typeof FTP_OPTIONS>,
    askPassword: AskPassword | undefined,
  ) {
    this.#url = url;
    this.#folder = folder;
    this.secure = url.scheme === "ftps";
    this.#host = url.hostname!;
    this.#port = url.port ?? 21;
    this.#user = url.username ?? "anonymous";
    // An anonymous login needs no password: never prompt for one.
    this.#ask = url.username === undefined ? undefined : askPassword;
    this.active = settings.activeMode;
    this.#caFile = settings.caFile;
    this.#insecure = settings.insecureSkipVerify;
    this.#serverName = settings.tlsServerName;
    this.#maxConnections = settings.connections;
    this.bufferSize = settings.bufferSize;
  }

  /** The store's folder as an absolute server path; set by the first login. */
  get absFolder(): string {
    return this.#absFolder!;
  }

  /** Where the store is, to cut the server's absolute folder from messages. */
  get #where(): Where {
    return { folder: this.#absFolder, shown: this.#folder };
  }

  /**
   * Run `fn` on a connection from the pool: abort closes the connection
   * (which ends the command in flight; a transfer handles it itself),
   * errors become short {@linkcode BackendError}s, and a connection that may
   * be out of step is discarded instead of reused.
   */
  async with<T>(
    ctx: OperationContext | undefined,
    fn: (conn: Connection) => Promise<T>,
  ): Promise<T> {
    const lease = await this.lease(ctx);
    let out: T;
    try {
      out = await fn(lease.conn);
    } catch (err) {
      throw lease.release(err);
    }
    lease.release();
    return out;
  }

  /**
   * Borrow a connection for as long as a stream needs it; {@linkcode with}
   * for one call. Its waits are bounded by `ctx.timeout`.
   */
  async lease(ctx: OperationContext | undefined): Promise<Lease> {
    if (ctx?.timeout !== undefined) this.#timeout = ctx.timeout;
    const timeout = this.#timeout;
    const signal = ctx?.signal;
    signal?.throwIfAborted();
    const conn = await this.#acquire(signal, timeout);
    conn.timeout = timeout;
    // basic-ftp declares it read-only, but reads it at each command: this call's timeout.
    (conn.client.ftp as { timeout: number }).timeout = timeout;
    const onAbort = () => {
      if (!conn.transferring) conn.client.close();
    };
    signal?.addEventListener("abort", onAbort, { once: true });
    let released = false;
    return {
      conn,
      release: (err?: unknown) => {
        if (released) return err;
        released = true;
        signal?.removeEventListener("abort", onAbort);
        const failed = err !== undefined;
        const healthy = !failed ||
          (!signal?.aborted && isCleanReply(err) && !conn.client.closed);
        this.#release(conn, healthy);
        if (!failed) return undefined;
        if (signal?.aborted) return signal.reason ?? err;
        return toBackendError(err, undefined, this.#where);
      },
    };
  }

  async #acquire(signal: AbortSignal | undefined, timeout: number): Promise<Connection> {
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
          return await this.connect(signal, timeout);
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
  async connect(signal: AbortSignal | undefined, timeout: number): Promise<Connection> {
    const client = new Client(timeout);
    const onAbort = () => client.close();
    signal?.addEventListener("abort", onAbort, { once: true });
    try {
      const trust = this.secure && this.#caFile && !this.#insecure
        ? await this.#trust()
        : undefined;
      const password = await this.#password();
      let pin: Pin | undefined;
      const greeting = client.connect(this.#host, this.#port);
      checkGreeting(client);
      await greeting;
      if (this.secure) {
        const name = this.#serverName ?? this.#host;
        try {
          await client.useTLS(tlsOptions(name, this.#insecure, trust !== undefined));
        } catch (err) {
          throw err instanceof FTPError ? toBackendError(err, "auth-tls") : err;
        }
        if (trust) pin = pinData(verifyPeer(client.ftp.socket, trust, name));
      }
      if (this.active) client.prepareTransfer = activeMode(pin);
      else if (pin) pinPassive(client, pin);
      await client.sendIgnoringError("OPTS UTF8 ON");
      await client.login(this.#user, password ?? "");
      await client.useDefaultSettings();
      if (this.#absFolder === undefined) {
        const home = await client.pwd();
        this.#absFolder = this.#folder.startsWith("/")
          ? this.#folder
          : joinPath(home, this.#folder);
      }
      return { client, inFolder: false, transferring: false, timeout, ...(pin ? { pin } : {}) };
    } catch (err) {
      client.close();
      if (signal?.aborted) throw signal.reason ?? err;
      throw toBackendError(err, undefined, this.#where);
    } finally {
      signal?.removeEventListener("abort", onAbort);
    }
  }

  /** Drop the idle connections: the next call logs in afresh. */
  dropIdle(): void {
    for (const conn of this.#idle.splice(0)) this.#discard(conn);
  }

  /** Close every idle connection, wake the waiters, and refuse further calls. */
  close(): void {
    this.#closed = true;
    this.dropIdle();
    for (const w of this.#waiters.splice(0)) w.resolve(null);
  }

  /** The password: the URL's, else `FTP_PASSWORD`, else asked once (a failed ask is asked again). */
  async #password(): Promise<string | undefined> {
    if (!this.#passwordOnce) {
      const once = resolvePassword(this.#url, { askPassword: this.#ask });
      this.#passwordOnce = once;
      once.catch(() => {
        if (this.#passwordOnce === once) this.#passwordOnce = undefined;
      });
    }
    return await this.#passwordOnce;
  }

  /** The certificates of `caFile`, read once. */
  async #trust(): Promise<X509Certificate[]> {
    this.#ca ??= await readCaFile(this.#caFile!);
    return this.#ca;
  }
}

/**
 * Fail at once when the server's first line is not an FTP reply (an SSH
 * or other server on that port), with code 38 and what it said, instead of
 * waiting for a greeting that never comes.
 */
function checkGreeting(client: Client): void {
  const socket = client.ftp.socket;
  let seen = "";
  const onData = (chunk: string | Uint8Array) => {
    seen += typeof chunk === "string" ? chunk : new TextDecoder().decode(chunk);
    const text = seen.replace(/^\s+/, "");
    if (text.length < 4) return;
    socket.off("data", onData);
    if (/^\d{3}[ -]/.test(text)) return;
    const said = text.split(/\r?\n/)[0]!.replace(/[^\x20-\x7e]/g, "?").slice(0, 80);
    client.ftp.closeWithError(
      new BackendError(`the server does not speak FTP (it said "${said}")`, {
        code: ErrorCode.connection_failed,
        // Another protocol on this port will not turn into FTP on a retry.
        permanent: true,
      }),
    );
  };
  socket.on("data", onData);
}
