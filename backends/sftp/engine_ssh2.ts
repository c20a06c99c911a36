/**
 * The `ssh2` engine: npm `ssh2`'s pure JavaScript SSH client. It reads the
 * ssh config itself (`ssh_config.ts`), checks the host key itself
 * (`known_hosts.ts`) and logs in with the agent, then the keys, then the
 * password, asked only when the server refused the others (`auth.ts`).
 *
 * @module
 */

import type { Buffer } from "node:buffer";
import { connect as tcpConnect, type Socket } from "node:net";
// @ts-types="npm:@types/ssh2@^1.15.0"
import { Client, type ClientChannel, type ConnectConfig } from "ssh2";
import { abortError, BackendError, ErrorCode, reasonOf } from "../../core/errors.ts";
import { authHandler, keyMethods } from "./auth.ts";
import { type LoginContext, toBackendError } from "./error.ts";
import { HostKeyCheck, readKnownHosts } from "./known_hosts.ts";
import { markLost, type OpenParams, type Session, sessionFacts, sized } from "./session.ts";
import { SftpClient } from "./sftp_client.ts";
import { isForeignGreeting } from "./ssh_log.ts";
import { envGet, resolveTarget } from "./ssh_config.ts";

/** Connect with ssh2, log in and open the SFTP channel. */
export async function openSsh2(p: OpenParams): Promise<Session> {
  const { settings, signal } = p;
  const t = await resolveTarget(p.url, settings.sshConfig, settings.identityFile);
  const agent = settings.agent === "none" ? undefined : settings.agent || envGet("SSH_AUTH_SOCK");
  const { methods, tried } = await keyMethods(t, agent, settings.passphrase);
  if (methods.length === 0 && p.password.known() === undefined && !p.password.mayAsk) {
    throw new BackendError(
      `no way to log in to ${t.host}:${t.port} as "${t.user}": no ssh-agent, no identity file and no password (URL or FTP_PASSWORD)`,
      { code: ErrorCode.backend_permission_denied },
    );
  }
  const check = settings.insecureSkipHostKeyCheck ? undefined : new HostKeyCheck(
    await readKnownHosts(settings.knownHostsFile),
    t.host,
    t.port,
    settings.acceptNewHostKey,
  );
  const where = `${t.host}:${t.port}`;
  const at: LoginContext = {
    where,
    user: t.user,
    tried,
    connectTimeout: p.loginTimeout,
  };

  const client = new Client();
  let closedResolve!: () => void;
  const closedPromise = new Promise<void>((r) => closedResolve = r);
  let session: Session | undefined;
  const gone = () => {
    if (session) markLost(session, where);
  };

  // The login time limit, paused while the user types a password.
  let timer: ReturnType<typeof setTimeout> | undefined;
  let onTimeout = () => {};
  const startTimer = () => {
    timer = setTimeout(() => onTimeout(), p.loginTimeout);
  };
  let asked = false;
  const password = async () => {
    const mayAsk = p.password.mayAsk;
    if (mayAsk) clearTimeout(timer);
    try {
      const pw = await p.password.get(p.progress);
      asked = pw !== undefined && p.password.stored() === undefined; // asked now or before
      return pw;
    } finally {
      if (mayAsk) startTimer();
    }
  };
  const auth = authHandler(methods, t.user, password, tried);

  // Our own socket, so a server that greets in another protocol fails at once.
  let foreign: string | undefined;
  let onForeign = () => {};
  const sock: Socket = tcpConnect({ host: t.host, port: t.port });
  sock.on("error", () => {}); // ssh2 reports socket errors once it has the socket
  watchGreeting(sock, (line) => {
    foreign = line;
    onForeign();
  });
  const cfg: ConnectConfig = {
    sock,
    username: t.user,
    readyTimeout: 0, // our own timer, which waits while a password is asked
    keepaliveInterval: settings.keepaliveInterval * 1000,
    keepaliveCountMax: 3,
    authHandler: auth.handler,
  };
  // ssh2's default cipher order (AES-GCM first) is kept on purpose: under Deno,
  // chacha20-poly1305 costs less CPU but its per-packet cipher contexts are
  // native memory that grows with the transfer (measured: 252 MiB after 1 GiB).
  const algorithms: Record<string, unknown> = {};
  if (settings.ciphers) algorithms.cipher = settings.ciphers;
  if (settings.macs) algorithms.hmac = settings.macs;
  if (settings.kex) algorithms.kex = settings.kex;
  if (check) {
    cfg.hostVerifier = (key: Buffer): boolean => check.verify(key);
    const known = check.knownAlgorithms();
    if (known.length) algorithms.serverHostKey = { remove: known, prepend: known };
  } else cfg.hostVerifier = () => true;
  (cfg as { algorithms?: unknown }).algorithms = algorithms;

  return await new Promise<Session>((resolve, reject) => {
    let settled = false;
    const fail = (err: unknown) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      signal?.removeEventListener("abort", onAbort);
      client.destroy();
      sock.destroy();
      reject(err);
    };
    const failLogin = (err: unknown) => {
      at.hostKeyProblem = check?.problem;
      const failure = auth.failure();
      if (failure !== undefined) return fail(failure); // the user cancelled the password prompt
      const e = toBackendError(err, at);
      if (asked && e.code === ErrorCode.backend_permission_denied) p.password.forget();
      fail(e);
    };
    onTimeout = () => failLogin(Object.assign(new Error("timeout"), { level: "client-timeout" }));
    onForeign = () =>
      fail(
        new BackendError(`${where} does not speak SSH: it greeted with "${foreign}"`, {
          code: ErrorCode.connection_failed,
        }),
      );
    const onAbort = () => fail(abortError(signal!));
    signal?.addEventListener("abort", onAbort, { once: true });
    client.on("error", (err: Error & { level?: string }) => {
      if (settled) return; // a later error also closes the client; "close" marks the session dead
      if (err.level === "agent") return; // an unusable agent (stale SSH_AUTH_SOCK): ssh2 moves on
      failLogin(err);
    });
    client.on("end", gone);
    client.on("close", () => {
      gone();
      closedResolve();
      if (!settled) {
        failLogin(
          new BackendError(`the connection to ${where} closed during login`, {
            code: ErrorCode.connection_failed,
          }),
        );
      }
    });
    client.on("ready", () => {
      clearTimeout(timer);
      client.setNoDelay(true);
      client.subsys("sftp", (err: Error | undefined, channel: ClientChannel) => {
        if (err) {
          return fail(
            new BackendError(`the server refused the SFTP subsystem: ${reasonOf(err)}`, {
              code: ErrorCode.connection_failed,
              cause: err,
            }),
          );
        }
        if (settled) return void channel.end();
        const sftp = new SftpClient({ send: (bytes) => void channel.write(bytes) });
        channel.on("data", (chunk: Uint8Array) => sftp.feed(chunk));
        const channelGone = () => {
          sftp.fail(
            new BackendError(`the SFTP channel to ${where} closed`, {
              code: ErrorCode.connection_failed,
            }),
          );
          gone();
          client.end();
        };
        channel.on("end", channelGone);
        channel.on("close", channelGone);
        channel.on("error", channelGone);
        const software = (client as unknown as { _remoteVer?: string })._remoteVer;
        sftp.start(() => /^(OpenSSH|dropbear)/i.test(software ?? "")).then(() => {
          if (settled) return;
          session = {
            client: sftp,
            end: () => client.end(),
            destroy: () => sock.destroy(), // ssh2's destroy() does nothing once end() was called
            closed: false,
            closedPromise,
            ...sessionFacts(sftp, software, p.chunk),
          };
          session.sized = sized(session, p.chunk);
          settled = true;
          signal?.removeEventListener("abort", onAbort);
          resolve(session);
        }, (e) => fail(toBackendError(e, at)));
      });
    });
    try {
      startTimer();
      sock.setNoDelay(true); // Nagle + delayed ACK cost ~40 ms per request under Deno
      client.connect(cfg);
    } catch (err) {
      fail(
        new BackendError(`cannot connect to ${where}: ${reasonOf(err)}`, {
          code: ErrorCode.user_error,
          cause: err,
        }),
      );
    }
  });
}

/**
 * Call `onForeign` with the server's first line when it is another
 * protocol's greeting rather than an SSH version string (see
 * {@linkcode isForeignGreeting}); stop watching once the first line came.
 */
function watchGreeting(sock: Socket, onForeign: (line: string) => void): void {
  let seen = "";
  const watch = (chunk: Uint8Array) => {
    seen += new TextDecoder("latin1").decode(chunk.subarray(0, 512));
    const nl = seen.indexOf("\n");
    if (nl === -1 && seen.length < 256) return;
    sock.off("data", watch);
    const line = (nl === -1 ? seen : seen.slice(0, nl)).replace(/\r$/, "");
    if (!line.startsWith("SSH-") && isForeignGreeting(line)) onForeign(line.slice(0, 200));
  };
  sock.on("data", watch);
}
