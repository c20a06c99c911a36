/**
 * File transfers: `RETR` and `STOR` on a data connection (passive or active,
 * plain or TLS) that this module opens itself. {@linkcode openTransfer}
 * starts one and hands out the data connection (the streams in
 * `streams.ts` use it directly); {@linkcode download} and
 * {@linkcode upload} pump it to and from a local file. (Listings use
 * basic-ftp's own transfers.)
 *
 * @module
 */

import { type Client, FTPError, type FTPResponse } from "basic-ftp";
import type { OperationContext } from "../../core/backend.ts";
import { openActive, type PendingData } from "./active_mode.ts";
import type { Connection } from "./session.ts";
import { type DataConn, plainData, TlsData } from "./tls_data.ts";

/** How data connections are made: what a transfer needs to know. */
export interface TransferMode {
  /** Active mode (the server connects to us), else passive. */
  readonly active: boolean;
  /** FTPS: data connections speak TLS. */
  readonly secure: boolean;
  /** Bytes per read from the source. */
  readonly bufferSize: number;
}

/** A file transfer in flight on one control connection. */
export interface Transfer {
  /** The data connection. */
  readonly data: DataConn;
  /**
   * Close the data connection (after an upload's `data.finish()`: the EOF
   * that completes the file) and wait for the server's final reply;
   * rejects with the server's failure (`426`, `451`, `552`, …).
   */
  end(): Promise<void>;
  /**
   * Give up: close the data connection and wait, at most the caller's
   * timeout, for the server's final reply, so the control connection stays
   * in step and can remove a temporary file at once; when the reply does
   * not come, the control connection is closed. Resolves (never rejects)
   * with the server's failure reply, if it sent one. Safe to call twice.
   */
  abort(): Promise<FTPError | undefined>;
}

/**
 * Send `command` (`RETR name`, `STOR name`) on a new data connection and
 * resolve once the server has answered `125`/`150` and the data connection
 * is up; a refusal (`550` for a missing file) rejects. `restart` sends
 * `REST` first (right before the command, so it cannot outlive a failure). While the transfer
 * runs, an abort of `ctx.signal` closes the data connection (the caller's
 * next read or write fails; it then calls `abort()`), and the control
 * connection's own timeout is off: the wrapper watches progress.
 */
export async function openTransfer(
  conn: Connection,
  mode: TransferMode,
  command: string,
  ctx: OperationContext | undefined,
  restart = 0,
): Promise<Transfer> {
  const ftp = conn.client.ftp;
  const opening: PendingData = mode.active
    ? await openActive(conn.client)
    : { tcp: Promise.resolve(await openPassive(conn.client, ctx)), close: () => {} };
  if (restart > 0) {
    try {
      await conn.client.send(`REST ${restart}`);
    } catch (err) {
      opening.close();
      (await opening.tcp.catch(() => undefined))?.close();
      throw err;
    }
  }
  let data: DataConn | undefined;
  let dataClosed = false;
  const closeData = () => {
    if (dataClosed) return;
    dataClosed = true;
    opening.close();
    data?.close();
  };
  if (ctx?.signal.aborted) {
    closeData();
    (await opening.tcp.catch(() => undefined))?.close();
    throw ctx.signal.reason;
  }
  const ready = opening.tcp.then((tcp) => {
    if (dataClosed) {
      tcp.close();
      throw new Error("The data connection closed");
    }
    data = mode.secure ? new TlsData(tcp, ftp, conn.pin) : plainData(tcp);
    return data;
  });
  ready.catch(() => {}); // awaited below
  let started = false;
  let markOpened!: () => void;
  let failOpen!: (err: unknown) => void;
  const opened = new Promise<void>((resolve, reject) => {
    markOpened = resolve;
    failOpen = reject;
  });
  let settled = false;
  conn.transferring = true;
  const done: Promise<FTPResponse> = ftp.handle(command, (res, task) => {
    if (res instanceof Error) {
      closeData();
      task.reject(res);
      failOpen(res);
      return;
    }
    if (res.code === 125 || res.code === 150) {
      if (!started) {
        started = true;
        ftp.socket.setTimeout(0); // the control connection idles while data flows
        markOpened();
      }
      return;
    }
    const err = res.code >= 200 && res.code < 300
      ? (started ? undefined : new Error(`Unexpected reply "${res.message}"`))
      : new FTPError(res);
    if (!err) return task.resolve(res);
    closeData();
    task.reject(err);
    failOpen(err);
  });
  done.then(() => settled = true, () => settled = true);
  const onAbort = () => closeData();
  ctx?.signal.addEventListener("abort", onAbort, { once: true });
  const finish = () => {
    ctx?.signal.removeEventListener("abort", onAbort);
    conn.transferring = false;
  };
  /** Bound the wait for the final reply by the caller's timeout. */
  const awaitFinal = () => {
    if (!settled && conn.timeout > 0) ftp.socket.setTimeout(conn.timeout);
    return done;
  };
  let aborting: Promise<FTPError | undefined> | undefined;
  const abort = () =>
    aborting ??= (async () => {
      closeData();
      try {
        await awaitFinal();
        return undefined;
      } catch (err) {
        return err instanceof FTPError ? err : undefined;
      } finally {
        finish();
      }
    })();
  const transfer: Transfer = {
    get data(): DataConn {
      return data!;
    },
    async end() {
      closeData();
      try {
        await awaitFinal();
      } finally {
        finish();
      }
    },
    abort,
  };
  try {
    await opened;
    await ready;
  } catch (err) {
    const said = await abort();
    throw said ?? err;
  }
  return transfer;
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
  const t = await openTransfer(conn, mode, command, ctx);
  try {
    const buf = new Uint8Array(mode.bufferSize);
    while (true) {
      const n = await t.data.read(buf);
      if (n === null) break;
      let off = 0;
      while (off < n) off += await file.write(buf.subarray(off, n));
      ctx?.progress(n);
    }
  } catch (err) {
    throw (await t.abort()) ?? err;
  }
  await t.end(); // a 426 here means the server cut the file short
}

/**
 * Send `command` (`STOR name`) and stream `file` to the server, reporting
 * progress on `ctx`; returns the bytes the data connection carried once the
 * server confirmed the transfer (`226`).
 */
export async function upload(
  conn: Connection,
  mode: TransferMode,
  command: string,
  file: Deno.FsFile,
  ctx: OperationContext | undefined,
): Promise<number> {
  const t = await openTransfer(conn, mode, command, ctx);
  let sent = 0;
  try {
    const buf = new Uint8Array(mode.bufferSize);
    while (true) {
      const n = await file.read(buf);
      if (n === null) break;
      let off = 0;
      while (off < n) off += await t.data.write(buf.subarray(off, n));
      sent += n;
      ctx?.progress(n);
    }
    await t.data.finish(); // TLS: close_notify, then wait for the server's end
  } catch (err) {
    throw (await t.abort()) ?? err;
  }
  await t.end();
  return sent;
}

/**
 * Passive mode: EPSV (else PASV), then connect to the control
 * connection's peer (never to another host a PASV reply names); an abort
 * of `ctx.signal` stops the connect.
 */
async function openPassive(
  client: Client,
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
  return await Deno.connect({ hostname: host, port, ...(ctx ? { signal: ctx.signal } : {}) });
}
