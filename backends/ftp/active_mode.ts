/**
 * Active mode: the server connects back to us (`PORT`/`EPRT`). Two ways in:
 * {@linkcode openActive} for the file transfers (a Deno listener, see
 * `transfer.ts`), and {@linkcode activeMode}, a transfer strategy for
 * basic-ftp's own transfers (listings).
 *
 * @module
 */

import type { Buffer } from "node:buffer";
import { createServer, type Server, type Socket, Socket as NetSocket } from "node:net";
import { connect as tlsConnect, TLSSocket } from "node:tls";
import type { Client, FTPContext, FTPResponse, ResponseHandler } from "basic-ftp";
import type { Pin } from "./certificates.ts";

/** A data connection on its way: the server's connection once accepted, and how to give up. */
export interface PendingData {
  /** Resolves to the TCP connection. */
  tcp: Promise<Deno.TcpConn>;
  /** Stop waiting (close the listener); safe to call twice. */
  close(): void;
}

/**
 * Active mode: listen on the control connection's local address, send
 * `PORT` (IPv4) or `EPRT` (IPv6), and accept the server's connection —
 * only from the server's address. The transfer's watchdog and abort close
 * the listener when the server never connects.
 */
export async function openActive(client: Client): Promise<PendingData> {
  const control = client.ftp.socket;
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
    await client.send(
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
 * basic-ftp's transfer strategy for active mode: listen on the control
 * connection's local address, send `PORT` (IPv4) or `EPRT` (IPv6), and
 * accept the server's data connection — only from the server's address —
 * wrapping it in TLS (as the client, resuming the control session) for
 * FTPS. basic-ftp wants a data socket before it sends the command and uses
 * it when the server's `150` arrives; servers may connect before or after
 * sending that, so a placeholder stands in and replies are held back until
 * the real connection is accepted.
 */
export function activeMode(pin?: Pin): (ftp: FTPContext) => Promise<FTPResponse> {
  return (ftp) => enterActiveMode(ftp, pin);
}

async function enterActiveMode(
  ftp: FTPContext,
  pin: Pin | undefined,
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
  // The caller's timeout (basic-ftp's, set per call); 0: wait as long as the caller does.
  const timer = ftp.timeout > 0
    ? setTimeout(() => {
      if (finished) return;
      stop();
      ftp.closeWithError(
        new Error("Timeout waiting for the server's data connection (active mode)"),
      );
    }, ftp.timeout)
    : undefined;

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
