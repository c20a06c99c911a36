/**
 * Real rsync servers for the tests: an rsync daemon (`rsync --daemon
 * --no-detach`, one module with password login from a 0600 secrets file)
 * and a second OpenSSH sshd for rsync over ssh. The sshd of sftp.ts cannot
 * serve rsync: its user has /usr/sbin/nologin as shell, and rsync over ssh
 * runs `rsync --server` through the login shell. This one logs in user
 * `stowrsync` (shell /bin/sh, home = the scratch root) with a key only.
 * Both listen on 127.0.0.1 only and are stopped by PID.
 *
 * @module
 */

import { join } from "node:path";
import {
  freePort,
  isRoot,
  readyOrCleanUp,
  requireProgram,
  run,
  scratchDir,
  type ServerProcess,
  startOpenSshd,
  startProcess,
  stopAndRemove,
  waitForLog,
} from "./common.ts";

/** A running rsync daemon. */
export interface RsyncDaemon {
  /** The port on 127.0.0.1. */
  port: number;
  /** The module's name. */
  module: string;
  /** The module's folder on disk. */
  root: string;
  /** The user in the secrets file. */
  user: string;
  /** Its password. */
  password: string;
  /** The scratch folder with config, secrets and log. */
  dir: string;
  /** The daemon process. */
  process: ServerProcess;
  /** Stop the daemon and remove its scratch folder. */
  stop(): Promise<void>;
}

/** A running sshd for rsync over ssh. */
export interface RsyncSshd {
  /** The port on 127.0.0.1. */
  port: number;
  /** The login user. */
  user: string;
  /** The user's home folder (relative paths start here). */
  root: string;
  /** The scratch folder with keys, config and logs. */
  dir: string;
  /** The client's private key file. */
  clientKey: string;
  /** A known_hosts file that trusts this server only. */
  knownHostsFile: string;
  /** The server process. */
  process: ServerProcess;
  /** Stop the server and remove its scratch folder. */
  stop(): Promise<void>;
}

/** The system user of the rsync-over-ssh sshd (created when missing). */
export const RSYNC_SSH_USER = "stowrsync";

/** Whether rsync can run here (prints a SKIP line, or throws under CI). */
export function haveRsync(): boolean {
  return requireProgram("rsync", "rsync");
}

/** Whether the rsync-over-ssh server can run here (needs root, sshd, ssh and rsync). */
export function haveRsyncSshd(): boolean {
  if (!haveRsync()) return false;
  if (!requireProgram("/usr/sbin/sshd", "openssh-server")) return false;
  if (!requireProgram("ssh", "openssh-client")) return false;
  if (!requireProgram("ssh-keygen", "openssh-client")) return false;
  if (isRoot()) return true;
  const line = `the rsync-over-ssh tests need root (they create the system user ${RSYNC_SSH_USER})`;
  if (Deno.env.get("CI")) throw new Error(line);
  console.log(`SKIP ${line}`);
  return false;
}

/** Start an rsync daemon with one writable module `data`, login `u` with a password. */
export async function startRsyncd(): Promise<RsyncDaemon> {
  const dir = await scratchDir("rsyncd");
  const root = join(dir, "data");
  await Deno.mkdir(root);
  const user = "u";
  const password = "rsync-Pass-4";
  const secrets = join(dir, "rsyncd.secrets");
  await Deno.writeTextFile(secrets, `${user}:${password}\n`, { mode: 0o600 });
  await Deno.chmod(secrets, 0o600);
  const log = join(dir, "rsyncd.log");
  const config = [
    `pid file = ${join(dir, "rsyncd.pid")}`,
    "use chroot = no",
    `log file = ${log}`,
    "[data]",
    `  path = ${root}`,
    "  read only = false",
    ...(isRoot() ? ["  uid = root", "  gid = root"] : []),
    `  auth users = ${user}`,
    `  secrets file = ${secrets}`,
    "",
  ].join("\n");
  const configFile = join(dir, "rsyncd.conf");
  await Deno.writeTextFile(configFile, config);
  const port = freePort();
  const process = await startProcess(
    "rsync",
    ["--daemon", "--no-detach", `--config=${configFile}`, "--address=127.0.0.1", `--port=${port}`],
    { logDir: dir, name: "rsyncd-stdout" },
  );
  const server = { ...process, log: () => readOr(log) };
  await readyOrCleanUp(
    process,
    dir,
    () => waitForLog(server, /rsyncd version \S+ starting, listening on port \d+/, 10000),
  );
  return {
    port,
    module: "data",
    root,
    user,
    password,
    dir,
    process,
    stop: stopAndRemove(process, dir),
  };
}

/**
 * Start a second OpenSSH sshd for user `stowrsync` (key login only), whose
 * home is a fresh scratch folder. Needs root.
 */
export async function startRsyncSshd(): Promise<RsyncSshd> {
  const dir = await scratchDir("rsync-sshd");
  await Deno.chmod(dir, 0o755);
  const root = join(dir, "home");
  await Deno.mkdir(root);
  await ensureUser(root);
  await run("chown", [`${RSYNC_SSH_USER}:`, root]);
  const { port, hostKey, clientKey, process } = await startOpenSshd(dir, {
    user: RSYNC_SSH_USER,
  });
  const knownHostsFile = join(dir, "known_hosts");
  await Deno.writeTextFile(knownHostsFile, `[127.0.0.1]:${port} ${hostKey}\n`);
  return {
    port,
    user: RSYNC_SSH_USER,
    root,
    dir,
    clientKey,
    knownHostsFile,
    process,
    stop: stopAndRemove(process, dir),
  };
}

/** Create the user when missing (shell /bin/sh), and point its home at `home`. */
async function ensureUser(home: string): Promise<void> {
  const passwd = await Deno.readTextFile("/etc/passwd");
  if (!passwd.split("\n").some((l) => l.startsWith(`${RSYNC_SSH_USER}:`))) {
    try {
      // '*' rather than '!': a '!'-locked account is refused by sshd with UsePAM no.
      await run("useradd", ["-M", "-d", home, "-s", "/bin/sh", "-p", "*", RSYNC_SSH_USER]);
      return;
    } catch (err) {
      if (!/already exists/.test(String(err))) throw err;
    }
  }
  await run("usermod", ["-d", home, RSYNC_SSH_USER]);
}

function readOr(path: string): string {
  try {
    return Deno.readTextFileSync(path);
  } catch {
    return "";
  }
}
