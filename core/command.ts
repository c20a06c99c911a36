/**
 * Running an external program (rclone, rsync, ...) for a backend: one
 * subprocess per call, its stdin fed from a local file and its stdout
 * collected or written to a local file, with progress reported per chunk.
 * An aborted signal stops the program (SIGTERM, then SIGKILL) and waits for
 * it to exit before the call rejects, so the caller's cleanup runs after it.
 * A non-zero exit is not an error here: the caller reads `code` and
 * `stderr`, or throws {@linkcode CommandError} from them. Secrets belong in
 * `env`, never in `args`: messages name the program and its first argument
 * only.
 *
 * @example
 * ```ts
 * import { runCommand } from "@stowage/backends/kit";
 * const result = await runCommand("echo", { args: ["hello"] });
 * console.log(result.code, result.stdout); // 0 hello
 * ```
 *
 * @module
 */

import { abortError, BackendError, ErrorCode } from "./errors.ts";

/** How {@linkcode runCommand} runs a program. */
export interface RunCommandOptions {
  /** The arguments (never a secret: pass those in `env`). */
  args: readonly string[];
  /** Variables added to the inherited environment. */
  env?: Record<string, string>;
  /** The working folder. */
  cwd?: string;
  /** Stream this local file into the program's stdin (else stdin is empty). */
  stdinFile?: string;
  /** Write the program's stdout to this local file (created or truncated) instead of collecting it. */
  stdoutFile?: string;
  /** Stops the program; the call then rejects with the signal's abort error. */
  signal?: AbortSignal;
  /** Called with the bytes of each chunk moved through `stdinFile` or `stdoutFile`. */
  progress?: (bytes: number) => void;
  /** Called with each piece of output text as it arrives (for progress lines). */
  onOutput?: (text: string, stream: "stdout" | "stderr") => void;
  /** The Debian package that has the program, named when it is missing. */
  debianPackage?: string;
  /** Milliseconds between SIGTERM and SIGKILL when stopping; default 2000. */
  killGrace?: number;
  /** Most stderr bytes kept (the tail); default 65536. */
  maxStderr?: number;
}

/** What a finished program left behind. */
export interface CommandResult {
  /** The exit status (128 + n when killed by signal n). */
  code: number;
  /** The collected stdout (empty when it went to `stdoutFile`). */
  stdout: string;
  /** The tail of stderr. */
  stderr: string;
}

/**
 * A program that exited with a non-zero status. The message names the
 * program, its first argument (the subcommand) and the status, plus the
 * last lines of stderr; never the other arguments.
 */
export class CommandError extends Error {
  /** The program that ran. */
  readonly program: string;
  /** Its first argument (`cat`, `lsjson`), or "" when none. */
  readonly subcommand: string;
  /** The exit status. */
  readonly code: number;
  /** The tail of what it printed on stderr. */
  readonly stderr: string;

  /** Describe a failed run; `summary` replaces the stderr digest in the message. */
  constructor(program: string, subcommand: string, code: number, stderr: string, summary?: string) {
    const what = subcommand ? `${program} ${subcommand}` : program;
    const detail = summary ?? lastLines(stderr);
    super(`${what} exited with status ${code}${detail ? `: ${detail}` : ""}`);
    this.name = "CommandError";
    this.program = program;
    this.subcommand = subcommand;
    this.code = code;
    this.stderr = stderr;
  }
}

/** The last `count` non-empty lines of `text`, joined with "; " and at most 400 characters. */
export function lastLines(text: string, count = 3): string {
  const lines = text.split(/\r?\n|\r/).map((l) => l.trim()).filter(Boolean);
  const out = lines.slice(-count).join("; ");
  return out.length > 400 ? `…${out.slice(-400)}` : out;
}

const CHUNK = 256 * 1024;

/**
 * Run `program` to completion. Rejects with a code-23 {@linkcode BackendError}
 * when the program cannot be started (not installed, not executable), and
 * with the abort error when `signal` aborts; otherwise resolves with the exit
 * status and output, whatever the status.
 */
