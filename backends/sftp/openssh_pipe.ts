/**
 * ssh2's own SFTP client driven over the stdin and stdout of the OpenSSH
 * client (`ssh -s host sftp`): a write queue with a window plays the SSH
 * channel (so SFTP waits when ssh does), and a demultiplexer copies the data
 * of READ replies straight into the reader's buffer.
 *
 * @module
 */

import { Buffer } from "node:buffer";
// @ts-types="npm:@types/ssh2@^1.15.0"
import type { SFTPWrapper } from "ssh2";
import SftpModule from "ssh2/lib/protocol/SFTP.js";

/** ssh2's SFTP client class, driven here over the OpenSSH client's stdin/stdout. */
const SftpClass = (SftpModule as {
  SFTP: new (
    client: unknown,
    chanInfo: { type: string; incoming: unknown; outgoing: unknown },
    cfg?: unknown,
  ) => unknown;
}).SFTP;

/** The parts of ssh2's SFTP object the pipe plumbing touches. */
export interface SftpInternals {
  /** Feed bytes from the server (`null`: the stream ended). */
  push(data: Buffer | null): void;
  /** Send INIT. */
  _init(): void;
  /** The extensions the server announced. */
  _extensions: Record<string, string>;
  /** Size requests as for an OpenSSH server. */
  _isOpenSSH: boolean;
  /** Largest READ request. */
  _maxReadLen: number;
  /** Largest WRITE request. */
  _maxWriteLen: number;
  _waitWindow: boolean;
  _chunkcb: (() => void) | undefined;
  _buffer: unknown[];
  _writeReqid: number;
  _requests: Record<number, PendingRequest>;
}

/** A request waiting for its reply in ssh2's SFTP client; reads carry the buffer to fill. */
interface PendingRequest {
  cb: (err?: Error | null, buf?: Buffer, n?: number) => void;
  buffer?: Buffer;
}

/**
 * Bytes handed to ssh's stdin and not yet written: SFTP buffers beyond it and
 * resumes as the pipe drains (its SSH channel window, played by the pipe).
 */
const SSH_PIPE_WINDOW = 8 << 20;
/** Bytes per read from ssh's stdout (its pipe holds 64 KiB, or 1 MiB once widened). */
const SSH_READ_SIZE = 256 * 1024;
/** Small packets (metadata requests) queued together are written to ssh's stdin in one go, up to this. */
const SSH_PIPE_BATCH = 64 * 1024;

/** An SFTP client on a child's pipes. */
export interface SftpPipe {
  /** ssh2's SFTP client. */
  sftp: SFTPWrapper & SftpInternals;
  /** Resolves when stdout has ended (the SFTP stream is over). */
  stdoutDone: Promise<void>;
  /** Close ssh's stdin (after the queued writes); idempotent. */
  closeStdin(): void;
  /** Send a prepared WRITE packet past ssh2's queue; `false` when it must queue there. */
  sendWrite(packet: Buffer, done: (err?: Error | null) => void): boolean;
}

/** Run ssh2's SFTP client over `child`'s stdin and stdout. Call `sftp._init()` to start. */
export function sftpOverPipes(child: Deno.ChildProcess): SftpPipe {
  // ---- stdin: a write queue with a window, so SFTP waits when ssh does ----
  const outgoing = { id: 0, window: SSH_PIPE_WINDOW, packetSize: SSH_PIPE_WINDOW, state: "open" };
  const writer = child.stdin.getWriter();
  const queue: Uint8Array[] = [];
  let pumping = false;
  let closeWanted = false;
  let stdinClosed = false;
  const closeStdin = () => {
    if (stdinClosed) return;
    stdinClosed = true;
    outgoing.state = "closed";
    writer.close().catch(() => {});
  };
  const pump = async () => {
    if (pumping) return;
    pumping = true;
    try {
      while (queue.length && !stdinClosed) {
        let buf = queue.shift()!;
        if (queue.length && buf.length < SSH_PIPE_BATCH) {
          // Coalesce small packets: one pipe write per batch, fewer event loop turns.
          const parts = [buf];
          let n = buf.length;
          while (queue.length && n + queue[0]!.length <= SSH_PIPE_BATCH) {
            const b = queue.shift()!;
            parts.push(b);
            n += b.length;
          }
          if (parts.length > 1) buf = Buffer.concat(parts, n);
        }
        await writer.write(buf);
        outgoing.window += buf.length;
        if (sftp._waitWindow) {
          sftp._waitWindow = false;
          sftp._chunkcb?.call(sftp);
        }
      }
    } catch {
      // ssh exited: its end is handled by the caller
      queue.length = 0;
      stdinClosed = true;
      outgoing.state = "closed";
    } finally {
      pumping = false;
    }
    if (closeWanted && !queue.length) closeStdin();
  };
  const send = (data: Uint8Array) => {
    if (stdinClosed) return;
    queue.push(data);
    void pump();
  };
  const fakeClient = {
    _protocol: {
      _remoteIdentRaw: undefined,
      channelData: (_id: number, data: Uint8Array) => send(data),
      channelClose: () => {
        closeWanted = true;
        if (!pumping && !queue.length) closeStdin();
      },
    },
  };
  const sftp = new SftpClass(fakeClient, {
    type: "session",
    incoming: { id: 0, window: SSH_PIPE_WINDOW, packetSize: SSH_PIPE_WINDOW, state: "open" },
    outgoing,
  }) as SFTPWrapper & SftpInternals;

  // ---- stdout: everything ssh prints is the SFTP stream ----
  const stdoutDone = (async () => {
    // One buffer, reused: the demultiplexer copies every byte out of it
    // (data straight into the reader's buffer), so a transfer leaves no
    // garbage per read.
    const reader = child.stdout.getReader({ mode: "byob" });
    const demux = new SftpDemux(sftp);
    let buf = new Uint8Array(SSH_READ_SIZE);
    try {
      for (let i = 0; i < Number.MAX_SAFE_INTEGER; i++) {
        const { value, done } = await reader.read(buf);
        if (done || !value) break;
        demux.feed(value);
        buf = new Uint8Array(value.buffer);
      }
    } catch {
      // the pipe broke: the process is gone
    } finally {
      reader.releaseLock();
    }
    sftp.push(null);
  })();

  const sendWrite = (packet: Buffer, done: (err?: Error | null) => void): boolean => {
    // Only when nothing waits in ssh2's own queue, so requests stay in order.
    if (sftp._buffer.length || outgoing.state !== "open" || outgoing.window < packet.length) {
      return false;
    }
    const id = ((sftp._writeReqid + 1) & 0xffffffff) >>> 0;
    sftp._writeReqid = id;
    packet.writeUInt32BE(id, 5);
    sftp._requests[id] = { cb: done };
    outgoing.window -= packet.length;
    send(packet);
    return true;
  };
  return { sftp, stdoutDone, closeStdin, sendWrite };
}

