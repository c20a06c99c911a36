/**
 * `sftp://` and `scp://` — a folder on an SSH server, over SFTP.
 *
 * URLs are duplicity's: `sftp://user[:pass]@host[:port]/rel/dir` is relative
 * to the login folder, `sftp://user@host//abs/dir` is absolute. The folder is
 * created (like `mkdir -p`) on the first put. `scp://` is the same backend.
 *
 * Two transports ("engines") carry the same SFTP client (npm `ssh2`'s):
 *
 * - `openssh` (the default when an `ssh` program is on PATH) runs the system
 *   OpenSSH client as `ssh -s host sftp`, like duplicity's `pexpect+sftp`
 *   backend, and speaks SFTP over its stdin and stdout. Encryption runs in
 *   OpenSSH's native code, 2–3× faster than `ssh2` under Deno (whose
 *   `node:crypto` is ~7× slower than Node's per AES-GCM packet, and whose
 *   native addon cannot load). OpenSSH reads the ssh config itself (`Match`,
 *   `Include`, `ProxyJump`, certificates, `~/.ssh/id_*`), with
 *   `StrictHostKeyChecking=yes` unless an option says otherwise; a password
 *   or key passphrase reaches it only through the environment of a private
 *   askpass helper, never its command line.
 * - `ssh2` (pure JavaScript, the fallback) authenticates in order with the
 *   ssh-agent (`SSH_AUTH_SOCK`), the identity files (the `identityFile`
 *   option, else `IdentityFile` from `~/.ssh/config`, else
 *   `~/.ssh/id_ed25519`, `id_ecdsa` and `id_rsa` when present), then the
 *   password (from the URL, else `FTP_PASSWORD`). `~/.ssh/config` supplies
 *   `HostName`, `Port`, `User` and `IdentityFile` for a host alias (first
 *   match wins per keyword, as in OpenSSH; `Match` blocks and `Include` are
 *   not read). Host keys are checked against `~/.ssh/known_hosts` (plain,
 *   `[host]:port`, comma lists, wildcards and hashed `|1|` entries;
 *   `@revoked` keys are refused, `@cert-authority` lines are ignored).
 *
 * With either engine an unknown host is refused with code 60 unless
 * `acceptNewHostKey` is set, which records its key (OpenSSH
 * `StrictHostKeyChecking=accept-new`), and a host whose key differs from the
 * recorded one is always refused. A wrong password fails once with code 51.
 *
 * Transfers are pipelined (up to `concurrency` outstanding reads or writes of
 * `chunkSize` bytes, as OpenSSH's sftp does with 64 × 32 KiB) and streamed
 * from and to disk, so memory stays flat with file size. A put goes to a
 * temporary name in the folder and is renamed over the final name with
 * `posix-rename@openssh.com` (atomic) where the server offers it. One
 * connection (one `ssh` process with the `openssh` engine) is reused for
 * every call.
 *
 * @example
 * ```ts ignore
 * import { getBackend } from "@stowage/backends";
 * await using store = await getBackend("sftp://backup@example.com/backups/host1", {
 *   identityFile: "/root/.ssh/backup_ed25519",
 * });
 * console.log(await store.list());
 * ```
 *
 * @module
 */

import { Buffer } from "node:buffer";
import { createHash, createHmac, timingSafeEqual } from "node:crypto";
import { dirname, join as joinLocal, posix } from "node:path";
// @ts-types="npm:@types/ssh2@^1.15.0"
import { Client, type ConnectConfig, type SFTPWrapper, utils as sshUtils } from "ssh2";
import SftpModule from "ssh2/lib/protocol/SFTP.js";
import {
  Backend,
  type BackendOptions,
  type DeclaredCapabilities,
  type OperationContext,
  type QueryResult,
} from "../core/backend.ts";
import { BackendError, ErrorCode, reasonOf } from "../core/errors.ts";
import { tempName } from "../core/names.ts";
import { optBool, optBytes, optList, optNumber, optString } from "../core/options.ts";
import { resolvePassword } from "../core/password.ts";
import type { ParsedUrl } from "../core/url.ts";

/** Options for {@linkcode SftpBackend}; from the CLI as `-o key=value`. */
export interface SftpOptions extends BackendOptions {
  /**
   * Private key file(s) to authenticate with (a list, or comma-separated);
   * with `openssh` these are passed as `-i` with `IdentitiesOnly=yes`.
   * Default: `IdentityFile` from the ssh config, else `~/.ssh/id_ed25519`,
   * `~/.ssh/id_ecdsa` and `~/.ssh/id_rsa` when they exist.
   */
  identityFile?: string | string[];
  /** Passphrase for encrypted identity files (to `openssh` through an askpass helper's environment); default none (encrypted default keys are skipped). */
  passphrase?: string;
  /** The known_hosts file (`openssh`: `UserKnownHostsFile`); default `~/.ssh/known_hosts` (plus `/etc/ssh/ssh_known_hosts`, read only). */
  knownHostsFile?: string;
  /**
   * Trust a host that is not in known_hosts yet and append its key there
   * (OpenSSH `StrictHostKeyChecking=accept-new`); default `false`. A changed
   * key is refused regardless.
   */
  acceptNewHostKey?: boolean | string;
  /**
   * DANGEROUS: do not verify the server's host key at all, so anyone between
   * you and the server can read and change what you transfer. Default `false`.
   */
  insecureSkipHostKeyCheck?: boolean | string;
  /**
   * The ssh config file (`openssh`: `-F`, read in full; `ssh2`: `HostName`,
   * `Port`, `User` and `IdentityFile` only); default `~/.ssh/config` (with
   * `openssh` also `/etc/ssh/ssh_config`, unless HOME is not the account's
   * home folder); `none` to read none.
   */
  sshConfig?: string;
  /** The ssh-agent socket to authenticate with (`openssh`: `IdentityAgent`); default `SSH_AUTH_SOCK`; `none` to use no agent. */
  agent?: string;
  /** Outstanding read or write requests per transfer; default 64 (as OpenSSH), fewer for large requests so at most 8 MiB is in flight (32 × 256 KiB). */
  concurrency?: number | string;
  /**
   * Bytes per read or write request, capped at what the server accepts
   * (255 KiB on OpenSSH servers, ~31 KiB on servers that announce no limit);
   * default 256 KiB with `openssh`, where larger requests mean fewer packets
   * to handle here, and 64 KiB with `ssh2`, where larger requests mostly add
   * memory (its SSH window caps the data in flight anyway).
   */
  chunkSize?: number | string;
  /** Parallel stat or remove requests for `queryInfo` and `delete`; default 16. */
  metaConcurrency?: number | string;
  /** Milliseconds to wait for the SSH handshake and login (`openssh`: also `ConnectTimeout`); default 20000. */
  connectTimeout?: number | string;
  /** Seconds between SSH keepalives (`openssh`: `ServerAliveInterval`; a dead connection fails after 3 unanswered); default 15; 0 turns them off. */
  keepaliveInterval?: number | string;
  /**
   * Ciphers to offer, in order of preference (OpenSSH `Ciphers`, `-c`; a list
   * or comma-separated); default AES-GCM first: ssh2's order, and with
   * `openssh` its defaults with AES-GCM moved to the front when the CPU has
   * AES instructions (faster than ChaCha20-Poly1305 there, and what rclone
   * picks).
   */
  ciphers?: string | string[];
  /** MACs to offer for non-AEAD ciphers, in order (OpenSSH `MACs`, `-m`); default the engine's order. */
  macs?: string | string[];
  /** Ask the server to flush an upload to disk before renaming it into place (`fsync@openssh.com`, when offered); default `true`. */
  fsync?: boolean | string;
  /**
   * The SSH transport: `openssh` runs the system OpenSSH client (`ssh -s host
   * sftp`) and speaks SFTP over its stdin/stdout; `ssh2` is the pure
   * JavaScript client of npm `ssh2`; `auto` (the default) picks `openssh`
   * when an `ssh` program is on PATH, else `ssh2`. OpenSSH encrypts in
   * native code (2–3× the throughput of `ssh2` under Deno, whose
   * `node:crypto` is slow and cannot load ssh2's native addon) and reads the
   * ssh config itself (`Match`, `Include`, `ProxyJump`, certificates).
   */
  engine?: "auto" | "openssh" | "ssh2" | string;
}

/**
 * The default request size. OpenSSH's sftp uses 64 × 32 KiB; under Deno,
 * ssh2 spends less CPU per byte with 64 KiB, while larger requests mostly add
 * memory (ssh2 allocates a buffer per request), since the usual 2 MiB SSH
 * channel window caps the data in flight anyway.
 */
const DEFAULT_CHUNK = 64 * 1024;
/**
 * With the OpenSSH engine, larger requests cost less CPU per byte in this
 * process (fewer packets to build and parse); OpenSSH servers accept up to
 * 255 KiB, others are capped by what they announce (ssh2's 31 KiB default).
 */
