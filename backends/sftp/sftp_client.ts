/**
 * A small SFTP version 3 client over any byte transport (the OpenSSH
 * client's pipes, or an ssh2 channel): numbered requests that resolve when
 * their reply comes, any number in flight, answered in any order. The data
 * of a READ reply is copied straight from the incoming stream into the
 * caller's buffer, and a WRITE can be sent from a buffer the caller filled
 * after room for the header, so large transfers copy each byte once.
 *
 * @module
 */

import {
  type Attrs,
  type DirEntry,
  fillWriteHeader,
  FXP,
  OPEN_FLAGS,
  PacketReader,
  PacketWriter,
  SFTP_STATUS,
  SftpStatusError,
  writeHeaderSize,
} from "./sftp_wire.ts";

/** Where the client's requests go: the transport queues them in order. */
export interface SftpTransport {
  /** Queue bytes for the server. */
  send(bytes: Uint8Array): void;
}

/** What a reply must be for each kind of request. */
type Kind = "status" | "handle" | "read" | "names" | "attrs" | "path" | "ext";

interface Pending {
  kind: Kind;
  resolve(value: unknown): void;
  reject(err: unknown): void;
  /** For reads: where the data goes. */
  dest?: Uint8Array;
}

/** Largest reply accepted (OpenSSH sends at most 256 KiB). */
const MAX_PACKET = 4 << 20;
/** Read and write sizes for servers that do not say (as ssh2: 34,000 bytes less 2 KiB). */
const DEFAULT_LEN = 34000 - 2048;
/** For OpenSSH servers without `limits@openssh.com`: 256 KiB less 2 KiB. */
const OPENSSH_LEN = 256 * 1024 - 2048;
const INIT = new Uint8Array([0, 0, 0, 5, FXP.INIT, 0, 0, 0, 3]);
const READ_HEAD = 13; // length, type, id, data length
/** The requests each reply type answers. */
const REPLY_KINDS: Readonly<Record<number, readonly Kind[]>> = {
  [FXP.HANDLE]: ["handle"],
  [FXP.DATA]: ["read"],
  [FXP.NAME]: ["names", "path"],
  [FXP.ATTRS]: ["attrs"],
  [FXP.EXTENDED_REPLY]: ["ext"],
};

/** An SFTP session: send requests, feed it what the server sends. */
export class SftpClient {
  /** The extensions the server announced, by name. */
  extensions: Record<string, string> = {};
  /** Largest READ length. */
  maxRead: number = DEFAULT_LEN;
  /** Largest WRITE length. */
  maxWrite: number = DEFAULT_LEN;
  readonly #transport: SftpTransport;
  readonly #pending = new Map<number, Pending>();
  #id = 0;
  #failed: unknown;
  #version: { resolve(): void; reject(err: unknown): void } | undefined;
  // ---- the incoming stream ----
  readonly #head = new Uint8Array(READ_HEAD);
  readonly #headView = new DataView(this.#head.buffer);
  #headLen = 0;
  #pkt: Uint8Array | undefined;
  #pktLen = 0;
  #direct: Pending | undefined;
  #directLen = 0;
  #left = 0;

  /** A client that sends through `transport`; call {@linkcode SftpClient.start}. */
  constructor(transport: SftpTransport) {
    this.#transport = transport;
  }

  /** Whether the session failed or ended. */
  get failed(): boolean {
    return this.#failed !== undefined;
  }

  /**
   * Resolves once the server's limits are known (`limits@openssh.com`,
   * asked right after VERSION); at once when it does not announce them.
   */
  sized: Promise<void> = Promise.resolve();

