/**
 * Shared machinery for starting real servers on 127.0.0.1 in tests: free
 * ports, readiness waits (bounded), process lifetime, and the rule that a
 * missing server program skips its suite with one line naming the package —
 * or fails when `CI` is set.
 *
 * @module
 */

import { join } from "node:path";

/** A running server process; `stop()` kills it and waits. */
export interface ServerProcess {
  /** The child process. */
  child: Deno.ChildProcess;
  /** Where its stdout and stderr go. */
  logFile: string;
  /** Kill it (SIGTERM, then SIGKILL after 2 s) and wait for it to exit. */
  stop(): Promise<void>;
  /** The log so far. */
  log(): string;
}

/** A port that was free a moment ago on 127.0.0.1. */
export function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

/** Whether a program is on the PATH (or is an existing absolute path). */
export function haveProgram(name: string): boolean {
  if (name.startsWith("/")) {
    try {
      return Deno.statSync(name).isFile;
    } catch {
      return false;
    }
  }
  for (const dir of (Deno.env.get("PATH") ?? "").split(":")) {
    if (!dir) continue;
    try {
      if (Deno.statSync(join(dir, name)).isFile) return true;
    } catch {
      // not here
    }
  }
  return false;
}

/**
 * Whether a suite that needs `program` (from Debian package `pkg`) can run:
 * `true` when present; otherwise prints one line and returns `false`, or
 * throws when `CI` is set (CI must have every server).
 */
export function requireProgram(program: string, pkg: string): boolean {
  if (haveProgram(program)) return true;
  const line = `${program} not found: install the Debian package "${pkg}" to run these tests`;
  if (Deno.env.get("CI")) throw new Error(line);
  console.log(`SKIP ${line}`);
  return false;
}

/** Whether we run as root (some servers need it). */
export function isRoot(): boolean {
  return Deno.uid?.() === 0;
}

/** Make a scratch folder for a server; removed by the caller. */
export function scratchDir(prefix: string): Promise<string> {
  return Deno.makeTempDir({ prefix: `stowage-${prefix}-` });
}

/** Start a program with its output in a log file. */
export async function startProcess(
  cmd: string,
  args: string[],
  options: { cwd?: string; env?: Record<string, string>; logDir: string; name: string },
): Promise<ServerProcess> {
  const logFile = join(options.logDir, `${options.name}.log`);
  const out = await Deno.open(logFile, { write: true, create: true, truncate: true });
  const child = new Deno.Command(cmd, {
    args,
    ...(options.cwd ? { cwd: options.cwd } : {}),
    env: { RUST_BACKTRACE: "0", ...(options.env ?? {}) },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  // Copy both streams into the log file.
  const pump = async (stream: ReadableStream<Uint8Array>) => {
    for await (const chunk of stream) {
      try {
        await out.write(chunk);
      } catch {
        break;
      }
    }
  };
  const pumps = Promise.all([pump(child.stdout), pump(child.stderr)]);
  let stopped = false;
  return {
    child,
    logFile,
    log: () => {
      try {
        return Deno.readTextFileSync(logFile);
      } catch {
        return "";
      }
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      try {
        child.kill("SIGTERM");
      } catch {
        // already gone
      }
      const killer = setTimeout(() => {
        try {
          child.kill("SIGKILL");
        } catch {
          // already gone
        }
      }, 2000);
      await child.status;
      clearTimeout(killer);
      await pumps;
      out.close();
    },
  };
}

/** Poll `check` every 25 ms until it returns a value, for at most `ms`. */
export async function waitFor<T>(
  what: string,
  check: () => T | undefined | Promise<T | undefined>,
  ms = 15000,
): Promise<T> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    const v = await check();
    if (v !== undefined) return v;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`Timed out after ${ms} ms waiting for ${what}`);
}

/** Wait until the server's log matches `re`; returns the match. */
export function waitForLog(
  server: ServerProcess,
  re: RegExp,
  ms = 15000,
): Promise<RegExpMatchArray> {
  return waitFor(`${server.logFile} to match ${re}`, async () => {
    const status = await Promise.race([server.child.status, Promise.resolve(undefined)]);
    if (status) throw new Error(`server exited (${status.code}): ${server.log().slice(-2000)}`);
    return server.log().match(re) ?? undefined;
  }, ms);
}

/** Wait until a TCP connect to 127.0.0.1:port succeeds. */
export function waitForPort(port: number, ms = 15000): Promise<true> {
  return waitFor(`127.0.0.1:${port} to accept connections`, async () => {
    try {
      const c = await Deno.connect({ hostname: "127.0.0.1", port });
      c.close();
      return true as const;
    } catch {
      return undefined;
    }
  }, ms);
}