const DEFAULT_CHUNK_OPENSSH = 256 * 1024;
const DEFAULT_CONCURRENCY = 64;
/** With the default concurrency, the data in flight per transfer stays under this. */
const MAX_IN_FLIGHT = 8 << 20;
const DEFAULT_IDENTITIES = ["id_ed25519", "id_ecdsa", "id_rsa"];
/** Host key algorithms in ssh2's order; the ones known_hosts holds for the host go first. */
const HOST_KEY_ALGOS = [
  "ssh-ed25519",
  "ecdsa-sha2-nistp256",
  "ecdsa-sha2-nistp384",
  "ecdsa-sha2-nistp521",
  "rsa-sha2-512",
  "rsa-sha2-256",
  "ssh-rsa",
];
/** SFTP status codes (draft-ietf-secsh-filexfer-02). */
const SFTP = {
  EOF: 1,
  NO_SUCH_FILE: 2,
  PERMISSION_DENIED: 3,
  FAILURE: 4,
  NO_CONNECTION: 6,
  CONNECTION_LOST: 7,
  OP_UNSUPPORTED: 8,
};
const S_IFMT = 0o170000;
const S_IFREG = 0o100000;
const S_IFLNK = 0o120000;
const S_IFDIR = 0o040000;

/** One live connection with its SFTP channel. */
interface Session {
  sftp: SFTPWrapper;
  /** Ends the connection gracefully. */
  end: () => void;
  /** Ends the connection at once. */
  destroy: () => void;
  /** Set when the connection or the SFTP channel ended. */
  closed: boolean;
  /** Resolves when the client has fully closed. */
  closedPromise: Promise<void>;
  /** Why the session ended (code 38), once it has. */
  lostError?: BackendError;
  /** Called once when the connection is lost: fails the requests and transfers in progress. */
  watchers: Set<(err: BackendError) => void>;
  posixRename: boolean;
  fsync: boolean;
  readLen: number;
  writeLen: number;
  /**
   * Send a WRITE request whose packet the caller built (see `writeHeader`),
   * without ssh2 copying it; `false` when it must go through `sftp.write`.
   * The packet's memory may be reused once `done` is called.
   */
  sendWrite?: (packet: Buffer, done: (err?: Error | null) => void) => boolean;
}

/** Where and as whom to connect, after the ssh config is applied. */
interface Target {
  host: string;
  port: number;
  user: string;
  identityFiles: { path: string; explicit: boolean }[];
}

/**
 * A folder on an SSH server, reached over SFTP.
 *
 * @example
 * ```ts
 * import { ParsedUrl } from "@stowage/backends";
 * import { SftpBackend } from "@stowage/backends/backends/sftp";
 * const b = new SftpBackend(new ParsedUrl("sftp://backup@example.com//srv/backups"));
 * console.log(b.folder); // /srv/backups
 * ```
 */
export class SftpBackend extends Backend {
  /** The remote folder: relative to the login folder, or absolute. */
  readonly folder: string;
  readonly #concurrency: number | undefined;
  readonly #chunk: number;
  readonly #metaConcurrency: number;
  readonly #connectTimeout: number;
  readonly #keepalive: number;
  readonly #acceptNew: boolean;
  readonly #skipHostKey: boolean;
  readonly #fsync: boolean;
  readonly #engine: "openssh" | "ssh2";
  #session: Promise<Session> | undefined;
  #live: Session | undefined;
  #dirMade = false;
  #posixRenameKnown: boolean | undefined;
  /** Temporary uploads that could not be removed because the connection was gone. */
  readonly #orphans = new Set<string>();

  /** Read the URL and options; no network I/O (connects on first use). */
  constructor(url: ParsedUrl, options: SftpOptions = {}) {
    super(url, options);
    if (!url.hostname) {
      throw new BackendError(`Invalid URL "${url.stripAuth()}": it names no host`, {
        code: ErrorCode.user_error,
      });
    }
    this.folder = folderOf(url.path);
    this.#concurrency = optNumber(options, "concurrency", { min: 1, max: 1024, integer: true });
    this.#metaConcurrency =
      optNumber(options, "metaConcurrency", { min: 1, max: 256, integer: true }) ?? 16;
    this.#connectTimeout = optNumber(options, "connectTimeout", { min: 1 }) ?? 20000;
    this.#keepalive = optNumber(options, "keepaliveInterval", { min: 0 }) ?? 15;
    this.#acceptNew = optBool(options, "acceptNewHostKey") ?? false;
    this.#skipHostKey = optBool(options, "insecureSkipHostKeyCheck") ?? false;
    this.#fsync = optBool(options, "fsync") ?? true;
    const engine = optString(options, "engine") ?? "auto";
    if (engine !== "auto" && engine !== "openssh" && engine !== "ssh2") {
      throw new BackendError(
        `Invalid option "engine": ${JSON.stringify(engine)} is not auto, openssh or ssh2`,
        { code: ErrorCode.user_error },
      );
    }
    // auto: OpenSSH when there is an ssh to run and leave to run it.
    this.#engine = engine === "auto" ? (mayRun(findSsh()) ? "openssh" : "ssh2") : engine;
    this.#chunk = optBytes(options, "chunkSize", { min: 1024, max: 4 << 20 }) ??
      (this.#engine === "openssh" ? DEFAULT_CHUNK_OPENSSH : DEFAULT_CHUNK);
    optList(options, "identityFile");
    optString(options, "passphrase");
    optString(options, "knownHostsFile");
    optString(options, "sshConfig");
    optString(options, "agent");
    optList(options, "ciphers");
    optList(options, "macs");
  }

  /** Atomic overwrite with `posix-rename@openssh.com` (assumed until a server lacks it); server-side rename; the request size. */
  protected override declareCapabilities(): DeclaredCapabilities {
    // Atomic only with posix-rename; assumed until a server shows it lacks it.
    const atomic = this.#posixRenameKnown ?? true;
    return { atomicOverwrite: atomic, serverSideRename: true, chunkSize: this.#chunk };
  }

  /** Download `name` with pipelined reads. */
  override async _get(name: string, localPath: string, ctx?: OperationContext): Promise<void> {
    const s = await this.#connect(ctx);
    await this.#download(s, this.#path(name), localPath, ctx);
  }

  /** Upload to a temporary name in the folder (made when missing), then rename over `name`. */
  override async _put(localPath: string, name: string, ctx?: OperationContext): Promise<void> {
    const s = await this.#connect(ctx);
    await this.#ensureFolder(s);
    const tmp = this.#path(tempName(name));
    try {
      try {
        await this.#upload(s, localPath, tmp, ctx);
      } catch (err) {
        // The folder went away since it was made: make it again, once.
        if (sftpCode(err) !== SFTP.NO_SUCH_FILE || !this.#dirMade) throw err;
        this.#dirMade = false;
        await this.#ensureFolder(s);
        await this.#upload(s, localPath, tmp, ctx);
      }
      ctx?.signal.throwIfAborted();
      await this.#rename(s, tmp, this.#path(name));
    } catch (err) {
      if (s.closed) this.#orphans.add(tmp);
      else {
        await req<void>(s, (cb) => s.sftp.unlink(tmp, cb)).catch((e) => {
          if (sftpCode(e) !== SFTP.NO_SUCH_FILE) this.#orphans.add(tmp);
        });
      }
      throw err;
    }
  }

  /** The regular files in the folder (and symlinks to them); `[]` when the folder does not exist. */
  override async _list(ctx?: OperationContext): Promise<string[]> {
    const s = await this.#connect(ctx);
    let handle: Buffer;
    try {
      handle = await req<Buffer>(s, (cb) => s.sftp.opendir(this.folder, cb));
    } catch (err) {
      if (sftpCode(err) === SFTP.NO_SUCH_FILE) return [];
      throw err;
    }
    const names: string[] = [];
    const links: string[] = [];
    try {
      // Page by page, reporting progress, until the server says EOF.
      for (let page = 0; page < 10_000_000; page++) {
        ctx?.signal.throwIfAborted();
        let entries: { filename: string; attrs: { mode: number } }[];
        try {
          entries = await req(s, (cb) => s.sftp.readdir(handle, cb));
        } catch (err) {
          if (sftpCode(err) === SFTP.EOF) break;
          throw err;
        }
        ctx?.progress();
        for (const e of entries) {
          const type = e.attrs.mode & S_IFMT;
          if (type === S_IFREG) names.push(e.filename);
          else if (type === S_IFLNK) links.push(e.filename);
        }
      }
    } finally {
      if (!s.closed) await req<void>(s, (cb) => s.sftp.close(handle, cb)).catch(() => {});
    }
    // A symlink counts when it points to a regular file, as for file://.
    const sizes = await this.#statMany(s, links, ctx);
    for (const n of links) if ((sizes[n]?.size ?? -1) >= 0) names.push(n);
    return names;
  }

  /** Remove `name`; a missing file is fine. */
  override async _delete(name: string, ctx?: OperationContext): Promise<void> {
    const s = await this.#connect(ctx);
    await this.#remove(s, this.#path(name));
  }

  /** Remove several names, a few at a time; missing ones are fine. */
  override async _deleteList(names: string[], ctx?: OperationContext): Promise<void> {
    const s = await this.#connect(ctx);
    await pool(names, this.#metaConcurrency, async (n) => {
      await this.#remove(s, this.#path(n));
      ctx?.progress();
    }, ctx?.signal);
  }

  /** The size of `name`, `-1` when it is missing or not a regular file. */
  override async _query(name: string, ctx?: OperationContext): Promise<QueryResult> {
    const s = await this.#connect(ctx);
    return (await this.#statMany(s, [name], ctx))[name] ?? { size: -1 };
  }

  /** Sizes of the names asked, stat'ed a few at a time. */
  override async _queryList(
    names: string[],
    ctx?: OperationContext,
  ): Promise<Record<string, QueryResult>> {
    const s = await this.#connect(ctx);
    return await this.#statMany(s, names, ctx);
  }

  /**
   * Drop the connection so the next attempt opens a fresh one — unless it
   * still answers within 5 s (other calls may be using it).
   */
  override async _retryCleanup(): Promise<void> {
    const s = this.#live;
    if (s && !s.closed && await alive(s, 5000)) return;
    await this.#disconnect();
  }

  /** Map SFTP status codes and ssh2 errors to error codes. */
  override _errorCode(_operation: string, err: unknown): ErrorCode | undefined {
    return classify(err);
  }

  /** End the connection. */
  override async _close(): Promise<void> {
    await this.#disconnect();
  }

  // ---- private helpers: paths ----

  #path(name: string): string {
    return this.folder === "." ? name : posix.join(this.folder, name);
  }

  // ---- private helpers: connection ----

  /** The live session, connecting when there is none (one connect at a time). */
  #connect(ctx?: OperationContext): Promise<Session> {
    ctx?.signal.throwIfAborted();
    if (this.#live?.closed) {
      this.#live = undefined;
      this.#session = undefined;
    }
    if (!this.#session) {
      const p = this.#open(ctx?.signal);
      this.#session = p;
      p.then((s) => {
        this.#live = s;
        this.#sweepOrphans(s);
      }, () => {
        if (this.#session === p) this.#session = undefined;
      });
    }
    return this.#session;
  }

  async #disconnect(): Promise<void> {
    const p = this.#session;
    this.#session = undefined;
    this.#live = undefined;
    if (!p) return;
    let s: Session;
    try {
      s = await p;
    } catch {
      return;
    }
    if (!s.closed) s.end();
    const t = setTimeout(() => s.destroy(), 2000);
    await s.closedPromise;
    clearTimeout(t);
  }

  /** Remove temporaries left by puts whose connection dropped (best effort). */
  #sweepOrphans(s: Session): void {
    for (const path of [...this.#orphans]) {
      this.#orphans.delete(path);
      req<void>(s, (cb) => s.sftp.unlink(path, cb)).catch(() => {});
    }
  }

  async #target(): Promise<Target> {
    const url = this.url;
    const alias = url.hostname!;
    const home = homeDir();
    const cfgOpt = optString(this.options, "sshConfig");
    let cfg: SshHostConfig = { identityFiles: [] };
    if (cfgOpt !== "none") {
      const file = cfgOpt
        ? expandHome(cfgOpt, home)
        : home
        ? joinLocal(home, ".ssh", "config")
        : undefined;
      if (file) {
        let text: string | undefined;
        try {
          text = await Deno.readTextFile(file);
        } catch (err) {
          if (cfgOpt && !(err instanceof Deno.errors.NotFound)) throw err;
          if (cfgOpt) {
            throw new BackendError(`the ssh config file "${cfgOpt}" does not exist`, {
              code: ErrorCode.user_error,
              cause: err,
            });
          }
        }
        if (text !== undefined) cfg = parseSshConfig(text, alias);
      }
    }
    const localUser = envGet("USER") ?? envGet("LOGNAME") ?? "root";
    const user = url.username ?? cfg.user ?? localUser;
    const host = cfg.hostName
      ? expandTokens(cfg.hostName, { h: alias, u: localUser, r: user, d: home ?? "" })
      : alias;
    const port = url.port ?? cfg.port ?? 22;
    const tokens = { h: host, u: localUser, r: user, d: home ?? "" };
    const explicit = optList(this.options, "identityFile");
    const identityFiles: Target["identityFiles"] = [];
    for (const f of explicit ?? []) {
      identityFiles.push({ path: expandHome(f, home), explicit: true });
    }
    if (!explicit) {
      for (const f of cfg.identityFiles) {
        identityFiles.push({ path: expandHome(expandTokens(f, tokens), home), explicit: false });
      }
      if (cfg.identityFiles.length === 0 && home) {
        for (const f of DEFAULT_IDENTITIES) {
          identityFiles.push({ path: joinLocal(home, ".ssh", f), explicit: false });
        }
      }
    }
    return { host, port, user, identityFiles };
  }

