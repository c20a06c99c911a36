/**
 * Real SFTP servers for the tests and the benchmark: a second OpenSSH sshd
 * (its own config, host key, port and user `stowsftp`, internal-sftp with the
 * start folder set to a scratch root) and `rclone serve sftp`. Both listen
 * on 127.0.0.1 only and are stopped by PID.
 *
 * @module
 */

import { join } from "node:path";
import {
  isRoot,
  readyOrCleanUp,
  requireProgram,
  run,
  scratchDir,
  type ServerProcess,
  sshKeygen,
  startOpenSshd,
  startProcess,
  waitForLog,
} from "./common.ts";

/** The system user the test sshd logs in (created when missing). */
export const SSHD_USER = "stowsftp";
/** Its password, set with chpasswd when password login is enabled. */
export const SSHD_PASSWORD = "sftp-Test-pass-7";

/** A running sshd or rclone SFTP server. */
export interface SftpServer {
  /** The port on 127.0.0.1. */
  port: number;
  /** The folder relative paths start in (the login folder). */
  root: string;
  /** The scratch folder with keys, config and logs. */
  dir: string;
  /** The user to log in as. */
  user: string;
  /** The password (rclone, and sshd when started with `password: true`). */
  password: string;
  /** The client's private key file (sshd only; rclone takes passwords). */
  clientKey: string;
  /** The host's public key as `type base64`. */
  hostKey: string;
  /** A known_hosts line for this server: `[127.0.0.1]:port type base64`. */
  knownHostsLine: string;
  /** The server process. */
  process: ServerProcess;
  /** Kill every session process of this server (drops the clients' connections); sshd only. */
  dropConnections(): void;
  /** Stop (SIGSTOP) or resume (SIGCONT) every session process: the connections stall; sshd only. */
  pauseConnections(pause: boolean): void;
  /** Stop the server and remove its scratch folder. */
  stop(): Promise<void>;
}

/** Whether the OpenSSH server can run here (prints a SKIP line, or throws under CI). */
export function haveSshd(): boolean {
  if (!requireProgram("/usr/sbin/sshd", "openssh-server")) return false;
  if (!requireProgram("ssh-keygen", "openssh-client")) return false;
  if (isRoot()) return true;
  const line = "the sshd tests need root (they create the system user stowsftp)";
  if (Deno.env.get("CI")) throw new Error(line);
  console.log(`SKIP ${line}`);
  return false;
}

/** Whether `rclone serve sftp` can run here. */
export function haveRclone(): boolean {
  return requireProgram("rclone", "rclone") && requireProgram("ssh-keygen", "openssh-client");
}

/** Create the test user when missing (idempotent, tolerates a concurrent creator). */
async function ensureUser(): Promise<void> {
  const passwd = await Deno.readTextFile("/etc/passwd");
  if (passwd.split("\n").some((l) => l.startsWith(`${SSHD_USER}:`))) return;
  try {
    // '*' rather than '!': a '!'-locked account is refused by sshd with UsePAM no.
    await run("useradd", [
      "-M",
      "-d",
      "/nonexistent",
      "-s",
      "/usr/sbin/nologin",
      "-p",
      "*",
      SSHD_USER,
    ]);
  } catch (err) {
    if (!/already exists/.test(String(err))) throw err;
  }
}

/**
 * Start a second OpenSSH sshd for the test user with key login (and password
 * login when `password` is set). Needs root.
 */
export async function startSshd(options: { password?: boolean } = {}): Promise<SftpServer> {
  await ensureUser();
  if (options.password) await run("chpasswd", [], { stdin: `${SSHD_USER}:${SSHD_PASSWORD}\n` });
  const dir = await scratchDir("sshd");
  await Deno.chmod(dir, 0o755); // sshd reads authorized_keys as the user
  const root = join(dir, "root");
  await Deno.mkdir(root);
  await run("chown", [`${SSHD_USER}:`, root]);
  const { port, hostKey, clientKey, process } = await startOpenSshd(dir, {
    user: SSHD_USER,
    password: options.password ?? false,
    extra: ["LogLevel VERBOSE", `Subsystem sftp internal-sftp -d ${root}`],
  });
  return {
    port,
    root,
    dir,
    user: SSHD_USER,
    password: SSHD_PASSWORD,
    clientKey,
    hostKey,
    knownHostsLine: `[127.0.0.1]:${port} ${hostKey}`,
    process,
    dropConnections: () => signalDescendants(process.child.pid, "SIGKILL"),
    pauseConnections: (pause) =>
      signalDescendants(process.child.pid, pause ? "SIGSTOP" : "SIGCONT"),
    async stop() {
      signalDescendants(process.child.pid, "SIGCONT");
      signalDescendants(process.child.pid, "SIGKILL");
      await process.stop();
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    },
  };
}

/** Start `rclone serve sftp` on a scratch folder with password login and its own host key. */
export async function startRcloneSftp(): Promise<SftpServer> {
  const dir = await scratchDir("rclone-sftp");
  const root = join(dir, "root");
  await Deno.mkdir(root);
  const keyFile = join(dir, "host_ed25519");
  const hostKey = await sshKeygen(keyFile, "host");
  const user = "u";
  const password = "rclone-pass-9";
  const process = await startProcess(
    "rclone",
    [
      "serve",
      "sftp",
      `:local:${root}`,
      "--addr",
      "127.0.0.1:0",
      "--user",
      user,
      "--pass",
      password,
      "--key",
      keyFile,
    ],
    // HOME points at the scratch folder so rclone loads no ~/.ssh/authorized_keys.
    { logDir: dir, name: "rclone", env: { RCLONE_CONFIG: "/dev/null", HOME: dir } },
  );
  const m = await readyOrCleanUp(
    process,
    dir,
    () => waitForLog(process, /SFTP server listening on 127\.0\.0\.1:(\d+)/, 10000),
  );
  const port = Number(m[1]);
  return {
    port,
    root,
    dir,
    user,
    password,
    clientKey: "",
    hostKey,
    knownHostsLine: `[127.0.0.1]:${port} ${hostKey}`,
    process,
    dropConnections: () => {
      throw new Error("dropConnections is only supported for sshd");
    },
    pauseConnections: () => {
      throw new Error("pauseConnections is only supported for sshd");
    },
    async stop() {
      await process.stop();
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    },
  };
}

/** Send `signal` to every descendant of `pid` (sshd's per-connection processes), found through /proc. */
function signalDescendants(pid: number, signal: Deno.Signal): void {
  const children = new Map<number, number[]>();
  for (const e of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(e.name)) continue;
    try {
      const stat = Deno.readTextFileSync(`/proc/${e.name}/stat`);
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      const list = children.get(ppid) ?? [];
      list.push(Number(e.name));
      children.set(ppid, list);
    } catch {
      // gone meanwhile
    }
  }
  const stack = [...(children.get(pid) ?? [])];
  for (let guard = 0; stack.length && guard < 10000; guard++) {
    const p = stack.pop()!;
    stack.push(...(children.get(p) ?? []));
    try {
      Deno.kill(p, signal);
    } catch {
      // already gone
    }
  }
}