/**
 * Splits the server's SFTP stream into packets before ssh2 sees it. The data
 * of a DATA reply (103) to a pending read is copied straight into the
 * reader's buffer and its callback called, as ssh2 would after copying the
 * packet once more; every other packet is handed to ssh2 with its head as a
 * copy, so ssh2 assembles it in memory of its own and never keeps a view of
 * the caller's chunk, which can then be reused.
 */
class SftpDemux {
  readonly #sftp: SftpInternals;
  readonly #head = Buffer.alloc(13);
  #headLen = 0;
  #headNeed = 4;
  /** 0: reading a packet head; 1: passing a body to ssh2; 2: copying data to a reader. */
  #mode = 0;
  #left = 0;
  #req: PendingRequest | undefined;
  #dataLen = 0;

  constructor(sftp: SftpInternals) {
    this.#sftp = sftp;
  }

  feed(chunk: Uint8Array): void {
    let p = 0;
    while (p < chunk.length) {
      if (this.#mode === 1) {
        const k = Math.min(this.#left, chunk.length - p);
        this.#sftp.push(Buffer.from(chunk.buffer, chunk.byteOffset + p, k));
        this.#left -= k;
        p += k;
        if (this.#left === 0) this.#mode = 0;
        continue;
      }
      if (this.#mode === 2) {
        const k = Math.min(this.#left, chunk.length - p);
        const req = this.#req!;
        req.buffer!.set(chunk.subarray(p, p + k), this.#dataLen - this.#left);
        this.#left -= k;
        p += k;
        if (this.#left === 0) this.#finishData();
        continue;
      }
      while (this.#headLen < this.#headNeed && p < chunk.length) {
        this.#head[this.#headLen++] = chunk[p++]!;
        if (this.#headLen === 4) this.#headNeed = Math.min(13, 4 + this.#head.readUInt32BE(0));
      }
      if (this.#headLen < this.#headNeed || this.#headLen < 4) continue;
      this.#startPacket();
    }
  }

  #startPacket(): void {
    const h = this.#head;
    const len = h.readUInt32BE(0);
    const need = this.#headNeed;
    this.#headLen = 0;
    this.#headNeed = 4;
    if (need === 13 && h[4] === 103) {
      const id = h.readUInt32BE(5);
      const n = h.readUInt32BE(9);
      const req = this.#sftp._requests[id];
      if (req?.buffer && n <= req.buffer.length && len === 9 + n) {
        delete this.#sftp._requests[id];
        this.#req = req;
        this.#dataLen = n;
        this.#left = n;
        this.#mode = 2;
        if (n === 0) this.#finishData();
        return;
      }
    }
    this.#sftp.push(Buffer.from(h.subarray(0, need)));
    this.#left = 4 + len - need;
    this.#mode = this.#left > 0 ? 1 : 0;
  }

  #finishData(): void {
    const req = this.#req!;
    this.#req = undefined;
    this.#mode = 0;
    req.cb(undefined, req.buffer, this.#dataLen);
  }
}