  /**
   * Send INIT (it may go before the login is done: the transport keeps it)
   * and resolve on the server's VERSION. `openssh` sizes requests for an
   * OpenSSH server when it does not announce its limits; the limits are
   * asked for then, without waiting (see {@linkcode SftpClient.sized}).
   */
  start(openssh: () => boolean): Promise<void> {
    const version = new Promise<void>((resolve, reject) => this.#version = { resolve, reject });
    this.#transport.send(INIT);
    return version.then(() => {
      if (openssh()) this.maxRead = this.maxWrite = OPENSSH_LEN;
      if (this.extensions["limits@openssh.com"] !== "1") return;
      this.sized = this.#request<PacketReader>(
        "ext",
        new PacketWriter(FXP.EXTENDED, this.#next()).str("limits@openssh.com"),
      ).then((r) => {
        r.u64(); // max packet length
        const read = r.u64();
        const write = r.u64();
        if (read > 0) this.maxRead = Math.min(read, MAX_PACKET - 1024);
        if (write > 0) this.maxWrite = Math.min(write, MAX_PACKET - 1024);
      }, () => {});
    });
  }

  /** End the session: every request waiting, and every later one, fails with `err`. */
  fail(err: unknown): void {
    if (this.#failed !== undefined) return;
    this.#failed = err;
    this.#version?.reject(err);
    this.#version = undefined;
    const waiting = [...this.#pending.values()];
    if (this.#direct) waiting.push(this.#direct);
    this.#pending.clear();
    this.#direct = undefined;
    for (const p of waiting) p.reject(err);
  }

  // ---- requests ----

  /** Open `path` for reading, or for writing (created, truncated). */
  open(path: string, write: boolean): Promise<Uint8Array> {
    const flags = write ? OPEN_FLAGS.WRITE | OPEN_FLAGS.CREAT | OPEN_FLAGS.TRUNC : OPEN_FLAGS.READ;
    const w = new PacketWriter(FXP.OPEN, this.#next()).str(path).u32(flags).u32(0);
    return this.#request("handle", w);
  }

  /** Close a handle. */
  close(handle: Uint8Array): Promise<void> {
    return this.#request("status", new PacketWriter(FXP.CLOSE, this.#next()).bytes(handle));
  }

  /** Read up to `dest.length` bytes at `offset` into `dest`: the count, 0 at the end of the file. */
  read(handle: Uint8Array, offset: number, dest: Uint8Array): Promise<number> {
    const w = new PacketWriter(FXP.READ, this.#next(), 32 + handle.length)
      .bytes(handle).u64(offset).u32(dest.length);
    return this.#request("read", w, dest);
  }

  /** Write `data` at `offset` (copied into the packet). */
  write(handle: Uint8Array, offset: number, data: Uint8Array): Promise<void> {
    const hdr = writeHeaderSize(handle.length);
    const buf = new Uint8Array(hdr + data.length);
    buf.set(data, hdr);
    return this.writeInPlace(handle, offset, buf, data.length);
  }

  /**
   * Write the `n` bytes that sit at `buf[writeHeaderSize(handle.length)]`,
   * filling the header before them; `buf` may be reused once this settles.
   */
  writeInPlace(handle: Uint8Array, offset: number, buf: Uint8Array, n: number): Promise<void> {
    const id = this.#next();
    return this.#send("status", id, fillWriteHeader(buf, id, handle, offset, n));
  }

  /** Ask the server to flush a handle to disk (`fsync@openssh.com`). */
  fsync(handle: Uint8Array): Promise<void> {
    const w = new PacketWriter(FXP.EXTENDED, this.#next()).str("fsync@openssh.com").bytes(handle);
    return this.#request("status", w);
  }

  /** The attributes of `path`, following symlinks. */
  stat(path: string): Promise<Attrs> {
    return this.#request("attrs", new PacketWriter(FXP.STAT, this.#next()).str(path));
  }

  /** The attributes of `path` itself (a symlink is not followed). */
  lstat(path: string): Promise<Attrs> {
    return this.#request("attrs", new PacketWriter(FXP.LSTAT, this.#next()).str(path));
  }

  /** Open a folder for listing. */
  opendir(path: string): Promise<Uint8Array> {
    return this.#request("handle", new PacketWriter(FXP.OPENDIR, this.#next()).str(path));
  }

  /** The next entries of a folder, `null` at its end. */
  readdir(handle: Uint8Array): Promise<DirEntry[] | null> {
    return this.#request("names", new PacketWriter(FXP.READDIR, this.#next()).bytes(handle));
  }

  /** Remove a file. */
  remove(path: string): Promise<void> {
    return this.#request("status", new PacketWriter(FXP.REMOVE, this.#next()).str(path));
  }

  /** Make a folder. */
  mkdir(path: string): Promise<void> {
    return this.#request("status", new PacketWriter(FXP.MKDIR, this.#next()).str(path).u32(0));
  }

  /** SFTPv3 rename (refuses an existing target on most servers). */
  rename(from: string, to: string): Promise<void> {
    return this.#request("status", new PacketWriter(FXP.RENAME, this.#next()).str(from).str(to));
  }

  /** Atomic rename over an existing target (`posix-rename@openssh.com`). */
  posixRename(from: string, to: string): Promise<void> {
    const w = new PacketWriter(FXP.EXTENDED, this.#next())
      .str("posix-rename@openssh.com").str(from).str(to);
    return this.#request("status", w);
  }

  /** The canonical absolute form of `path`. */
  realpath(path: string): Promise<string> {
    return this.#request("path", new PacketWriter(FXP.REALPATH, this.#next()).str(path));
  }

  #next(): number {
    this.#id = (this.#id + 1) >>> 0;
    return this.#id;
  }

  #request<T>(kind: Kind, w: PacketWriter, dest?: Uint8Array): Promise<T> {
    const packet = w.done();
    const id = new DataView(packet.buffer, packet.byteOffset).getUint32(5);
    return this.#send(kind, id, packet, dest);
  }

  #send<T>(kind: Kind, id: number, packet: Uint8Array, dest?: Uint8Array): Promise<T> {
    if (this.#failed !== undefined) return Promise.reject(this.#failed);
    return new Promise<T>((resolve, reject) => {
      const p: Pending = { kind, resolve: resolve as (v: unknown) => void, reject };
      if (dest) p.dest = dest;
      this.#pending.set(id, p);
      this.#transport.send(packet);
    });
  }

  // ---- the incoming stream ----

  /** Take bytes from the server (in order, any chunking). */
  feed(chunk: Uint8Array): void {
    let p = 0;
    try {
      while (p < chunk.length && this.#failed === undefined) {
        if (this.#direct) {
          const k = Math.min(this.#left, chunk.length - p);
          this.#direct.dest!.set(chunk.subarray(p, p + k), this.#directLen - this.#left);
          this.#left -= k;
          p += k;
          if (this.#left === 0) this.#endDirect();
          continue;
        }
        if (this.#pkt) {
          const k = Math.min(this.#pktLen - this.#left, chunk.length - p);
          this.#pkt.set(chunk.subarray(p, p + k), this.#left);
          this.#left += k;
          p += k;
          if (this.#left === this.#pktLen) {
            const pkt = this.#pkt;
            this.#pkt = undefined;
            this.#dispatch(pkt);
          }
          continue;
        }
        // The head: the length, then up to the data length of a DATA reply.
        const need = this.#headLen < 4 ? 4 : Math.min(READ_HEAD, 4 + this.#headView.getUint32(0));
        while (this.#headLen < need && p < chunk.length) this.#head[this.#headLen++] = chunk[p++]!;
        if (this.#headLen < need) continue;
        if (need === 4) {
          const len = this.#headView.getUint32(0);
          if (len < 1 || len > MAX_PACKET) throw new Error(`bad SFTP packet length ${len}`);
          continue;
        }
        this.#startPacket(need);
      }
    } catch (err) {
      this.fail(err);
    }
  }

  #startPacket(have: number): void {
    const len = this.#headView.getUint32(0);
    this.#headLen = 0;
    if (have === READ_HEAD && this.#head[4] === FXP.DATA) {
      const id = this.#headView.getUint32(5);
      const n = this.#headView.getUint32(9);
      const req = this.#pending.get(id);
      if (req?.dest && n <= req.dest.length && len === 9 + n) {
        this.#pending.delete(id);
        this.#direct = req;
        this.#directLen = this.#left = n;
        if (n === 0) this.#endDirect();
        return;
      }
    }
    this.#pkt = new Uint8Array(4 + len);
    this.#pkt.set(this.#head.subarray(0, have));
    this.#pktLen = 4 + len;
    this.#left = have;
    if (have === this.#pktLen) {
      const pkt = this.#pkt;
      this.#pkt = undefined;
      this.#dispatch(pkt);
    }
  }

  #endDirect(): void {
    const req = this.#direct!;
    this.#direct = undefined;
    req.resolve(this.#directLen);
  }

  #dispatch(pkt: Uint8Array): void {
    const type = pkt[4]!;
    const r = new PacketReader(pkt, 5);
    if (type === FXP.VERSION) return this.#onVersion(r);
    const id = r.u32();
    const req = this.#pending.get(id);
    if (!req) return; // a reply nobody waits for any more
    this.#pending.delete(id);
    try {
      req.resolve(this.#reply(type, r, req));
    } catch (err) {
      req.reject(err);
    }
  }

  #reply(type: number, r: PacketReader, req: Pending): unknown {
    if (type === FXP.STATUS) {
      const code = r.u32();
      const message = r.more ? r.str() : "";
      if (code === SFTP_STATUS.OK && req.kind === "status") return undefined;
      if (code === SFTP_STATUS.EOF && req.kind === "read") return 0;
      if (code === SFTP_STATUS.EOF && req.kind === "names") return null;
      throw new SftpStatusError(code, message);
    }
    if (!REPLY_KINDS[type]?.includes(req.kind)) {
      throw new SftpStatusError(SFTP_STATUS.BAD_MESSAGE, `unexpected SFTP reply type ${type}`);
    }
    switch (type) {
      case FXP.HANDLE:
        return r.bytes().slice();
      case FXP.DATA: {
        const data = r.bytes();
        const n = Math.min(data.length, req.dest!.length);
        req.dest!.set(data.subarray(0, n));
        return n;
      }
      case FXP.NAME:
        return req.kind === "names" ? r.names() : r.names()[0]?.name ?? "";
      case FXP.ATTRS:
        return r.attrs();
      default:
        return r;
    }
  }

  #onVersion(r: PacketReader): void {
    const v = this.#version;
    this.#version = undefined;
    try {
      r.u32(); // the server's version; 3 is assumed
      while (r.more) {
        const name = r.str();
        this.extensions[name] = r.str();
      }
    } catch (err) {
      return v?.reject(err);
    }
    v?.resolve();
  }
}