  /** Authentication methods in OpenSSH's order: agent, identity files, password. */
  async #authMethods(t: Target): Promise<{ methods: AuthMethod[]; tried: string[] }> {
    const methods: AuthMethod[] = [];
    const tried: string[] = [];
    const agentOpt = optString(this.options, "agent");
    const sock = agentOpt === "none" ? undefined : agentOpt || envGet("SSH_AUTH_SOCK");
    if (sock) {
      methods.push({ type: "agent", username: t.user, agent: sock });
      tried.push("ssh-agent");
    }
    const passphrase = optString(this.options, "passphrase");
    for (const f of t.identityFiles) {
      let data: Uint8Array;
      try {
        data = await Deno.readFile(f.path);
      } catch (err) {
        if (f.explicit) {
          throw new BackendError(`cannot read the identity file "${f.path}": ${reasonOf(err)}`, {
            code: ErrorCode.user_error,
            cause: err,
          });
        }
        continue;
      }
      const parsed = sshUtils.parseKey(Buffer.from(data), passphrase);
      const key = Array.isArray(parsed) ? parsed[0] : parsed;
      if (!key || key instanceof Error) {
        // An encrypted default key without a passphrase is skipped, as a non-interactive ssh would.
        if (f.explicit) {
          const encrypted = key instanceof Error && /encrypt|passphrase|decrypt/i.test(key.message);
          const why = !encrypted
            ? "it is not a private key ssh2 can read"
            : passphrase === undefined
            ? "it is encrypted; give the passphrase option"
            : "the passphrase does not decrypt it";
          throw new BackendError(`cannot use the identity file "${f.path}": ${why}`, {
            code: ErrorCode.user_error,
          });
        }
        continue;
      }
      methods.push({ type: "publickey", username: t.user, key });
      tried.push(`key ${f.path}`);
    }
    const password = resolvePassword(this.url);
    if (password !== undefined) {
      methods.push({ type: "password", username: t.user, password });
      tried.push("password");
    }
    return { methods, tried };
  }

  async #open(signal?: AbortSignal): Promise<Session> {
    const ssh = this.#engine === "openssh" ? findSsh() : undefined;
    if (this.#engine === "openssh" && !ssh) {
      throw new BackendError(
        'engine=openssh needs the OpenSSH client "ssh" on PATH (Debian package openssh-client)',
        { code: ErrorCode.user_error },
      );
    }
    return ssh ? await this.#openOpenSsh(ssh, signal) : await this.#openSsh2(signal);
  }

  async #openSsh2(signal?: AbortSignal): Promise<Session> {
    const t = await this.#target();
    const { methods, tried } = await this.#authMethods(t);
    if (methods.length === 0) {
      throw new BackendError(
        `no way to log in to ${t.host}:${t.port} as "${t.user}": no ssh-agent, no identity file and no password (URL or FTP_PASSWORD)`,
        { code: ErrorCode.backend_permission_denied },
      );
    }
    const hostKeys = this.#skipHostKey ? undefined : await this.#readKnownHosts();
    const check = hostKeys
      ? new HostKeyCheck(hostKeys, t.host, t.port, this.#acceptNew)
      : undefined;
    const where = `${t.host}:${t.port}`;

    const client = new Client();
    let closedResolve!: () => void;
    const closedPromise = new Promise<void>((r) => closedResolve = r);
    let session: Session | undefined;
    const gone = () => {
      if (session) markLost(session, where);
    };
    const cfg: ConnectConfig = {
      host: t.host,
      port: t.port,
      username: t.user,
      readyTimeout: this.#connectTimeout,
      keepaliveInterval: this.#keepalive * 1000,
      keepaliveCountMax: 3,
      authHandler: authHandler(methods),
    };
    // ssh2's default cipher order (AES-GCM first) is kept on purpose: under Deno,
    // chacha20-poly1305 costs less CPU but its per-packet cipher contexts are
    // native memory that grows with the transfer (measured: 252 MiB after 1 GiB).
    const algorithms: Record<string, unknown> = {};
    const ciphers = optList(this.options, "ciphers");
    if (ciphers) algorithms.cipher = ciphers;
    const macs = optList(this.options, "macs");
    if (macs) algorithms.hmac = macs;
    if (check) {
      cfg.hostVerifier = (key: Buffer): boolean => check.verify(key);
      const known = check.knownAlgorithms();
      if (known.length) algorithms.serverHostKey = { remove: known, prepend: known };
    }
    (cfg as { algorithms?: unknown }).algorithms = algorithms;
    if (!check) {
      cfg.hostVerifier = () => true;
    }

    return await new Promise<Session>((resolve, reject) => {
      let settled = false;
      const fail = (err: unknown) => {
        if (settled) return;
        settled = true;
        signal?.removeEventListener("abort", onAbort);
        client.destroy();
        reject(err);
      };
      const onAbort = () => fail(signal!.reason ?? new DOMException("aborted", "AbortError"));
      signal?.addEventListener("abort", onAbort, { once: true });
      client.on("error", (err: Error & { level?: string }) => {
        if (settled) return; // a later error also closes the client; "close" marks the session dead
        if (err.level === "agent") return; // an unusable agent (stale SSH_AUTH_SOCK): ssh2 moves on
        if (check?.problem) {
          return fail(
            new BackendError(check.problem, { code: ErrorCode.backend_untrusted_host, cause: err }),
          );
        }
        if (err.level === "client-authentication") {
          return fail(
            new BackendError(
              `authentication failed for "${t.user}" on ${where} (tried ${tried.join(", ")})`,
              {
                code: ErrorCode.backend_permission_denied,
                cause: err,
              },
            ),
          );
        }
        if (err.level === "client-timeout") {
          return fail(
            new BackendError(`no SSH handshake with ${where} within ${this.#connectTimeout} ms`, {
              code: ErrorCode.connection_failed,
              cause: err,
            }),
          );
        }
        const code = classify(err) ?? ErrorCode.connection_failed;
        fail(
          new BackendError(`cannot connect to ${where}: ${reasonOf(err)}`, { code, cause: err }),
        );
      });
      client.on("end", gone);
      client.on("close", () => {
        gone();
        closedResolve();
        if (!settled) {
          fail(
            check?.problem
              ? new BackendError(check.problem, { code: ErrorCode.backend_untrusted_host })
              : new BackendError(`the connection to ${where} closed during login`, {
                code: ErrorCode.connection_failed,
              }),
          );
        }
      });
      client.on("ready", () => {
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
            readLen: Math.min(this.#chunk, internals._maxReadLen ?? 32768),
            writeLen: Math.min(this.#chunk, internals._maxWriteLen ?? 32768),
          };
          this.#posixRenameKnown = session.posixRename;
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

  /**
   * Run the OpenSSH client with the `sftp` subsystem and drive ssh2's own SFTP
   * client over its stdin/stdout. Host keys, config and authentication are
   * OpenSSH's, configured from the options; secrets reach ssh only through an
   * askpass helper's environment.
   */
  async #openOpenSsh(ssh: string, signal?: AbortSignal): Promise<Session> {
    const url = this.url;
    const alias = url.hostname!;
    const home = homeDir();
    // OpenSSH finds ~ from the password database, not HOME: when HOME points
    // elsewhere, pin the config, known_hosts and default keys to HOME.
    const pinHome = home !== undefined && home !== passwdHome();
    const args = ["-x", "-a", "-T", "-e", "none", "-v"];
    const o = (kv: string) => args.push("-o", kv);
    o(`ConnectTimeout=${Math.max(1, Math.ceil(this.#connectTimeout / 1000))}`);
    o(`ServerAliveInterval=${Math.round(this.#keepalive)}`);
    o("ServerAliveCountMax=3");
    if (url.port) args.push("-p", String(url.port));
    if (url.username !== undefined) args.push("-l", url.username);

    const cfgOpt = optString(this.options, "sshConfig");
    if (cfgOpt === "none") args.push("-F", "/dev/null");
    else if (cfgOpt) {
      const file = expandHome(cfgOpt, home);
      if (!(await isFile(file))) {
        throw new BackendError(`the ssh config file "${cfgOpt}" does not exist`, {
          code: ErrorCode.user_error,
        });
      }
      args.push("-F", file);
    } else if (pinHome) {
      const file = joinLocal(home!, ".ssh", "config");
      args.push("-F", (await isFile(file)) ? file : "/dev/null");
    }

    const khOpt = optString(this.options, "knownHostsFile");
    const khFile = khOpt
      ? expandHome(khOpt, home)
      : pinHome
      ? joinLocal(home!, ".ssh", "known_hosts")
      : undefined;
    if (this.#skipHostKey) {
      o("StrictHostKeyChecking=no");
      o("UserKnownHostsFile=/dev/null");
      o("GlobalKnownHostsFile=/dev/null");
    } else {
      o(`StrictHostKeyChecking=${this.#acceptNew ? "accept-new" : "yes"}`);
      if (khFile) o(`UserKnownHostsFile=${sshConfigValue(khFile)}`);
      if (khOpt) o("GlobalKnownHostsFile=/dev/null");
      if (this.#acceptNew && khFile) {
        // OpenSSH makes neither the folder nor a private file: do both.
        try {
          await Deno.mkdir(dirname(khFile), { recursive: true, mode: 0o700 });
          (await Deno.open(khFile, { append: true, create: true, mode: 0o600 })).close();
        } catch (err) {
          throw new BackendError(
            `cannot create the known_hosts file "${khFile}": ${reasonOf(err)}`,
            {
              code: ErrorCode.user_error,
              cause: err,
            },
          );
        }
      }
    }

    const passphrase = optString(this.options, "passphrase");
    const tried: string[] = [];
    const explicit = optList(this.options, "identityFile");
    const ids = explicit?.map((f) => expandHome(f, home)) ?? [];
    for (const f of ids) await checkIdentity(f, passphrase);
    if (!explicit && pinHome) {
      for (const f of DEFAULT_IDENTITIES) {
        const path = joinLocal(home!, ".ssh", f);
        if (await isFile(path)) ids.push(path);
      }
    }
    for (const f of ids) {
      args.push("-i", f.replaceAll("%", "%%"));
      tried.push(`key ${f}`);
    }
    if (explicit) o("IdentitiesOnly=yes");
    const agentOpt = optString(this.options, "agent");
    if (agentOpt === "none") o("IdentityAgent=none");
    else {
      if (agentOpt) o(`IdentityAgent=${sshConfigValue(expandHome(agentOpt, home))}`);
      if (agentOpt || envGet("SSH_AUTH_SOCK")) tried.unshift("ssh-agent");
    }
    const ciphers = optList(this.options, "ciphers");
    if (ciphers) args.push("-c", ciphers.join(","));
    else if (cpuHasAes()) o("Ciphers=^aes128-gcm@openssh.com,aes256-gcm@openssh.com");
    const macs = optList(this.options, "macs");
    if (macs) args.push("-m", macs.join(","));

    const password = resolvePassword(url);
    const env: Record<string, string> = {};
    let askDir: string | undefined;
    if (password !== undefined || passphrase !== undefined) {
      askDir = await Deno.makeTempDir({ prefix: "stowage-askpass-" });
      await Deno.chmod(askDir, 0o700);
      const script = joinLocal(askDir, "askpass");
      await Deno.writeTextFile(script, ASKPASS_SCRIPT, { mode: 0o700 });
      await Deno.chmod(script, 0o700);
      env.SSH_ASKPASS = script;
      env.SSH_ASKPASS_REQUIRE = "force";
      if (password !== undefined) env.STOWAGE_SSH_PASSWORD = password;
      if (passphrase !== undefined) env.STOWAGE_SSH_PASSPHRASE = passphrase;
      o("BatchMode=no");
      o("NumberOfPasswordPrompts=1");
    } else o("BatchMode=yes");
    if (password !== undefined) {
      o("PreferredAuthentications=publickey,password");
      tried.push("password");
    } else if (passphrase !== undefined) o("PreferredAuthentications=publickey");
    args.push("-s", "--", alias, "sftp");

    const secrets = [password, passphrase].filter((x): x is string => !!x);
    const scrub = (line: string) => secrets.reduce((l, x) => l.replaceAll(x, "***"), line);
    const removeAskpass = async () => {
      const d = askDir;
      askDir = undefined;
      if (d) await Deno.remove(d, { recursive: true }).catch(() => {});
    };

    let child: Deno.ChildProcess;
    try {
      const perl = Deno.build.os === "linux" ? findProgram("perl") : undefined;
      const [program, argv] = perl && mayRun(perl)
        ? [perl, ["-e", WIDEN_PIPES, "--", ssh, ...args]]
        : [ssh, args];
      child = new Deno.Command(program, {
        args: argv,
        env,
        stdin: "piped",
        stdout: "piped",
        stderr: "piped",
      }).spawn();
    } catch (err) {
      await removeAskpass();
      throw new BackendError(`cannot run ${ssh}: ${reasonOf(err)}`, {
        code: ErrorCode.user_error,
        cause: err,
      });
    }

    // ---- stderr: keep what classifies a failure, bounded ----
    const log = new SshLog();
    const stderrDone = (async () => {
      const dec = new TextDecoder();
      let rest = "";
      try {
        for await (const chunk of child.stderr) {
          const lines = (rest + dec.decode(chunk, { stream: true })).split(/\r?\n/);
          rest = lines.pop() ?? "";
          if (rest.length > 4096) rest = rest.slice(0, 4096);
          for (const l of lines) log.add(scrub(l));
        }
      } catch {
        // the pipe broke: the process is gone
      }
      if (rest) log.add(scrub(rest));
    })();

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
        // ssh exited: its end is handled below
        queue.length = 0;
        stdinClosed = true;
        outgoing.state = "closed";
      } finally {
        pumping = false;
      }
      if (closeWanted && !queue.length) closeStdin();
    };
    const fakeClient = {
      _protocol: {
        _remoteIdentRaw: undefined,
        channelData: (_id: number, data: Uint8Array) => {
          if (stdinClosed) return;
          queue.push(data);
          void pump();
        },
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

    const where = `${url.hostname}${url.port ? `:${url.port}` : ""}`;
    let session: Session | undefined;
    const gone = () => {
      if (session) markLost(session, where);
    };
    const status = child.status;
    const closedPromise = (async () => {
      await status;
      await Promise.allSettled([stdoutDone, stderrDone]);
      await removeAskpass();
    })();
    const kill = () => {
      try {
        child.kill("SIGKILL");
      } catch {
        // already exited
      }
    };
    status.then(() => {
      closeStdin();
      gone();
    });

    return await new Promise<Session>((resolve, reject) => {
      let settled = false;
      const fail = (err: unknown) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        signal?.removeEventListener("abort", onAbort);
        kill();
        closedPromise.then(() => reject(err));
      };
      const onAbort = () => fail(signal!.reason ?? new DOMException("aborted", "AbortError"));
      signal?.addEventListener("abort", onAbort, { once: true });
      const timer = setTimeout(() => {
        fail(
          new BackendError(`no SSH login to ${where} within ${this.#connectTimeout} ms`, {
            code: ErrorCode.connection_failed,
          }),
        );
      }, this.#connectTimeout + 1000);
      const failFromLog = async () => {
        if (settled) return;
        const code = await status.catch(() => undefined);
        await stderrDone;
        if (settled) return;
        fail(this.#sshFailure(log, code?.code, { where, tried, khFile }));
      };
      sftp.once("error", () => void failFromLog());
      sftp.once("end", () => void failFromLog());
      status.then(() => void failFromLog());
      sftp.once("ready", () => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        signal?.removeEventListener("abort", onAbort);
        // Without limits@openssh.com, ssh2 sizes requests by the server's name.
        if (!sftp._extensions["limits@openssh.com"] && log.openssh) {
          sftp._isOpenSSH = true;
          sftp._maxReadLen = sftp._maxWriteLen = 256 * 1024 - 2048;
        }
        const ext = sftp._extensions;
        session = {
          sftp,
          end: () => {
            sftp.end();
            closeStdin();
          },
          destroy: kill,
          closed: false,
          closedPromise,
          watchers: new Set(),
          posixRename: ext["posix-rename@openssh.com"] === "1",
          fsync: ext["fsync@openssh.com"] === "1",
          readLen: Math.min(this.#chunk, sftp._maxReadLen ?? 32768),
          writeLen: Math.min(this.#chunk, sftp._maxWriteLen ?? 32768),
          sendWrite: (packet, done) => {
            // Only when nothing waits in ssh2's own queue, so requests stay in order.
            if (
              sftp._buffer.length || outgoing.state !== "open" || outgoing.window < packet.length
            ) {
              return false;
            }
            const id = ((sftp._writeReqid + 1) & 0xffffffff) >>> 0;
            sftp._writeReqid = id;
            packet.writeUInt32BE(id, 5);
            sftp._requests[id] = { cb: done };
            outgoing.window -= packet.length;
            fakeClient._protocol.channelData(0, packet);
            return true;
          },
        };
        this.#posixRenameKnown = session.posixRename;
        sftp.on("error", () => {
          gone();
          session!.end();
        });
        sftp.on("end", gone);
        // The helper is not needed after login: remove it before the session is used.
        removeAskpass().then(() => resolve(session!));
      });
      sftp._init();
    });
  }

  /** The error for an ssh that ended before SFTP was ready, from what it printed. */
  #sshFailure(
    log: SshLog,
    exitCode: number | undefined,
    at: { where: string; tried: string[]; khFile: string | undefined },
  ): BackendError {
    const text = log.lines.join("\n");
    const last = log.lines.at(-1) ?? `ssh exited with code ${exitCode ?? "unknown"}`;
    const label = log.target
      ? (log.target.port === 22 ? log.target.host : `[${log.target.host}]:${log.target.port}`)
      : at.where;
    const file = at.khFile ?? "~/.ssh/known_hosts";
    const fp = log.hostKey ?? "its key";
    if (/REMOTE HOST IDENTIFICATION HAS CHANGED|HOST KEY HAS CHANGED/i.test(text)) {
      return new BackendError(
        `the host key of ${label} has CHANGED (it now offers ${fp}, ${file} has another key): ` +
          `someone may be intercepting the connection; if the change is expected, remove the old entry with ` +
          `ssh-keygen -R '${label}' -f '${file}'`,
        { code: ErrorCode.backend_untrusted_host },
      );
    }
    if (/revoked/i.test(text) && /host key/i.test(text)) {
      return new BackendError(`the host key of ${label} (${fp}) is marked @revoked`, {
        code: ErrorCode.backend_untrusted_host,
      });
    }
    if (/host key is known for|Host key verification failed/i.test(text)) {
      return new BackendError(
        `the host key of ${label} (${fp}) is not in ${file}; verify the fingerprint, then ` +
          `connect once with the option acceptNewHostKey=true (or add it with ssh-keyscan) to trust it`,
        { code: ErrorCode.backend_untrusted_host },
      );
    }
    if (
      /Permission denied|Too many authentication failures|No more authentication methods/i.test(
        text,
      )
    ) {
      return new BackendError(
        `authentication failed for "${
          log.user ?? this.url.username ?? "?"
        }" on ${at.where} (tried ${at.tried.join(", ") || "the keys from the ssh config"})`,
        { code: ErrorCode.backend_permission_denied },
      );
    }
    if (
      /Unknown (cipher|mac) type|Bad SSH2 (cipher|mac) spec|Bad configuration option|bad configuration options|command-line line|Can't open user config|Bad port|no argument after keyword|Unsupported option/i
        .test(text)
    ) {
      return new BackendError(`ssh refused the settings: ${last}`, { code: ErrorCode.user_error });
    }
    if (
      /Connection refused|timed out|Could not resolve|No route to host|Network is unreachable|Connection reset|Connection closed|closed by remote host|kex_exchange_identification|Broken pipe|Name or service not known/i
        .test(text)
    ) {
      return new BackendError(`cannot connect to ${at.where}: ${last}`, {
        code: ErrorCode.connection_failed,
      });
    }
    return new BackendError(`ssh to ${at.where} failed: ${last}`, {
      code: ErrorCode.backend_error,
    });
  }

  async #readKnownHosts(): Promise<KnownHostsSource> {
    const opt = optString(this.options, "knownHostsFile");
    const home = homeDir();
    const file = opt
      ? expandHome(opt, home)
      : home
      ? joinLocal(home, ".ssh", "known_hosts")
      : undefined;
    if (!file) {
      throw new BackendError(
        "cannot find a known_hosts file: HOME is not set; give the knownHostsFile option",
        {
          code: ErrorCode.user_error,
        },
      );
    }
    const texts: string[] = [];
    for (const f of opt ? [file] : [file, "/etc/ssh/ssh_known_hosts"]) {
      try {
        texts.push(await Deno.readTextFile(f));
      } catch (err) {
        if (!(err instanceof Deno.errors.NotFound)) throw err;
      }
    }
    return { file, lines: texts.join("\n").split("\n") };
  }

  // ---- private helpers: folder, rename, remove, stat ----

  async #ensureFolder(s: Session): Promise<void> {
    if (this.#dirMade || this.folder === "." || this.folder === "/") return;
    await mkdirp(s, this.folder);
    this.#dirMade = true;
  }

  async #rename(s: Session, from: string, to: string): Promise<void> {
    if (s.posixRename) {
      await req<void>(s, (cb) => s.sftp.ext_openssh_rename(from, to, cb));
      return;
    }
    // SFTPv3 rename refuses an existing target: remove it first (not atomic).
    try {
      await req<void>(s, (cb) => s.sftp.rename(from, to, cb));
    } catch (err) {
      const exists = await req<unknown>(s, (cb) => s.sftp.lstat(to, cb)).then(
        () => true,
        () => false,
      );
      if (!exists) throw err;
      await this.#remove(s, to);
      await req<void>(s, (cb) => s.sftp.rename(from, to, cb));
    }
  }

  async #remove(s: Session, path: string): Promise<void> {
    try {
      await req<void>(s, (cb) => s.sftp.unlink(path, cb));
    } catch (err) {
      if (sftpCode(err) === SFTP.NO_SUCH_FILE) return;
      // Some servers answer a generic failure for a missing file: check.
      if (sftpCode(err) === SFTP.FAILURE) {
        const gone = await req<unknown>(s, (cb) => s.sftp.lstat(path, cb)).then(
          () => false,
          (e) => sftpCode(e) === SFTP.NO_SUCH_FILE,
        );
        if (gone) return;
      }
      throw err;
    }
  }

  async #statMany(
    s: Session,
    names: string[],
    ctx?: OperationContext,
  ): Promise<Record<string, QueryResult>> {
    const out: Record<string, QueryResult> = {};
    await pool(names, this.#metaConcurrency, async (n) => {
      try {
        const st = await req<{ mode: number; size: number }>(
          s,
          (cb) => s.sftp.stat(this.#path(n), cb),
        );
        out[n] = { size: (st.mode & S_IFMT) === S_IFREG ? st.size : -1 };
      } catch (err) {
        if (sftpCode(err) !== SFTP.NO_SUCH_FILE) throw err;
        out[n] = { size: -1 };
      }
      ctx?.progress();
    }, ctx?.signal);
    return out;
  }

  // ---- private helpers: pipelined transfers ----

  /** Requests in flight per transfer: the option, else 64 but at most 8 MiB (and at least 32). */
  #depth(len: number): number {
    return this.#concurrency ??
      Math.min(DEFAULT_CONCURRENCY, Math.max(32, Math.floor(MAX_IN_FLIGHT / len)));
  }

  /** Upload with up to `concurrency` writes in flight, reading the local file in order. */
  async #upload(
    s: Session,
    localPath: string,
    remote: string,
    ctx?: OperationContext,
  ): Promise<void> {
    const file = await Deno.open(localPath, { read: true });
    let handle: Buffer | undefined;
    try {
      handle = await req<Buffer>(s, (cb) => s.sftp.open(remote, "w", cb));
      const size = s.writeLen;
      const depth = this.#depth(size);
      const hdr = s.sendWrite ? WRITE_HEADER + handle.length : 0;
      const free: Buffer[] = [];
      let made = 0;
      let inFlight = 0;
      let failed: unknown;
      let wake: (() => void) | undefined;
      const nudge = () => {
        const w = wake;
        wake = undefined;
        w?.();
      };
      const onAbort = () => {
        failed ??= ctx!.signal.reason;
        nudge();
      };
      const onLost = (err: BackendError) => {
        failed ??= err;
        nudge();
      };
      ctx?.signal.addEventListener("abort", onAbort, { once: true });
      if (s.closed) failed = lostError(s);
      s.watchers.add(onLost);
      try {
        let offset = 0;
        let eof = false;
        while (!eof && failed === undefined) {
          while (
            (inFlight >= depth || (free.length === 0 && made >= depth)) &&
            failed === undefined
          ) {
            await new Promise<void>((r) => wake = r);
          }
          if (failed !== undefined) break;
          // Each buffer has room for the WRITE packet header, so the file is
          // read straight into the packet when the transport takes it as is.
          const buf = free.pop() ?? (made++, Buffer.allocUnsafe(hdr + size));
          const n = await readFull(file, buf.subarray(hdr, hdr + size));
          if (n < size) eof = true;
          if (n === 0) {
            free.push(buf);
            break;
          }
          const pos = offset;
          offset += n;
          inFlight++;
          const done = (err?: Error | null) => {
            inFlight--;
            free.push(buf);
            if (err) failed ??= err;
            else ctx?.progress(n);
            nudge();
          };
          const packet = s.sendWrite ? writeHeader(buf, handle, pos, n) : undefined;
          if (!packet || !s.sendWrite!(packet, done)) {
            s.sftp.write(handle, buf, hdr, n, pos, done);
          }
        }
        // Writes still in flight on a lost connection never answer: do not wait for them.
        while (inFlight > 0 && !s.closed) await new Promise<void>((r) => wake = r);
      } finally {
        ctx?.signal.removeEventListener("abort", onAbort);
        s.watchers.delete(onLost);
      }
      if (failed !== undefined) throw failed;
      if (this.#fsync && s.fsync) {
        await req<unknown>(s, (cb) => s.sftp.ext_openssh_fsync(handle!, cb));
      }
      const h = handle;
      handle = undefined;
      await req<void>(s, (cb) => s.sftp.close(h, cb));
    } finally {
      file.close();
      if (handle && !s.closed) {
        const h = handle;
        await req<void>(s, (cb) => s.sftp.close(h, cb)).catch(() => {});
      }
    }
  }

  /** Download with up to `concurrency` reads in flight, writing the local file in order. */
  async #download(
    s: Session,
    remote: string,
    localPath: string,
    ctx?: OperationContext,
  ): Promise<void> {
    const handle = await req<Buffer>(s, (cb) => s.sftp.open(remote, "r", cb));
    let out: Deno.FsFile | undefined;
    try {
      const st = await req<{ size: number; mode: number }>(s, (cb) => s.sftp.fstat(handle, cb));
      if ((st.mode & S_IFMT) === S_IFDIR) {
        throw new BackendError("it is a folder, not a file", { code: ErrorCode.backend_not_found });
      }
      out = await Deno.open(localPath, { write: true, create: true, truncate: true });
      const total = st.size;
      const size = s.readLen;
      const depth = this.#depth(size);
      const free: Buffer[] = [];
      type Req = { pos: number; len: number; done: Promise<{ n: number; buf: Buffer }> };
      const queue: Req[] = [];
      const read = (pos: number, len: number): Req => {
        const buf = free.pop() ?? Buffer.allocUnsafe(size);
        const done = req<number>(
          s,
          (cb) => s.sftp.read(handle, buf, 0, len, pos, (err, n) => cb(err, n)),
        )
          .then((n) => ({ n: n ?? 0, buf }));
        done.catch(() => {}); // awaited in order below; avoid an unhandled rejection meanwhile
        return { pos, len, done };
      };
      let next = 0;
      const fill = () => {
        while (queue.length < depth && next < total) {
          const len = Math.min(size, total - next);
          queue.push(read(next, len));
          next += len;
        }
      };
      try {
        fill();
        while (queue.length) {
          ctx?.signal.throwIfAborted();
          const head = queue.shift()!;
          const { n, buf } = await head.done;
          if (n === 0) {
            throw new BackendError("the remote file became shorter during the download", {
              code: ErrorCode.backend_error,
            });
          }
          let off = 0;
          while (off < n) off += await out.write(buf.subarray(off, n));
          free.push(buf);
          ctx?.progress(n);
          if (n < head.len) queue.unshift(read(head.pos + n, head.len - n)); // short read: ask for the rest first
          fill();
        }
      } finally {
        // Let outstanding reads finish before the handle is closed.
        await Promise.allSettled(queue.map((q) => q.done));
      }
    } finally {
      out?.close();
      if (!s.closed) await req<void>(s, (cb) => s.sftp.close(handle, cb)).catch(() => {});
    }
  }
}