/**
 * Wait for a freshly started server with `ready`; if that fails, stop the
 * server, remove its scratch folder, and rethrow — so a server that never
 * came up leaves nothing behind.
 */
export async function readyOrCleanUp<T>(
  server: ServerProcess,
  dir: string,
  ready: () => Promise<T>,
): Promise<T> {
  try {
    return await ready();
  } catch (err) {
    await server.stop();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
    throw err;
  }
}

/** Run a command to completion and return its output; throws on a non-zero exit. */
export async function run(
  cmd: string,
  args: string[],
  options: { env?: Record<string, string>; cwd?: string; stdin?: string } = {},
): Promise<string> {
  const child = new Deno.Command(cmd, {
    args,
    ...(options.cwd ? { cwd: options.cwd } : {}),
    ...(options.env ? { env: options.env } : {}),
    stdin: options.stdin !== undefined ? "piped" : "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  if (options.stdin !== undefined) {
    const w = child.stdin.getWriter();
    await w.write(new TextEncoder().encode(options.stdin));
    await w.close();
  }
  const out = await child.output();
  const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
  if (!out.success) throw new Error(`${cmd} ${args.join(" ")} failed (${out.code}): ${text}`);
  return text;
}

/**
 * The `stop()` of a server: stop `process`, run `afterStop` (if any), then
 * remove the server's scratch folder `dir`.
 */
export function stopAndRemove(
  process: ServerProcess,
  dir: string,
  afterStop?: () => void,
): () => Promise<void> {
  return async () => {
    await process.stop();
    afterStop?.();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  };
}

/** Start a server with `start`, run `fn` with it, and stop it whatever `fn` does. */
export async function withServer<S extends { stop(): Promise<void> }, T>(
  start: () => Promise<S>,
  fn: (server: S) => Promise<T>,
): Promise<T> {
  const server = await start();
  try {
    return await fn(server);
  } finally {
    await server.stop();
  }
}

/** Make an ed25519 key pair at `path` (and `path.pub`); returns the public key as `type base64`. */
export async function sshKeygen(path: string, comment: string): Promise<string> {
  await run("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", path, "-C", comment]);
  const pub = (await Deno.readTextFile(`${path}.pub`)).trim().split(/\s+/);
  return `${pub[0]} ${pub[1]}`;
}

/** An OpenSSH sshd of our own, started by {@linkcode startOpenSshd}. */
export interface OpenSshd {
  /** Its port on 127.0.0.1. */
  port: number;
  /** Its host key, `type base64`. */
  hostKey: string;
  /** The client's private key file (its public key is the one authorized). */
  clientKey: string;
  /** The sshd process. */
  process: ServerProcess;
}

/**
 * Start a second OpenSSH sshd (needs root) with its keys, config and logs in
 * the scratch folder `dir`: a fresh host key, a client key that `user` (the
 * only user allowed) logs in with, password login only when `password` is
 * set, and `extra` config lines. Ready when it listens; on failure it is
 * stopped and `dir` removed.
 */
export async function startOpenSshd(
  dir: string,
  options: { user: string; password?: boolean; extra?: string[] },
): Promise<OpenSshd> {
  await Deno.mkdir("/run/sshd", { recursive: true }); // the privilege-separation folder
  const hostKey = await sshKeygen(join(dir, "host_ed25519"), "host");
  const clientKey = join(dir, "client_ed25519");
  await sshKeygen(clientKey, "client");
  await Deno.copyFile(`${clientKey}.pub`, join(dir, "authorized_keys"));
  const port = freePort();
  const config = [
    `Port ${port}`,
    "ListenAddress 127.0.0.1",
    `HostKey ${join(dir, "host_ed25519")}`,
    `PidFile ${join(dir, "sshd.pid")}`,
    `AuthorizedKeysFile ${join(dir, "authorized_keys")}`,
    "StrictModes no",
    `PasswordAuthentication ${options.password ? "yes" : "no"}`,
    "KbdInteractiveAuthentication no",
    "PubkeyAuthentication yes",
    "UsePAM no",
    `AllowUsers ${options.user}`,
    "MaxStartups 50",
    ...(options.extra ?? []),
    "",
  ].join("\n");
  const configFile = join(dir, "sshd_config");
  await Deno.writeTextFile(configFile, config);
  await run("/usr/sbin/sshd", ["-t", "-f", configFile]);
  const process = await startProcess("/usr/sbin/sshd", ["-D", "-e", "-f", configFile], {
    logDir: dir,
    name: "sshd",
  });
  await readyOrCleanUp(
    process,
    dir,
    () => waitForLog(process, /Server listening on 127\.0\.0\.1 port \d+/, 10000),
  );
  return { port, hostKey, clientKey, process };
}
