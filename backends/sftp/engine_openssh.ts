/**
 * The `openssh` engine: runs the system OpenSSH client as `ssh -s host sftp`
 * (like duplicity's `pexpect+sftp` backend) and speaks SFTP over its stdin
 * and stdout (`openssh_pipe.ts`: a Unix socket through a perl shim, else
 * pipes). Encryption runs in OpenSSH's native code; OpenSSH reads the ssh
 * config and checks the host key itself, configured from the options
 * (`openssh_args.ts`), and connects through the dialer of `openssh_dial.ts`
 * where the config allows. The SFTP INIT is written at once: it waits in
 * ssh's stdin until the session is open.
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
import { sftpOverPipes, sftpOverSocket, SOCKET_SHIM } from "./openssh_pipe.ts";
import { markLost, type OpenParams, type Session, sessionFacts, sized } from "./session.ts";
import { SftpClient } from "./sftp_client.ts";
import { envGet } from "./ssh_config.ts";
import { SshLog } from "./ssh_log.ts";

/**
 * When ssh's stdio must be pipes (no room for a Unix socket) and perl is at
 * hand: a Linux pipe holds 64 KiB, so ssh and this process take turns every
 * 64 KiB; perl widens both pipes to 1 MiB (`F_SETPIPE_SZ`, ignored where
 * refused) and becomes ssh: ~30% faster transfers.
 */
const WIDEN_PIPES =
  'fcntl(STDIN, 1031, 1048576); fcntl(STDOUT, 1031, 1048576); exec { $ARGV[0] } @ARGV or die "cannot run $ARGV[0]: $!\\n";';

/** This process's ssh refused the "^first" lists of `openssh_args.ts` (OpenSSH before 8.2). */
let oldSsh = false;

/** ssh refused the algorithm preferences this backend adds (not the user's own lists). */
function refusedPreferences(log: SshLog): boolean {
  return !oldSsh && /Bad SSH2 (KexAlgorithms|cipher spec) '\^/.test(log.text);
}

/** How one run of ssh ended: with a session, or refused with what ssh printed. */
type Launched = { session: Session } | { log: SshLog; at: LoginContext };

/** Log in with the OpenSSH client `ssh` and open the SFTP channel over its pipes. */
export async function openOpenSsh(ssh: string, p: OpenParams): Promise<Session> {
  let run = await launch(ssh, p, p.password.known());
  if ("log" in run && refusedPreferences(run.log)) {
    oldSsh = true; // before OpenSSH 8.2: no "^" lists; ssh's own order then
    run = await launch(ssh, p, p.password.known());
  }
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
  const perl = perlToRun();
  const local = perl ? await localEnds() : undefined;
  let cmd: SshCommand;
  try {
    cmd = await sshCommand(url, p.settings, password, perl, p.loginTimeout, local?.dir, !oldSsh);
  } catch (err) {
    await local?.remove();
    throw err;
  }
  const scrub = (line: string) => cmd.secrets.reduce((l, x) => l.replaceAll(x, "***"), line);
  const child = spawn(ssh, cmd, perl, local);
  const where = `${url.hostname}${url.port ? `:${url.port}` : ""}`;
  const at: LoginContext = {
    where,
    user: url.username,
    tried: cmd.tried,
    knownHostsFile: cmd.knownHostsFile,
    connectTimeout: p.loginTimeout,
  };
  let session: Session | undefined;
  const gone = () => {
    if (session) markLost(session, where);
  };
  let settled = false;
  let failFromLog = () => {};

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
        if (log.foreignGreeting && !settled) failFromLog(); // not an SSH server: do not wait
      }
    } catch {
      // the pipe broke: the process is gone
    }
    if (rest) log.add(scrub(rest));
  })();

  // ---- the SFTP session on ssh's stdio; INIT waits there until the channel is open ----
  const sink: { client?: SftpClient } = {};
  const onData = (chunk: Uint8Array) => sink.client!.feed(chunk);
  const pipe = local?.listener
    ? sftpOverSocket(accept(local.listener), onData)
    : sftpOverPipes(child, onData);
  const client = new SftpClient(pipe.transport);
  sink.client = client;
  const ready = client.start(() => log.openssh);
  ready.catch(() => {});
  const status = child.status;
  const closedPromise = (async () => {
    const s = await status.catch(() => undefined);
    log.exitCode = s?.code;
    await local?.remove();
    await Promise.allSettled([pipe.stdoutDone, stderrDone]);
    await cmd.removeHelper();
  })();
  const kill = () => {
    try {
      child.kill("SIGKILL");
    } catch {
      // already exited
    }
  };
  pipe.stdoutDone.then(() => {
    client.fail(
      new BackendError(`the connection to ${where} was closed`, {
        code: ErrorCode.connection_failed,
      }),
    );
    gone();
  });
  status.then(() => {
    pipe.closeStdin();
    gone();
  });

  return await new Promise<Launched>((resolve, reject) => {
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
      const err = new BackendError(`no SSH login to ${where} within ${p.loginTimeout} ms`, {
        code: ErrorCode.connection_failed,
      });
      finish(() => reject(err));
    }, p.loginTimeout + 1000);
    failFromLog = () => {
      if (settled) return;
      if (log.foreignGreeting) return finish(() => resolve({ log, at }));
      void (async () => {
        await status.catch(() => undefined);
        await stderrDone;
        finish(() => resolve({ log, at }));
      })();
    };
    ready.then(() => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      signal?.removeEventListener("abort", onAbort);
      const s: Session = {
        client,
        end: () => pipe.closeStdin(),
        destroy: kill,
        closed: false,
        closedPromise,
        ...sessionFacts(client, log.software, p.chunk),
      };
      session = s;
      s.sized = sized(s, p.chunk);
      // The helpers are not needed after login (removing the folder also ends
      // the dialer's child): remove them before the session is used.
      Promise.all([cmd.removeHelper(), local?.remove()]).then(() => resolve({ session: s }));
    }, () => failFromLog());
    status.then(() => failFromLog());
  });
}

