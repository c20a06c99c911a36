/**
 * Data connections for file transfers: a plain Deno TCP connection, or
 * {@linkcode TlsData} (FTPS) over one.
 *
 * @module
 */

import type { Buffer } from "node:buffer";
import { Duplex } from "node:stream";
import { connect as tlsConnect, type TLSSocket } from "node:tls";
import type { FTPContext } from "basic-ftp";
import type { Pin } from "./certificates.ts";

/** A data connection as the transfers use it: a Deno TCP connection, or {@linkcode TlsData} over one. */
export interface DataConn {
  /** Read into `buf`; `null` at the end of the data. */
  read(buf: Uint8Array): Promise<number | null>;
  /** Write some of `buf` (the caller may reuse it once this resolves); returns the bytes taken. */
  write(buf: Uint8Array): Promise<number>;
  /** End an upload cleanly (TLS: close_notify); closing the connection follows. */
  finish(): Promise<void>;
  /** Close at once; safe to call twice. */
  close(): void;
}

/** A plain (FTP) data connection: the Deno TCP connection itself. */
export function plainData(tcp: Deno.TcpConn): DataConn {
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
export class TlsData implements DataConn {
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

  /**
   * Start TLS over `tcp` as the client, resuming the control connection's
   * session from `ftp`; `pin` checks the certificate first.
   */
  constructor(tcp: Deno.TcpConn, ftp: FTPContext, pin: Pin | undefined) {
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

  /** Read decrypted bytes into `buf`; `null` at the end of the data. */
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

  /** Encrypt and send up to one TLS record of `buf`; returns the bytes taken. */
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

  /** Close the TLS socket and the TCP connection at once; safe to call twice. */
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
