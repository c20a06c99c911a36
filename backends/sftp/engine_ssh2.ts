/**
 * The `ssh2` engine: npm `ssh2`'s pure JavaScript SSH client. It reads the
 * ssh config itself (`ssh_config.ts`), checks the host key itself
 * (`known_hosts.ts`) and logs in with the agent, then the keys, then the
 * password, asked only when the server refused the others (`auth.ts`).
 *
 * @module
 */

import type { Buffer } from "node:buffer";
// @ts-types="npm:@types/ssh2@^1.15.0"
import { Client, type ConnectConfig } from "ssh2";
import { abortError, BackendError, ErrorCode, reasonOf } from "../../core/errors.ts";
import { authHandler, keyMethods } from "./auth.ts";
import { type LoginContext, toBackendError } from "./error.ts";
import { HostKeyCheck, readKnownHosts } from "./known_hosts.ts";
import { markLost, type OpenParams, type Session } from "./session.ts";
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
    connectTimeout: settings.connectTimeout,
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
    timer = setTimeout(() => onTimeout(), settings.connectTimeout);
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

  const cfg: ConnectConfig = {
    host: t.host,
    port: t.port,
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
      client.sftp((err, sftp) => {
        if (err) {
          return fail(
            new BackendError(`the server refused the SFTP subsystem: ${reasonOf(err)}`, {
              code: ErrorCode.connection_failed,
              cause: err,
            }),
          );
        }
        if (settled) return void sftp.end();
        const internals = sftp as unknown as {
          _extensions?: Record<string, string>;
          _maxReadLen?: number;
          _maxWriteLen?: number;
        };
        const ext = internals._extensions ?? {};
        session = {
          sftp,
          end: () => client.end(),
          destroy: () => client.destroy(),
          closed: false,
          closedPromise,
          watchers: new Set(),
          posixRename: ext["posix-rename@openssh.com"] === "1",
          fsync: ext["fsync@openssh.com"] === "1",
          readLen: Math.min(p.chunk, internals._maxReadLen ?? 32768),
          writeLen: Math.min(p.chunk, internals._maxWriteLen ?? 32768),
        };
        const channelGone = () => {
          gone();
          client.end();
        };
        sftp.on("end", channelGone);
        sftp.on("close", channelGone);
        sftp.on("error", channelGone); // a protocol error ends the channel; requests fail with code 38
        settled = true;
        signal?.removeEventListener("abort", onAbort);
        resolve(session);
      });
    });
    try {
      startTimer();
      client.connect(cfg);
      client.setNoDelay(true); // Nagle + delayed ACK cost ~40 ms per request under Deno
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