/** perl, when this process may run it on Linux (to widen pipes and to dial). */
function perlToRun(): string | undefined {
  const perl = Deno.build.os === "linux" ? findProgram("perl") : undefined;
  return perl && mayRun(perl) ? perl : undefined;
}

/** A private folder for the Unix socket (when it can be made) and the dialer's marker. */
interface LocalEnds {
  /** The folder (the dialer's child stays while it exists). */
  dir: string;
  /** The socket path ssh's stdio connects to, when listening worked. */
  path?: string;
  /** Listening on `path`. */
  listener?: Deno.Listener<Deno.UnixConn, Deno.UnixAddr>;
  /** Stop listening and remove the folder; idempotent. */
  remove(): Promise<void>;
}

/** Make the folder and listen on a socket in it; `undefined` when no folder can be made. */
async function localEnds(): Promise<LocalEnds | undefined> {
  let dir: string;
  try {
    dir = await Deno.makeTempDir({ prefix: "stowage-ssh-" });
  } catch {
    return undefined;
  }
  const ends: LocalEnds = {
    dir,
    async remove() {
      const l = ends.listener;
      ends.listener = undefined;
      try {
        l?.close();
      } catch {
        // closed already
      }
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    },
  };
  const path = `${dir}/s`;
  if (path.length < 100) { // sockaddr_un holds 107 bytes
    try {
      ends.listener = Deno.listen({ transport: "unix", path });
      ends.path = path;
    } catch {
      // not allowed here: the pipes will do
    }
  }
  return ends;
}

/** The one connection ssh's stdio makes (`undefined` when the listener closed first). */
async function accept(
  listener: Deno.Listener<Deno.UnixConn, Deno.UnixAddr>,
): Promise<Deno.UnixConn | undefined> {
  try {
    const conn = await listener.accept();
    listener.close();
    return conn;
  } catch {
    return undefined;
  }
}

/**
 * Start ssh: with its stdio on the Unix socket (through perl), else on
 * pipes (through perl to widen them, when perl may run).
 */
function spawn(
  ssh: string,
  cmd: SshCommand,
  perl: string | undefined,
  local: LocalEnds | undefined,
): Deno.ChildProcess {
  try {
    const onSocket = perl !== undefined && local?.path !== undefined;
    const [program, argv] = onSocket
      ? [perl, ["-e", SOCKET_SHIM, "--", local.path!, ssh, ...cmd.args]]
      : perl
      ? [perl, ["-e", WIDEN_PIPES, "--", ssh, ...cmd.args]]
      : [ssh, cmd.args];
    return new Deno.Command(program, {
      args: argv,
      env: cmd.env,
      stdin: onSocket ? "null" : "piped",
      stdout: onSocket ? "null" : "piped",
      stderr: "piped",
    }).spawn();
  } catch (err) {
    void local?.remove();
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
