/**
 * File transfers: `RETR` and `STOR` streamed between a local file and a data
 * connection (passive or active, plain or TLS) that this module opens itself,
 * under a no-progress watchdog. (Listings use basic-ftp's own transfers.)
 *
 * @module
 */

import { type Client, FTPError, type FTPResponse } from "basic-ftp";
import type { OperationContext } from "../../core/backend.ts";
import { openActive, type PendingData } from "./active_mode.ts";
import type { Connection } from "./session.ts";
import { type DataConn, plainData, TlsData } from "./tls_data.ts";

/** How data connections are made: what {@linkcode download} and {@linkcode upload} need to know. */
export interface TransferMode {
  /** Active mode (the server connects to us), else passive. */
  readonly active: boolean;
  /** FTPS: data connections speak TLS. */
  readonly secure: boolean;
  /** Milliseconds without a byte moving before both connections are dropped; 0 never. */
  readonly timeout: number;
  /** Bytes per read from the source. */
  readonly bufferSize: number;
}

/**
 * Send `command` (`RETR name`) and write the data into `file`, reporting
 * progress on `ctx`.
 */
export async function download(
  conn: Connection,
  mode: TransferMode,
  command: string,
  file: Deno.FsFile,
  ctx: OperationContext | undefined,
): Promise<void> {
  await transfer(conn, mode, command, ctx, async (data, moved) => {
    const buf = new Uint8Array(mode.bufferSize);
    while (true) {
      const n = await data.read(buf);
      if (n === null) return;
      let off = 0;
      while (off < n) off += await file.write(buf.subarray(off, n));
      moved(n);
    }
  });
}

/**
 * Send `command` (`STOR name`) and stream `file` to the server, reporting
 * progress on `ctx`; returns the bytes sent.
 */
export async function upload(
  conn: Connection,
  mode: TransferMode,
  command: string,
  file: Deno.FsFile,
  ctx: OperationContext | undefined,
): Promise<number> {
  let sent = 0;
  await transfer(conn, mode, command, ctx, async (data, moved) => {
    const buf = new Uint8Array(mode.bufferSize);
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
  return sent;
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
async function transfer(
  conn: Connection,
  mode: TransferMode,
  command: string,
  ctx: OperationContext | undefined,
  pump: (data: DataConn, moved: (bytes: number) => void) => Promise<void>,
): Promise<void> {
  const ftp = conn.client.ftp;
  const opening: PendingData = mode.active
    ? await openActive(conn.client)
    : { tcp: Promise.resolve(await openPassive(conn.client, mode.timeout, ctx)), close: () => {} };
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
    data = mode.secure ? new TlsData(tcp, ftp, conn.pin) : plainData(tcp);
    return data;
  });
  ready.catch(() => {}); // the pump reports it
  let idle = 0;
  const watchdog = mode.timeout > 0
    ? setInterval(() => {
      idle += 1000;
      if (idle >= mode.timeout) {
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
async function openPassive(
  client: Client,
  timeout: number,
  ctx: OperationContext | undefined,
): Promise<Deno.TcpConn> {
  const host = client.ftp.socket.remoteAddress?.replace(/^::ffff:/, "");
  if (!host) throw new Error("Control socket is disconnected");
  let port: number | undefined;
  const epsv = await client.sendIgnoringError("EPSV");
  if (epsv.code === 229) port = Number(/\|\|\|(\d+)\|/.exec(epsv.message)?.[1]);
  else {
    const pasv = await client.send("PASV");
    const m = /(\d+),(\d+),(\d+),(\d+),(\d+),(\d+)/.exec(pasv.message);
    if (m) port = (Number(m[5]) & 255) * 256 + (Number(m[6]) & 255);
  }
  if (!port) throw new Error(`Cannot parse the passive-mode reply "${epsv.message}"`);
  const connectSignals = [AbortSignal.timeout(timeout || 30000)];
  if (ctx) connectSignals.push(ctx.signal);
  return await Deno.connect({ hostname: host, port, signal: AbortSignal.any(connectSignals) });
}
