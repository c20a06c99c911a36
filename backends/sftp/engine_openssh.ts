/**
 * The `openssh` engine: runs the system OpenSSH client as `ssh -s host sftp`
 * (like duplicity's `pexpect+sftp` backend) and speaks SFTP over its stdin
 * and stdout (`openssh_pipe.ts`). Encryption runs in OpenSSH's native code;
 * OpenSSH reads the ssh config and checks the host key itself, configured
 * from the options (`openssh_args.ts`).
 *
 * Logging in: ssh first runs with `BatchMode=yes` (the agent and the keys
 * only; it never prompts on the terminal), unless a password is known (URL,
 * `FTP_PASSWORD`) or a key passphrase is given, which reach it through a
 * private askpass helper's environment. Only when that login is refused and
 * the server offers password login is the caller's `askPassword` asked, and
 * ssh run once more with the answer.
 *
 * @module
 */

import { join } from "node:path";
import { abortError, BackendError, ErrorCode, reasonOf } from "../../core/errors.ts";
import { type LoginContext, toBackendError } from "./error.ts";
import { type SshCommand, sshCommand } from "./openssh_args.ts";
import { sftpOverPipes } from "./openssh_pipe.ts";
import { markLost, type OpenParams, type Session } from "./session.ts";
import { envGet } from "./ssh_config.ts";
import { SshLog } from "./ssh_log.ts";

/**
 * A Linux pipe holds 64 KiB, so ssh and this process take turns every 64 KiB;
 * when perl is at hand (it is on every Debian), it widens both pipes to
 * 1 MiB (`F_SETPIPE_SZ`, ignored where refused) and becomes ssh: ~20% faster
 * transfers on a busy machine.
 */
const WIDEN_PIPES =
  'fcntl(STDIN, 1031, 1048576); fcntl(STDOUT, 1031, 1048576); exec { $ARGV[0] } @ARGV or die "cannot run $ARGV[0]: $!\\n";';

/** How one run of ssh ended: with a session, or refused with what ssh printed. */
type Launched = { session: Session } | { log: SshLog; at: LoginContext };

/** Log in with the OpenSSH client `ssh` and open the SFTP channel over its pipes. */
export async function openOpenSsh(ssh: string, p: OpenParams): Promise<Session> {
  let run = await launch(ssh, p, p.password.known());
  if (
    "log" in run && p.password.mayAsk && run.log.loginRefused &&
    run.log.methodsLeft?.includes("password")
  ) {
    const password = await p.password.get(p.progress);
    if (password !== undefined) {
      run = await launch(ssh, p, password);
      if ("log" in run && run.log.loginRefused) p.password.forget();
    }
  } else if ("log" in run && run.log.loginRefused && p.password.stored() === undefined) {
    p.password.forget(); // a remembered answer that no longer works
  }
  if ("log" in run) throw toBackendError(run.log, run.at);
  return run.session;
}

/** Run ssh once with `password` (or none) and wait for SFTP to be ready. */
async function launch(
  ssh: string,
  p: OpenParams,
  password: string | undefined,
): Promise<Launched> {
  const { url, signal } = p;
  const cmd = await sshCommand(url, p.settings, password);
  const scrub = (line: string) => cmd.secrets.reduce((l, x) => l.replaceAll(x, "***"), line);
  const child = spawn(ssh, cmd);

  // ---- stderr: keep what explains a failure, bounded ----
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

  const { sftp, stdoutDone, closeStdin, sendWrite } = sftpOverPipes(child);
  const where = `${url.hostname}${url.port ? `:${url.port}` : ""}`;
  const at: LoginContext = {
    where,
    user: url.username,
    tried: cmd.tried,
    knownHostsFile: cmd.knownHostsFile,
    connectTimeout: p.settings.connectTimeout,
  };
  let session: Session | undefined;
  const gone = () => {
    if (session) markLost(session, where);
  };
  const status = child.status;
  const closedPromise = (async () => {
    const s = await status.catch(() => undefined);
    log.exitCode = s?.code;
    await Promise.allSettled([stdoutDone, stderrDone]);
    await cmd.removeHelper();
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

  return await new Promise<Launched>((resolve, reject) => {
    let settled = false;
    const finish = (then: () => void) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      signal?.removeEventListener("abort", onAbort);
      kill();
      closedPromise.then(then);
    };
    const onAbort = () => finish(() => reject(abortError(signal!)));
    signal?.addEventListener("abort", onAbort, { once: true });
    const timer = setTimeout(() => {
      const err = new BackendError(
        `no SSH login to ${where} within ${p.settings.connectTimeout} ms`,
        { code: ErrorCode.connection_failed },
      );
      finish(() => reject(err));
    }, p.settings.connectTimeout + 1000);
    const failFromLog = async () => {
      if (settled) return;
      await status.catch(() => undefined);
      await stderrDone;
      finish(() => resolve({ log, at }));
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
      const s: Session = {
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
        readLen: Math.min(p.chunk, sftp._maxReadLen ?? 32768),
        writeLen: Math.min(p.chunk, sftp._maxWriteLen ?? 32768),
        sendWrite,
      };
      session = s;
      sftp.on("error", () => {
        gone();
        s.end();
      });
      sftp.on("end", gone);
      // The helper is not needed after login: remove it before the session is used.
      cmd.removeHelper().then(() => resolve({ session: s }));
    });
    sftp._init();
  });
}

/** Start ssh (through perl to widen its pipes, when perl may run). */
function spawn(ssh: string, cmd: SshCommand): Deno.ChildProcess {
  try {
    const perl = Deno.build.os === "linux" ? findProgram("perl") : undefined;
    const [program, argv] = perl && mayRun(perl)
      ? [perl, ["-e", WIDEN_PIPES, "--", ssh, ...cmd.args]]
      : [ssh, cmd.args];
    return new Deno.Command(program, {
      args: argv,
      env: cmd.env,
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
  } catch (err) {
    void cmd.removeHelper();
    throw new BackendError(`cannot run ${ssh}: ${reasonOf(err)}`, {
      code: ErrorCode.user_error,
      cause: err,
    });
  }
}

const programs = new Map<string, string | undefined>();

/** The `ssh` program on PATH, or `undefined`. */
export function findSsh(): string | undefined {
  return findProgram("ssh");
}

/** A program on PATH, or `undefined` (looked up once). */
function findProgram(name: string): string | undefined {
  if (!programs.has(name)) {
    programs.set(name, undefined);
    for (const dir of (envGet("PATH") ?? "").split(":")) {
      if (!dir) continue;
      try {
        const p = join(dir, name);
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

/** Whether `program` exists and this process may run it (without prompting). */
export function mayRun(program: string | undefined): boolean {
  if (!program) return false;
  try {
    return Deno.permissions.querySync({ name: "run", command: program }).state === "granted";
  } catch {
    return false;
  }
}