// ---- module helpers: URL, environment ----

/** The folder from a ParsedUrl path: `/rel/dir` → `rel/dir`, `//abs/dir` → `/abs/dir`, `` → `.`. */
function folderOf(path: string): string {
  let p = path.startsWith("/") ? path.slice(1) : path;
  if (p.length > 1) p = p.replace(/\/+$/, "");
  if (p === "") return ".";
  return p.startsWith("/") ? posix.normalize(p) : p;
}

function envGet(key: string): string | undefined {
  try {
    return Deno.env.get(key);
  } catch {
    return undefined;
  }
}

function homeDir(): string | undefined {
  return envGet("HOME") || undefined;
}

function expandHome(path: string, home: string | undefined): string {
  if (home && (path === "~" || path.startsWith("~/"))) return joinLocal(home, path.slice(1));
  return path;
}

function expandTokens(s: string, t: Record<string, string>): string {
  return s.replace(/%([%hurd])/g, (_, k: string) => (k === "%" ? "%" : t[k] ?? ""));
}

// ---- module helpers: the OpenSSH engine ----

/** ssh2's SFTP client class, driven here over the OpenSSH client's stdin/stdout. */
const SftpClass = (SftpModule as {
  SFTP: new (
    client: unknown,
    chanInfo: { type: string; incoming: unknown; outgoing: unknown },
    cfg?: unknown,
  ) => unknown;
}).SFTP;

