/**
 * The SFTP byte stream over the OpenSSH client's stdin and stdout, in one
 * of two ways:
 *
 * - a Unix socket (when perl is at hand): a perl shim connects ssh's stdin
 *   and stdout to a socket this process listens on, then becomes ssh. A
 *   socket is read and written without the Web Streams machinery of a
 *   child's pipes: ~10 µs per request and answer instead of ~80, which is
 *   most of the cost of a small file or a page of a listing;
 * - the child's pipes otherwise.
 *
 * Either way requests are queued in order and written together when small;
 * everything ssh prints on stdout is the server's side of the stream.
 *
 * @module
 */

import type { SftpTransport } from "./sftp_client.ts";

/** Bytes per read from ssh's stdout. */
const SSH_READ_SIZE = 256 * 1024;
/** Small packets (metadata requests) queued together are written to ssh's stdin in one go, up to this. */
const SSH_PIPE_BATCH = 64 * 1024;

/**
 * Connects the stdin and stdout of the program in ARGV (after the socket
 * path) to the Unix socket at ARGV[0], with socket buffers as large as the
 * kernel allows, then becomes that program.
 */
export const SOCKET_SHIM =
  'my $p = shift @ARGV; socket(my $s, 1, 1, 0) or die "stowage: socket: $!\\n"; setsockopt($s, 1, 7, 4194304); setsockopt($s, 1, 8, 4194304); connect($s, pack("S Z108", 1, $p)) or die "stowage: cannot connect to $p: $!\\n"; open(STDIN, "<&", $s) or die; open(STDOUT, ">&", $s) or die; close($s); exec { $ARGV[0] } @ARGV or die "cannot run $ARGV[0]: $!\\n";';

/** The SFTP stream on ssh's stdin and stdout. */
export interface SftpPipe {
  /** Where requests go (ssh's stdin). */
  transport: SftpTransport;
  /** Resolves when stdout has ended (the SFTP stream is over). */
  stdoutDone: Promise<void>;
  /** Close ssh's stdin (after the queued writes); idempotent. */
  closeStdin(): void;
}

/** What the queue writes to and reads from. */
interface Ends {
  write(data: Uint8Array): Promise<void>;
  closeWrite(): Promise<void>;
  read(onData: (chunk: Uint8Array) => void): Promise<void>;
}

/** Carry the SFTP stream over `child`'s stdin and stdout; what ssh prints goes to `onData`. */
export function sftpOverPipes(
  child: Deno.ChildProcess,
  onData: (chunk: Uint8Array) => void,
): SftpPipe {
  const writer = child.stdin.getWriter();
  return over(
    Promise.resolve({
      write: (data) => writer.write(data),
      closeWrite: () => writer.close(),
      async read(take) {
        // One buffer, reused: the client copies out every byte it keeps.
        const reader = child.stdout.getReader({ mode: "byob" });
        let buf = new Uint8Array(SSH_READ_SIZE);
        try {
          for (let i = 0; i < Number.MAX_SAFE_INTEGER; i++) {
            const { value, done } = await reader.read(buf);
            if (done || !value) break;
            take(value);
            buf = new Uint8Array(value.buffer);
          }
        } finally {
          reader.releaseLock();
        }
      },
    }),
    onData,
  );
}

/**
 * Carry the SFTP stream over the Unix socket ssh's stdin and stdout are
 * connected to (`conn`, once accepted; `undefined` when it never was).
 */
export function sftpOverSocket(
  conn: Promise<Deno.UnixConn | undefined>,
  onData: (chunk: Uint8Array) => void,
): SftpPipe {
  return over(
    conn.then((c) => {
      if (!c) throw new Error("ssh never connected");
      return {
        async write(data) {
          for (let off = 0; off < data.length;) off += await c.write(data.subarray(off));
        },
        closeWrite: () => c.closeWrite(),
        async read(take) {
          const buf = new Uint8Array(SSH_READ_SIZE);
          try {
            for (let n = await c.read(buf); n !== null; n = await c.read(buf)) {
              take(buf.subarray(0, n));
            }
          } finally {
            c.close();
          }
        },
      } satisfies Ends;
    }),
    onData,
  );
}

/** The queue of requests over `ends`, coalescing small ones, and the reading loop. */
function over(ends: Promise<Ends>, onData: (chunk: Uint8Array) => void): SftpPipe {
  const queue: Uint8Array[] = [];
  let pumping = false;
  let closeWanted = false;
  let stdinClosed = false;
  let io: Ends | undefined;
  const closeStdin = () => {
    if (stdinClosed) return;
    if (pumping || queue.length || !io) {
      closeWanted = true;
      return;
    }
    stdinClosed = true;
    io.closeWrite().catch(() => {});
  };
  const pump = async () => {
    if (pumping || !io) return;
    pumping = true;
    try {
      while (queue.length && !stdinClosed) {
        let buf = queue.shift()!;
        if (queue.length && buf.length < SSH_PIPE_BATCH) {
          // Coalesce small packets: one write per batch, fewer event loop turns.
          const parts = [buf];
          let n = buf.length;
          while (queue.length && n + queue[0]!.length <= SSH_PIPE_BATCH) {
            const b = queue.shift()!;
            parts.push(b);
            n += b.length;
          }
          if (parts.length > 1) {
            buf = new Uint8Array(n);
            let o = 0;
            for (const p of parts) {
              buf.set(p, o);
              o += p.length;
            }
          }
        }
        await io.write(buf);
      }
    } catch {
      // ssh exited: its end is handled by the caller
      queue.length = 0;
      stdinClosed = true;
    } finally {
      pumping = false;
    }
    if (closeWanted && !queue.length) closeStdin();
  };
  const stdoutDone = ends.then(async (e) => {
    io = e;
    void pump();
    if (closeWanted) closeStdin();
    await e.read(onData);
  }).catch(() => {
    // the pipe or socket broke, or never connected: the process is gone
    stdinClosed = true;
    queue.length = 0;
  });
  return {
    transport: {
      send(data) {
        if (stdinClosed) return;
        queue.push(data);
        // Requests sent in one turn (a WRITE, its flush, the CLOSE) leave in one write.
        if (queue.length === 1) queueMicrotask(() => void pump());
      },
    },
    stdoutDone,
    closeStdin,
  };
}
