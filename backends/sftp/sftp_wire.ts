/**
 * The SFTP version 3 wire format (draft-ietf-secsh-filexfer-02, plus the
 * `@openssh.com` extensions this backend uses): packet types, status codes,
 * flags, a request builder and a reply reader. Plain `Uint8Array`s and
 * `DataView`s, so the OpenSSH engine loads no Node.js compatibility code.
 *
 * @module
 */

/** Packet types. */
export const FXP = {
  INIT: 1,
  VERSION: 2,
  OPEN: 3,
  CLOSE: 4,
  READ: 5,
  WRITE: 6,
  LSTAT: 7,
  FSTAT: 8,
  OPENDIR: 11,
  READDIR: 12,
  REMOVE: 13,
  MKDIR: 14,
  REALPATH: 16,
  STAT: 17,
  RENAME: 18,
  STATUS: 101,
  HANDLE: 102,
  DATA: 103,
  NAME: 104,
  ATTRS: 105,
  EXTENDED: 200,
  EXTENDED_REPLY: 201,
} as const;

/** SFTP status codes. */
export const SFTP_STATUS = {
  OK: 0,
  EOF: 1,
  NO_SUCH_FILE: 2,
  PERMISSION_DENIED: 3,
  FAILURE: 4,
  BAD_MESSAGE: 5,
  NO_CONNECTION: 6,
  CONNECTION_LOST: 7,
  OP_UNSUPPORTED: 8,
} as const;

/** Open flags (`pflags`). */
export const OPEN_FLAGS = { READ: 1, WRITE: 2, CREAT: 8, TRUNC: 0x10 } as const;

/** The file type bits of a mode, and the types this backend tells apart. */
export const S_IFMT = 0o170000;
/** A regular file. */
export const S_IFREG = 0o100000;
/** A symbolic link. */
export const S_IFLNK = 0o120000;
/** A folder. */
export const S_IFDIR = 0o040000;

const ATTR_SIZE = 1;
const ATTR_UIDGID = 2;
const ATTR_PERMISSIONS = 4;
const ATTR_ACMODTIME = 8;
const ATTR_EXTENDED = 0x80000000;

/** What a stat answers (the fields this backend reads). */
export interface Attrs {
  /** Size in bytes, when the server sent it. */
  size?: number;
  /** Type and permission bits, when the server sent them. */
  mode?: number;
}

/** One entry of a READDIR answer. */
export interface DirEntry {
  /** The file name. */
  name: string;
  /** Its attributes. */
  attrs: Attrs;
}

/** A failure the server answered with a STATUS packet. */
export class SftpStatusError extends Error {
  /** The SFTP status code. */
  readonly code: number;
  /** Make the error for `code`, with the server's message. */
  constructor(code: number, message: string) {
    super(message || statusText(code));
    this.name = "SftpStatusError";
    this.code = code;
  }
}

/** The SFTP status code of an error, when it carries one. */
export function sftpCode(err: unknown): number | undefined {
  return err instanceof SftpStatusError ? err.code : undefined;
}