/** The parts of ssh2's SFTP object the pipe plumbing touches. */
interface SftpInternals {
  push(data: Buffer | null): void;
  _init(): void;
  _extensions: Record<string, string>;
  _isOpenSSH: boolean;
  _maxReadLen: number;
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

/** Answers ssh's passphrase and password prompts from its own environment, never argv. */
const ASKPASS_SCRIPT = `#!/bin/sh
case "$1" in
*"passphrase for"*) [ -n "\${STOWAGE_SSH_PASSPHRASE+x}" ] || exit 1; printf '%s\\n' "$STOWAGE_SSH_PASSPHRASE" ;;
*assword*) [ -n "\${STOWAGE_SSH_PASSWORD+x}" ] || exit 1; printf '%s\\n' "$STOWAGE_SSH_PASSWORD" ;;
*) exit 1 ;;
esac
`;

/**
 * A Linux pipe holds 64 KiB, so ssh and this process take turns every 64 KiB;
 * when perl is at hand (it is on every Debian), it widens both pipes to
 * 1 MiB (`F_SETPIPE_SZ`, ignored where refused) and becomes ssh: ~20% faster
 * transfers on a busy machine.
 */
const WIDEN_PIPES =
  'fcntl(STDIN, 1031, 1048576); fcntl(STDOUT, 1031, 1048576); exec { $ARGV[0] } @ARGV or die "cannot run $ARGV[0]: $!\\n";';

const programs = new Map<string, string | undefined>();

/** The `ssh` program on PATH, or undefined. */
function findSsh(): string | undefined {
  return findProgram("ssh");
}

/** A program on PATH, or undefined. */
function findProgram(name: string): string | undefined {
  if (!programs.has(name)) {
    programs.set(name, undefined);
    for (const dir of (envGet("PATH") ?? "").split(":")) {
      if (!dir) continue;
      try {
        const p = joinLocal(dir, name);
        const st = Deno.statSync(p);
        if (st.isFile && ((st.mode ?? 0o755) & 0o111)) {
          programs.set(name, p);
          break;
        }
      } catch {
        // not here
      }
    }
  }
  return programs.get(name);
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

/** Bytes of an SFTP WRITE packet before the handle and the data: length, type, id, handle length; then offset and data length. */
const WRITE_HEADER = 4 + 1 + 4 + 4 + 8 + 4;

/** Fill the header of a WRITE packet whose `n` data bytes sit at its end; the request id is set when sent. */
function writeHeader(buf: Buffer, handle: Buffer, pos: number, n: number): Buffer {
  const hdr = WRITE_HEADER + handle.length;
  buf.writeUInt32BE(hdr - 4 + n, 0);
  buf[4] = 6; // SSH_FXP_WRITE
  buf.writeUInt32BE(handle.length, 9);
  handle.copy(buf, 13);
  const p = 13 + handle.length;
  buf.writeUInt32BE(Math.floor(pos / 0x100000000), p);
  buf.writeUInt32BE(pos >>> 0, p + 4);
  buf.writeUInt32BE(n, p + 8);
  return buf.subarray(0, hdr + n);
}

/** Whether the CPU encrypts AES in hardware (then AES-GCM beats ChaCha20-Poly1305 for OpenSSH). */
function cpuHasAes(): boolean {
  try {
    return /^(flags|Features)\s*:.*\baes\b/m.test(Deno.readTextFileSync("/proc/cpuinfo"));
  } catch {
    return false;
  }
}

/** Whether `program` exists and this process may run it (without prompting). */
function mayRun(program: string | undefined): boolean {
  if (!program) return false;
  try {
    return Deno.permissions.querySync({ name: "run", command: program }).state === "granted";
  } catch {
    return false;
  }
}

/** This user's home folder from /etc/passwd (where OpenSSH looks for ~/.ssh). */
function passwdHome(): string | undefined {
  try {
    const uid = String(Deno.uid());
    for (const line of Deno.readTextFileSync("/etc/passwd").split("\n")) {
      const f = line.split(":");
      if (f[2] === uid) return f[5];
    }
  } catch {
    // unknown
  }
  return undefined;
}

async function isFile(path: string): Promise<boolean> {
  return await Deno.stat(path).then((s) => s.isFile, () => false);
}

/** A path as an OpenSSH `-o key=value` value: `%` escaped, quoted when it has spaces. */
function sshConfigValue(path: string): string {
  const v = path.replaceAll("%", "%%");
  return /[\s"'\\]/.test(v) ? `"${v.replace(/(["\\])/g, "\\$1")}"` : v;
}

/** Refuse an identity file that is unreadable, or encrypted without the right passphrase (code 23). */
async function checkIdentity(path: string, passphrase: string | undefined): Promise<void> {
  let data: Uint8Array;
  try {
    data = await Deno.readFile(path);
  } catch (err) {
    throw new BackendError(`cannot read the identity file "${path}": ${reasonOf(err)}`, {
      code: ErrorCode.user_error,
      cause: err,
    });
  }
  const parsed = sshUtils.parseKey(Buffer.from(data), passphrase);
  const key = Array.isArray(parsed) ? parsed[0] : parsed;
  // Keys ssh2 cannot read (security keys, new formats) are left to ssh.
  if (!(key instanceof Error) || !/encrypt|passphrase|decrypt/i.test(key.message)) return;
  const why = passphrase === undefined
    ? "it is encrypted; give the passphrase option"
    : "the passphrase does not decrypt it";
  throw new BackendError(`cannot use the identity file "${path}": ${why}`, {
    code: ErrorCode.user_error,
  });
}

/** What `ssh -v` printed: the lines that explain a failure (last 20), and a few facts. */
class SshLog {
  readonly lines: string[] = [];
  openssh = false;
  hostKey: string | undefined;
  target: { host: string; port: number } | undefined;
  user: string | undefined;

  add(line: string): void {
    if (!line.trim()) return;
    let m = /remote software version (\S+)/.exec(line);
    if (m) {
      this.openssh = /^OpenSSH/i.test(m[1]!);
      return;
    }
    if ((m = /^debug1: Server host key: (\S+) (SHA256:\S+)/.exec(line))) {
      this.hostKey = `${m[1]} ${m[2]}`;
      return;
    }
    if ((m = /^debug1: Connecting to (\S+) \[[^\]]*\] port (\d+)/.exec(line))) {
      this.target = { host: m[1]!, port: Number(m[2]) };
      return;
    }
    if ((m = /^debug1: Authenticating to \S+ as '([^']*)'/.exec(line))) {
      this.user = m[1];
      return;
    }
    if (
      /^(debug\d:|OpenSSH_|Authenticated to|Transferred:|Bytes per second|Warning: Permanently added)/
        .test(line)
    ) {
      return;
    }
    this.lines.push(line.length > 500 ? line.slice(0, 500) : line);
    if (this.lines.length > 20) this.lines.shift();
  }
}

// ---- module helpers: ssh2 plumbing ----

type AuthMethod =
  | { type: "agent"; username: string; agent: string }
  | { type: "publickey"; username: string; key: unknown }
  | { type: "password"; username: string; password: string };

/** Try each method once, skipping those the server does not offer. */
function authHandler(methods: AuthMethod[]): NonNullable<ConnectConfig["authHandler"]> {
  let i = 0;
  const handler = (left: string[] | null): AuthMethod | false => {
    while (i < methods.length) {
      const m = methods[i++]!;
      const wire = m.type === "agent" ? "publickey" : m.type;
      if (!left || left.includes(wire)) return m;
    }
    return false;
  };
  return handler as unknown as NonNullable<ConnectConfig["authHandler"]>;
}

/** An SFTP request on a session: fails at once (code 38) when the connection is gone or goes. */
function req<T>(
  s: Session,
  fn: (cb: (err: Error | null | undefined, value?: T) => void) => void,
): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    if (s.closed) return reject(lostError(s));
    s.watchers.add(reject);
    try {
      fn((err, value) => {
        s.watchers.delete(reject);
        if (err) reject(err);
        else resolve(value as T);
      });
    } catch (err) {
      s.watchers.delete(reject);
      reject(err);
    }
  });
}

/** Whether the session answers a cheap request within `ms`. */
async function alive(s: Session, ms: number): Promise<boolean> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<boolean>((r) => timer = setTimeout(() => r(false), ms));
  try {
    return await Promise.race([
      req<string>(s, (cb) => s.sftp.realpath(".", cb)).then(() => true, () => false),
      timeout,
    ]);
  } finally {
    clearTimeout(timer);
  }
}

function lostError(s: Session): BackendError {
  return s.lostError ??
    new BackendError("the connection was lost", { code: ErrorCode.connection_failed });
}

function sftpCode(err: unknown): number | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === "number" ? code : undefined;
}

/** Map ssh2 and SFTP errors to codes; `undefined` falls through to errno mapping. */
function classify(err: unknown): ErrorCode | undefined {
  if (err instanceof BackendError) return err.code;
  const level = (err as { level?: unknown } | null)?.level;
  if (level === "client-authentication") return ErrorCode.backend_permission_denied;
  if (level === "client-socket" || level === "client-timeout" || level === "client-dns") {
    return ErrorCode.connection_failed;
  }
  const message = err instanceof Error ? err.message : String(err);
  switch (sftpCode(err)) {
    case SFTP.NO_SUCH_FILE:
      return ErrorCode.backend_not_found;
    case SFTP.PERMISSION_DENIED:
      return ErrorCode.backend_permission_denied;
    case SFTP.NO_CONNECTION:
    case SFTP.CONNECTION_LOST:
      return ErrorCode.connection_failed;
    case SFTP.OP_UNSUPPORTED:
      return ErrorCode.backend_unsupported;
  }
  if (/no space|disk full|quota|ENOSPC|EDQUOT/i.test(message)) return ErrorCode.backend_no_space;
  if (
    /no response from server|not connected|connection (lost|closed|reset)|channel (closed|not open)|ECONNRESET|EPIPE/i
      .test(message)
  ) {
    return ErrorCode.connection_failed;
  }
  return undefined;
}

/** `mkdir -p` over SFTP: create missing parents, accept folders that exist. */
async function mkdirp(s: Session, dir: string): Promise<void> {
  const isDir = () =>
    req<{ mode: number }>(s, (cb) => s.sftp.stat(dir, cb)).then(
      (st) => (st.mode & S_IFMT) === S_IFDIR,
      (err) => {
        if (sftpCode(err) === undefined) throw err; // the connection, not the path
        return false;
      },
    );
  if (await isDir()) return;
  const parent = posix.dirname(dir);
  if (parent !== dir && parent !== "." && parent !== "/") await mkdirp(s, parent);
  try {
    await req<void>(s, (cb) => s.sftp.mkdir(dir, cb));
  } catch (err) {
    if (!(await isDir())) throw err; // another writer may have made it meanwhile
  }
}

/** Run `fn` over `items` with at most `limit` at once; the first failure stops new work. */
async function pool<T>(
  items: T[],
  limit: number,
  fn: (item: T) => Promise<void>,
  signal?: AbortSignal,
): Promise<void> {
  let next = 0;
  let failed = false;
  const worker = async () => {
    while (!failed && next < items.length) {
      signal?.throwIfAborted();
      const item = items[next++]!;
      try {
        await fn(item);
      } catch (err) {
        failed = true;
        throw err;
      }
    }
  };
  const results = await Promise.allSettled(
    Array.from({ length: Math.min(limit, items.length) }, worker),
  );
  const bad = results.find((r): r is PromiseRejectedResult => r.status === "rejected");
  if (bad) throw bad.reason;
}

async function readFull(f: Deno.FsFile, buf: Uint8Array): Promise<number> {
  let off = 0;
  while (off < buf.length) {
    const n = await f.read(buf.subarray(off));
    if (n === null) break;
    off += n;
  }
  return off;
}

// ---- module helpers: ssh config ----

interface SshHostConfig {
  hostName?: string;
  port?: number;
  user?: string;
  identityFiles: string[];
}

/** The settings for `alias` from an ssh_config text: first value wins per keyword, IdentityFile adds up. */
function parseSshConfig(text: string, alias: string): SshHostConfig {
  const out: SshHostConfig = { identityFiles: [] };
  let active = true; // lines before the first Host apply to all hosts
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (!line || line.startsWith("#")) continue;
    const m = /^(\S+?)(?:\s*=\s*|\s+)(.*)$/.exec(line);
    if (!m) continue;
    const key = m[1]!.toLowerCase();
    const args = splitArgs(m[2]!);
    if (key === "host") {
      active = hostMatches(args, alias);
      continue;
    }
    if (key === "match") {
      active = args.length === 1 && args[0]!.toLowerCase() === "all"; // other Match criteria are not evaluated
      continue;
    }
    if (!active || args.length === 0) continue;
    const value = args[0]!;
    if (key === "hostname") out.hostName ??= value;
    else if (key === "user") out.user ??= value;
    else if (key === "port") {
      const n = Number(value);
      if (out.port === undefined && Number.isInteger(n) && n > 0 && n < 65536) out.port = n;
    } else if (key === "identityfile" && value.toLowerCase() !== "none") {
      out.identityFiles.push(value);
    }
  }
  return out;
}

function splitArgs(s: string): string[] {
  const out: string[] = [];
  for (const m of s.matchAll(/"([^"]*)"|(\S+)/g)) out.push(m[1] ?? m[2]!);
  return out;
}

/** OpenSSH pattern-list match: any positive pattern matches and no negated one does. */
function hostMatches(patterns: string[], name: string): boolean {
  let matched = false;
  for (const p of patterns.flatMap((x) => x.split(","))) {
    if (!p) continue;
    const negated = p.startsWith("!");
    if (globMatch(negated ? p.slice(1) : p, name)) {
      if (negated) return false;
      matched = true;
    }
  }
  return matched;
}

function globMatch(pattern: string, s: string): boolean {
  const re = pattern.replace(/[.+^${}()|[\]\\]/g, "\\$&").replace(/\*/g, ".*").replace(/\?/g, ".");
  return new RegExp(`^${re}$`, "i").test(s);
}

// ---- module helpers: known_hosts ----

interface KnownHostsSource {
  /** The file new keys are appended to. */
  file: string;
  lines: string[];
}

/** Verifies one host's key against known_hosts lines, as OpenSSH does. */
class HostKeyCheck {
  /** Why the key was refused, when it was. */
  problem: string | undefined;
  readonly #entries: { type: string; blob: string; revoked: boolean }[] = [];
  readonly #src: KnownHostsSource;
  readonly #host: string;
  readonly #port: number;
  readonly #acceptNew: boolean;
  readonly #label: string;

  constructor(src: KnownHostsSource, host: string, port: number, acceptNew: boolean) {
    this.#src = src;
    this.#host = host;
    this.#port = port;
    this.#acceptNew = acceptNew;
    this.#label = port === 22 ? host : `[${host}]:${port}`;
    for (const raw of src.lines) {
      const line = raw.trim();
      if (!line || line.startsWith("#")) continue;
      let fields = line.split(/\s+/);
      let revoked = false;
      if (fields[0]!.startsWith("@")) {
        if (fields[0] === "@revoked") revoked = true;
        else continue; // @cert-authority: certificates are not used here
        fields = fields.slice(1);
      }
      const [hosts, type, blob] = fields;
      if (!hosts || !type || !blob) continue;
      if (revoked || this.#hostsMatch(hosts)) this.#entries.push({ type, blob, revoked });
    }
  }

  /** Host key algorithms for the key types known for this host, so the server offers one we can check. */
  knownAlgorithms(): string[] {
    const types = new Set(this.#entries.filter((e) => !e.revoked).map((e) => e.type));
    const out: string[] = [];
    for (const t of types) {
      if (t === "ssh-rsa") out.push("rsa-sha2-512", "rsa-sha2-256", "ssh-rsa");
      else if (HOST_KEY_ALGOS.includes(t)) out.push(t);
    }
    return out;
  }

  verify(key: Buffer): boolean {
    const type = keyType(key);
    const blob = key.toString("base64");
    const fp = `${type} SHA256:${
      createHash("sha256").update(key).digest("base64").replace(/=+$/, "")
    }`;
    const where = this.#label;
    if (this.#entries.some((e) => e.revoked && e.blob === blob)) {
      this.problem = `the host key of ${where} (${fp}) is marked @revoked in ${this.#src.file}`;
      return false;
    }
    const mine = this.#entries.filter((e) => !e.revoked);
    if (mine.some((e) => e.blob === blob)) return true;
    if (mine.length) {
      this.problem =
        `the host key of ${where} has CHANGED (it now offers ${fp}, ${this.#src.file} has ${
          [...new Set(mine.map((e) => e.type))].join(", ")
        }): someone may be intercepting the connection; if the change is expected, remove the old entry with ` +
        `ssh-keygen -R '${where}' -f '${this.#src.file}'`;
      return false;
    }
    if (!this.#acceptNew) {
      this.problem =
        `the host key of ${where} (${fp}) is not in ${this.#src.file}; verify the fingerprint, then ` +
        `connect once with the option acceptNewHostKey=true (or add it with ssh-keyscan) to trust it`;
      return false;
    }
    try {
      const dir = dirname(this.#src.file);
      Deno.mkdirSync(dir, { recursive: true, mode: 0o700 });
      let prefix = "";
      try {
        const cur = Deno.readFileSync(this.#src.file);
        if (cur.length && cur[cur.length - 1] !== 10) prefix = "\n";
      } catch {
        // a new file
      }
      Deno.writeTextFileSync(this.#src.file, `${prefix}${where} ${type} ${blob}\n`, {
        append: true,
        create: true,
        mode: 0o600,
      });
    } catch (err) {
      this.problem = `cannot add the host key of ${where} to ${this.#src.file}: ${reasonOf(err)}`;
      return false;
    }
    return true;
  }

  #hostsMatch(field: string): boolean {
    const names = this.#port === 22 ? [this.#host] : [`[${this.#host}]:${this.#port}`];
    if (field.startsWith("|1|")) {
      const [, , salt, hash] = field.split("|");
      if (!salt || !hash) return false;
      const want = Buffer.from(hash, "base64");
      return names.some((n) => {
        const got = createHmac("sha1", Buffer.from(salt, "base64")).update(n).digest();
        return got.length === want.length && timingSafeEqual(got, want);
      });
    }
    return names.some((n) => hostMatches(field.split(","), n));
  }
}

/** The key type named at the start of an SSH public key blob. */
function keyType(blob: Buffer): string {
  if (blob.length < 4) return "unknown";
  const len = blob.readUInt32BE(0);
  return blob.subarray(4, 4 + Math.min(len, 64)).toString("latin1");
}

/** Mark a session lost (once): fail every request and transfer waiting on it with code 38. */
function markLost(session: Session, where: string): void {
  if (session.closed) return;
  session.closed = true;
  const err = new BackendError(`the connection to ${where} was lost`, {
    code: ErrorCode.connection_failed,
  });
  session.lostError = err;
  const watchers = [...session.watchers];
  session.watchers.clear();
  for (const w of watchers) w(err);
}