export async function runCommand(
  program: string,
  options: RunCommandOptions,
): Promise<CommandResult> {
  const { signal } = options;
  signal?.throwIfAborted();
  let child: Deno.ChildProcess;
  try {
    child = new Deno.Command(program, {
      args: [...options.args],
      ...(options.env ? { env: options.env } : {}),
      ...(options.cwd ? { cwd: options.cwd } : {}),
      stdin: options.stdinFile !== undefined ? "piped" : "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
  } catch (err) {
    throw spawnError(program, err, options.debianPackage);
  }

  let stopped = false;
  let killer: ReturnType<typeof setTimeout> | undefined;
  const stop = () => {
    if (stopped) return;
    stopped = true;
    trySignal(child, "SIGTERM");
    killer = setTimeout(() => trySignal(child, "SIGKILL"), options.killGrace ?? 2000);
  };
  signal?.addEventListener("abort", stop, { once: true });

  const stdoutChunks: Uint8Array[] = [];
  const stderrTail = new Tail(options.maxStderr ?? 65536);
  try {
    const pumps = [
      pumpOut(child.stdout, options, "stdout", (c) => stdoutChunks.push(c)),
      pumpOut(child.stderr, options, "stderr", (c) => stderrTail.push(c)),
    ];
    if (options.stdinFile !== undefined) pumps.push(pumpIn(child.stdin, options));
    // A pump that fails (a local file error) stops the program; the first error wins.
    const failures = pumps.map((p) =>
      p.catch((err) => {
        stop();
        throw err;
      })
    );
    const status = await child.status;
    const settled = await Promise.allSettled(failures);
    if (signal?.aborted) throw abortError(signal);
    const failed = settled.find((s): s is PromiseRejectedResult => s.status === "rejected");
    if (failed) throw failed.reason;
    return {
      code: status.signal ? 128 + signalNumber(status.signal) : status.code,
      stdout: decode(stdoutChunks),
      stderr: stderrTail.text(),
    };
  } finally {
    signal?.removeEventListener("abort", stop);
    if (killer !== undefined) clearTimeout(killer);
    if (!stopped) {
      // Never leave a program running behind a failed call.
      trySignal(child, "SIGKILL");
    }
  }
}

function spawnError(program: string, err: unknown, pkg: string | undefined): BackendError {
  const missing = err instanceof Deno.errors.NotFound;
  const why = missing
    ? `the program was not found${pkg ? ` (install the Debian package "${pkg}")` : ""}`
    : err instanceof Deno.errors.PermissionDenied
    ? "it is not executable"
    : err instanceof Error
    ? err.message
    : String(err);
  return new BackendError(`Cannot run "${program}": ${why}`, {
    code: ErrorCode.backend_command_error,
    permanent: true,
    cause: err,
  });
}

async function pumpIn(
  stdin: WritableStream<Uint8Array>,
  options: RunCommandOptions,
): Promise<void> {
  const writer = stdin.getWriter();
  let file: Deno.FsFile | undefined;
  try {
    file = await Deno.open(options.stdinFile!, { read: true });
    const buf = new Uint8Array(CHUNK);
    while (true) {
      const n = await file.read(buf);
      if (n === null) break;
      try {
        await writer.write(buf.slice(0, n));
      } catch {
        return; // the program stopped reading; its exit status tells why
      }
      options.progress?.(n);
    }
    await writer.close().catch(() => {});
  } catch (err) {
    await writer.abort(err).catch(() => {});
    throw err;
  } finally {
    file?.close();
  }
}

async function pumpOut(
  stream: ReadableStream<Uint8Array>,
  options: RunCommandOptions,
  name: "stdout" | "stderr",
  collect: (chunk: Uint8Array) => void,
): Promise<void> {
  const decoder = options.onOutput ? new TextDecoder() : undefined;
  let file: Deno.FsFile | undefined;
  try {
    if (name === "stdout" && options.stdoutFile !== undefined) {
      file = await Deno.open(options.stdoutFile, { write: true, create: true, truncate: true });
    }
    for await (const chunk of stream) {
      if (file) {
        let off = 0;
        while (off < chunk.length) off += await file.write(chunk.subarray(off));
        options.progress?.(chunk.length);
      } else collect(chunk);
      if (decoder) options.onOutput!(decoder.decode(chunk, { stream: true }), name);
    }
  } catch (err) {
    await stream.cancel().catch(() => {});
    throw err;
  } finally {
    file?.close();
  }
}

function trySignal(child: Deno.ChildProcess, sig: Deno.Signal): void {
  try {
    child.kill(sig);
  } catch {
    // already gone
  }
}

function signalNumber(sig: Deno.Signal): number {
  return ({ SIGINT: 2, SIGKILL: 9, SIGPIPE: 13, SIGTERM: 15 } as Record<string, number>)[sig] ?? 0;
}

function decode(chunks: Uint8Array[]): string {
  if (chunks.length === 0) return "";
  const total = chunks.reduce((n, c) => n + c.length, 0);
  const all = new Uint8Array(total);
  let off = 0;
  for (const c of chunks) {
    all.set(c, off);
    off += c.length;
  }
  return new TextDecoder().decode(all);
}

/** Keeps the last `max` bytes written to it. */
class Tail {
  #chunks: Uint8Array[] = [];
  #size = 0;
  constructor(readonly max: number) {}
  push(chunk: Uint8Array): void {
    this.#chunks.push(chunk);
    this.#size += chunk.length;
    while (this.#size - this.#chunks[0]!.length >= this.max) {
      this.#size -= this.#chunks.shift()!.length;
    }
  }
  text(): string {
    const s = decode(this.#chunks);
    return this.#size > this.max ? s.slice(-this.max) : s;
  }
}