/** A short text for a status code. */
export function statusText(code: number): string {
  switch (code) {
    case SFTP_STATUS.EOF:
      return "end of file";
    case SFTP_STATUS.NO_SUCH_FILE:
      return "no such file";
    case SFTP_STATUS.PERMISSION_DENIED:
      return "permission denied";
    case SFTP_STATUS.BAD_MESSAGE:
      return "bad message";
    case SFTP_STATUS.OP_UNSUPPORTED:
      return "operation unsupported";
    default:
      return "failure";
  }
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Builds one request packet: length, type, request id, then the fields. */
export class PacketWriter {
  #buf: Uint8Array;
  #view: DataView;
  #pos: number;

  /** Start a packet of `type` (with request `id` unless it is INIT). */
  constructor(type: number, id?: number, size = 128) {
    this.#buf = new Uint8Array(size);
    this.#view = new DataView(this.#buf.buffer);
    this.#buf[4] = type;
    this.#pos = 5;
    if (id !== undefined) this.u32(id);
  }

  #room(n: number): void {
    if (this.#pos + n <= this.#buf.length) return;
    const next = new Uint8Array(Math.max(this.#buf.length * 2, this.#pos + n));
    next.set(this.#buf.subarray(0, this.#pos));
    this.#buf = next;
    this.#view = new DataView(next.buffer);
  }

  /** A uint32. */
  u32(v: number): this {
    this.#room(4);
    this.#view.setUint32(this.#pos, v);
    this.#pos += 4;
    return this;
  }

  /** A uint64 (up to 2^53). */
  u64(v: number): this {
    this.#room(8);
    this.#view.setUint32(this.#pos, Math.floor(v / 0x100000000));
    this.#view.setUint32(this.#pos + 4, v >>> 0);
    this.#pos += 8;
    return this;
  }

  /** A string of bytes, with its length first. */
  bytes(b: Uint8Array): this {
    this.u32(b.length);
    this.#room(b.length);
    this.#buf.set(b, this.#pos);
    this.#pos += b.length;
    return this;
  }

  /** A UTF-8 string, with its length first. */
  str(s: string): this {
    return this.bytes(encoder.encode(s));
  }

  /** The finished packet. */
  done(): Uint8Array {
    this.#view.setUint32(0, this.#pos - 4);
    return this.#buf.subarray(0, this.#pos);
  }
}

/** Bytes of a WRITE packet before the handle: length, type, id, handle length. */
const WRITE_HEAD = 4 + 1 + 4 + 4;

/** Bytes a WRITE packet needs before its data, for a handle of `handleLength` bytes. */
export function writeHeaderSize(handleLength: number): number {
  return WRITE_HEAD + handleLength + 8 + 4;
}

/**
 * Fill the header of a WRITE packet whose `n` data bytes already sit at
 * `buf[writeHeaderSize(handle.length)]`; returns the packet.
 */
export function fillWriteHeader(
  buf: Uint8Array,
  id: number,
  handle: Uint8Array,
  offset: number,
  n: number,
): Uint8Array {
  const hdr = writeHeaderSize(handle.length);
  const v = new DataView(buf.buffer, buf.byteOffset, hdr);
  v.setUint32(0, hdr - 4 + n);
  buf[4] = FXP.WRITE;
  v.setUint32(5, id);
  v.setUint32(9, handle.length);
  buf.set(handle, WRITE_HEAD);
  const p = WRITE_HEAD + handle.length;
  v.setUint32(p, Math.floor(offset / 0x100000000));
  v.setUint32(p + 4, offset >>> 0);
  v.setUint32(p + 8, n);
  return buf.subarray(0, hdr + n);
}

/** Reads the fields of one reply packet. */
export class PacketReader {
  readonly #buf: Uint8Array;
  readonly #view: DataView;
  #pos: number;

  /** Read `buf` from `pos`. */
  constructor(buf: Uint8Array, pos = 0) {
    this.#buf = buf;
    this.#view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
    this.#pos = pos;
  }

  /** Whether fields are left. */
  get more(): boolean {
    return this.#pos < this.#buf.length;
  }

  #need(n: number): void {
    if (this.#pos + n > this.#buf.length) throw new Error("truncated SFTP packet");
  }

  /** A uint32. */
  u32(): number {
    this.#need(4);
    const v = this.#view.getUint32(this.#pos);
    this.#pos += 4;
    return v;
  }

  /** A uint64 (exact up to 2^53). */
  u64(): number {
    const hi = this.u32();
    return hi * 0x100000000 + this.u32();
  }

  /** A string of bytes (a view into the packet). */
  bytes(): Uint8Array {
    const n = this.u32();
    this.#need(n);
    const b = this.#buf.subarray(this.#pos, this.#pos + n);
    this.#pos += n;
    return b;
  }

  /** A UTF-8 string. */
  str(): string {
    return decoder.decode(this.bytes());
  }

  /** Skip a string. */
  skip(): void {
    const n = this.u32();
    this.#need(n);
    this.#pos += n;
  }

  /** An ATTRS structure (size and mode kept, the rest skipped). */
  attrs(): Attrs {
    const flags = this.u32();
    const a: Attrs = {};
    if (flags & ATTR_SIZE) a.size = this.u64();
    if (flags & ATTR_UIDGID) this.#pos += 8;
    if (flags & ATTR_PERMISSIONS) a.mode = this.u32();
    if (flags & ATTR_ACMODTIME) this.#pos += 8;
    if (flags & ATTR_EXTENDED) {
      for (let n = this.u32(); n > 0; n--) {
        this.skip();
        this.skip();
      }
    }
    this.#need(0);
    return a;
  }

  /** The entries of a NAME reply (the long names skipped). */
  names(): DirEntry[] {
    const out: DirEntry[] = [];
    for (let n = this.u32(); n > 0; n--) {
      const name = this.str();
      this.skip();
      out.push({ name, attrs: this.attrs() });
    }
    return out;
  }
}
