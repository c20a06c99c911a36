/**
 * A real vsftpd on 127.0.0.1 for the FTP tests and benchmark: plain FTP, or
 * explicit FTPS (AUTH TLS) with a certificate signed by a throw-away CA.
 *
 * vsftpd must run as root and logs in real system users, so this creates (or
 * re-uses) the system user `stowage-ftp` with a fixed password and a PAM
 * service file `/etc/pam.d/stowage-vsftpd` (Debian's own `vsftpd` service
 * rejects users whose shell is not in /etc/shells). Both steps are
 * idempotent. Each server gets its own chroot folder, port and log.
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
  startProcess,
  stopAndRemove,
  waitForPort,
} from "./common.ts";
import { makeTestCertificates } from "./tls.ts";

/** The system user the tests log in as. */
export const FTP_USER = "stowage-ftp";
/** Its password (a test-only account on a loopback-only server). */
export const FTP_PASSWORD = "stowage-ftp-pass-7";

const VSFTPD = "/usr/sbin/vsftpd";
/** The user's home: vsftpd's empty secure_chroot_dir, which exists wherever vsftpd runs. */
const HOME = "/var/run/vsftpd/empty";
const PAM_SERVICE = "stowage-vsftpd";
const PAM_FILE = `/etc/pam.d/${PAM_SERVICE}`;
const PAM_TEXT =
  "auth    required pam_unix.so nodelay\naccount required pam_unix.so\nsession required pam_unix.so\n";

/** Options for {@linkcode startVsftpd}. */
export interface VsftpdOptions {
  /** Serve explicit FTPS (AUTH TLS required for logins and data); default false. */
  tls?: boolean;
  /** Log the protocol to the server's log file; default false. */
  logProtocol?: boolean;
}

/** A running vsftpd. */
export interface VsftpdServer {
  /** The control port on 127.0.0.1. */
  port: number;
  /** The folder on disk that the user sees as `/` (chroot). */
  root: string;
  /** The scratch folder (config, certificates, logs). */
  dir: string;
  /** The CA certificate that signed the server certificate (TLS only). */
  caFile?: string;
  /** `ftp://` or `ftps://` URL of the root, with user and password. */
  url(path?: string): string;
  /** The vsftpd listener process. */
  process: ServerProcess;
  /** PIDs of the per-login session processes (all descendants of the listener). */
  sessionPids(): number[];
  /** Stop vsftpd and remove the scratch folder. */
  stop(): Promise<void>;
}

/**
 * Whether vsftpd tests can run here: vsftpd and openssl installed and root.
 * Prints one skip line (or throws under `CI`) otherwise.
 */
export function canRunVsftpd(): boolean {
  if (!requireProgram(VSFTPD, "vsftpd")) return false;
  if (!requireProgram("openssl", "openssl")) return false;
  if (!isRoot()) {
    const line = "vsftpd tests need root (vsftpd logs in real system users)";
    if (Deno.env.get("CI")) throw new Error(line);
    console.log(`SKIP ${line}`);
    return false;
  }
  return true;
}

/** Create the test user and PAM service if missing, and (re)set the password. */
async function ensureUser(): Promise<void> {
  // vsftpd changes into the user's home before local_root, so the home must exist.
  await Deno.mkdir(HOME, { recursive: true });
  try {
    await run("id", ["-u", FTP_USER]);
  } catch {
    try {
      await run("useradd", [
        "--system",
        "--no-create-home",
        "--home-dir",
        HOME,
        "--shell",
        "/usr/sbin/nologin",
        FTP_USER,
      ]); // deno-fmt-ignore
    } catch (err) {
      // Another test process may have created it at the same moment.
      await run("id", ["-u", FTP_USER]).catch(() => {
        throw err;
      });
    }
  }
  await run("chpasswd", [], { stdin: `${FTP_USER}:${FTP_PASSWORD}\n` });
  let current = "";
  try {
    current = await Deno.readTextFile(PAM_FILE);
  } catch {
    // missing
  }
  if (current !== PAM_TEXT) await Deno.writeTextFile(PAM_FILE, PAM_TEXT);
}

/** Start vsftpd on a free loopback port; call {@linkcode canRunVsftpd} first. */
export async function startVsftpd(options: VsftpdOptions = {}): Promise<VsftpdServer> {
  await ensureUser();
  const dir = await scratchDir("vsftpd");
  await Deno.chmod(dir, 0o755);
  const root = join(dir, "home");
  await Deno.mkdir(root);
  await run("chown", [`${FTP_USER}:`, root]);
  const port = freePort();
  const lines = [
    "listen=YES",
    "listen_ipv6=NO",
    "listen_address=127.0.0.1",
    `listen_port=${port}`,
    "background=NO",
    "anonymous_enable=NO",
    "local_enable=YES",
    "write_enable=YES",
    "local_umask=022",
    `local_root=${root}`,
    "chroot_local_user=YES",
    "allow_writeable_chroot=YES",
    "pasv_enable=YES",
    "pasv_address=127.0.0.1",
    "port_enable=YES",
    "connect_from_port_20=NO",
    "seccomp_sandbox=NO",
    "secure_chroot_dir=/var/run/vsftpd/empty",
    `pam_service_name=${PAM_SERVICE}`,
    "delay_failed_login=0",
    "max_clients=0",
    "max_per_ip=0",
    "xferlog_enable=YES",
    `vsftpd_log_file=${join(dir, "vsftpd.log")}`,
  ];
  if (options.logProtocol) lines.push("log_ftp_protocol=YES");
  let caFile: string | undefined;
  if (options.tls) {
    const certs = await makeTestCertificates(dir);
    caFile = certs.ca;
    lines.push(
      "ssl_enable=YES",
      `rsa_cert_file=${certs.cert}`,
      `rsa_private_key_file=${certs.key}`,
      "force_local_logins_ssl=YES",
      "force_local_data_ssl=YES",
    );
  }
  const conf = join(dir, "vsftpd.conf");
  await Deno.writeTextFile(conf, lines.join("\n") + "\n");
  const process = await startProcess(VSFTPD, [conf], { logDir: dir, name: "vsftpd-out" });
  await readyOrCleanUp(process, dir, () => waitForPort(port, 10000));
  const scheme = options.tls ? "ftps" : "ftp";
  const server: VsftpdServer = {
    port,
    root,
    dir,
    process,
    url: (path = "") =>
      `${scheme}://${FTP_USER}:${encodeURIComponent(FTP_PASSWORD)}@127.0.0.1:${port}/${path}`,
    sessionPids: () => childPids(process.child.pid),
    stop: stopAndRemove(process, dir),
  };
  if (caFile) server.caFile = caFile;
  return server;
}

/** The descendants of a process, read from /proc (vsftpd forks per login, then again). */
function childPids(pid: number, depth = 0): number[] {
  let kids: number[] = [];
  try {
    const text = Deno.readTextFileSync(`/proc/${pid}/task/${pid}/children`).trim();
    kids = text ? text.split(/\s+/).map(Number) : [];
  } catch {
    return [];
  }
  if (depth > 4) return kids;
  return kids.flatMap((k) => [k, ...childPids(k, depth + 1)]);
}
