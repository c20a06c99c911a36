/**
 * The `stowage` command: parse the command line, run one command, exit with
 * duplicity's codes (2 bad command line, 23 bad URL or option, 50–61 backend
 * failures, 1 when `stowage test` finds failures).
 *
 * Run it with `deno run -A jsr:@stowage/backends/cli` (or `deno task stowage`
 * in a checkout); `deno compile -A -o stowage cli.ts` makes a single binary.
 *
 * @example
 * ```ts ignore
 * import { main } from "@stowage/backends/cli";
 * const status = await main(["ls", "-l", "file:///tmp/backups"]);
 * Deno.exit(status);
 * ```
 *
 * @module
 */

import { parseArgs } from "node:util";
import { backends } from "./cli/backends.ts";
import { cleanup } from "./cli/cleanup.ts";
import { type Command, UsageError } from "./cli/context.ts";
import { get } from "./cli/get.ts";
import { ls } from "./cli/ls.ts";
import { mv } from "./cli/mv.ts";
import { Output, type OutputSinks, processSinks, type Verbosity } from "./cli/output.ts";

export type { OutputSinks };
import { put } from "./cli/put.ts";
import { rm } from "./cli/rm.ts";
import { stat } from "./cli/stat.ts";
import { test } from "./cli/test.ts";
import { BackendError, ErrorCode, reasonOf } from "./core/errors.ts";
import { terminalPrompt } from "./cli/prompt.ts";
import type { GetBackendOptions } from "./registry.ts";
import { redactRaw } from "./core/url.ts";

/** The version printed by `stowage --version`. */
export const VERSION = "0.1.0";

const COMMANDS: readonly Command[] = [ls, put, get, rm, stat, mv, cleanup, test, backends];

const GLOBAL_OPTIONS = {
  "num-retries": { type: "string" },
  "retry-delay": { type: "string" },
  timeout: { type: "string" },
  option: { type: "string", short: "o", multiple: true },
  verbose: { type: "boolean", short: "v" },
  quiet: { type: "boolean", short: "q" },
  help: { type: "boolean", short: "h" },
  version: { type: "boolean", short: "V" },
} as const;

const GLOBAL_HELP = `Global options:
  --num-retries N    attempts per operation (default 5)
  --retry-delay S    first wait between attempts in seconds, doubling with jitter (default 1)
  --timeout S        fail an attempt that makes no progress for S seconds (default 30; 0: never)
  -o, --option K=V   a backend option, repeatable (e.g. -o endpoint=http://127.0.0.1:9000)
  -v, --verbose      more messages;  -q, --quiet  errors only
  -h, --help         help;  -V, --version  the version`;

function mainHelp(): string {
  const lines = COMMANDS.map((c) => `  ${c.name.padEnd(9)} ${c.summary}`);
  return `stowage ${VERSION} — one contract for every place a program keeps files

Usage: stowage [global options] COMMAND [options] ARGS

Commands:
${lines.join("\n")}

${GLOBAL_HELP}

URLs: file:///abs/dir, memory://name, sftp://user@host/dir, ftp://, ftps://,
webdav://, webdavs://, s3://bucket/prefix, gs://bucket/prefix, azure://container/prefix.
Passwords come from the URL or FTP_PASSWORD. Run "stowage COMMAND --help" for a command.
Exit codes: 0 ok, 1 test failures, 2 bad command line, 23 bad URL/option/name,
38 connection failed, 50 backend error, 51 permission denied, 52 not found, 53 no space,
56 validation failed, 57 timeout, 58 rate limited, 60 untrusted host, 61 cancelled.`;
}

function commandHelp(c: Command): string {
  return `Usage: ${c.usage}\n\n${c.summary}.\n${c.help ? `\n${c.help}\n` : ""}\n${GLOBAL_HELP}`;
}

function seconds(flag: string, value: string | undefined, allowZero: boolean): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isFinite(n) || n < 0 || (!allowZero && n === 0)) {
    throw new UsageError(
      `${flag} must be a number of seconds${allowZero ? "" : " above 0"}, not "${value}"`,
    );
  }
  return Math.round(n * 1000);
}

/** Turn the global flags into store options. */
function storeOptionsFrom(values: Record<string, unknown>, out: Output): GetBackendOptions {
  const o: GetBackendOptions = { log: out.log, onProgress: out.progress };
  const ask = out.interactive ? terminalPrompt() : undefined;
  if (ask) o.askPassword = ask;
  const retries = values["num-retries"] as string | undefined;
  if (retries !== undefined) {
    const n = Number(retries);
    if (!Number.isInteger(n) || n < 1) {
      throw new UsageError(`--num-retries must be a whole number of at least 1, not "${retries}"`);
    }
    o.maxAttempts = n;
  }
  const delay = seconds("--retry-delay", values["retry-delay"] as string | undefined, true);
  if (delay !== undefined) {
    o.minTimeout = delay;
    if (delay > 60000) o.maxTimeout = delay;
  }
  const timeout = seconds("--timeout", values.timeout as string | undefined, true);
  if (timeout !== undefined) o.timeout = timeout;
  for (const kv of (values.option as string[] | undefined) ?? []) {
    const eq = kv.indexOf("=");
    if (eq <= 0) throw new UsageError(`-o needs KEY=VALUE, not "${kv}"`);
    o[kv.slice(0, eq)] = kv.slice(eq + 1);
  }
  return o;
}

/**
 * Run the CLI with these arguments; returns the exit status (never exits the
 * process itself, so tests and other programs can call it).
 */
export async function main(
  args: string[],
  sinks: OutputSinks = processSinks(),
  signal?: AbortSignal,
): Promise<number> {
  let out = new Output(sinks, 1);
  const allOptions: Record<
    string,
    { type: "string" | "boolean"; short?: string; multiple?: boolean }
  > = {
    ...GLOBAL_OPTIONS,
  };
  for (const c of COMMANDS) Object.assign(allOptions, c.options);
  try {
    let parsed;
    try {
      parsed = parseArgs({ args, options: allOptions, allowPositionals: true, strict: true });
    } catch (err) {
      throw new UsageError(cleanParseError(reasonOf(err)));
    }
    const { values, positionals } = parsed;
    const verbosity: Verbosity = values.quiet ? 0 : values.verbose ? 2 : 1;
    out = new Output(sinks, verbosity);
    if (values.version) {
      out.result(`stowage ${VERSION}`);
      return 0;
    }
    const name = positionals[0];
    if (!name) {
      if (values.help) {
        out.result(mainHelp());
        return 0;
      }
      throw new UsageError('no command given; run "stowage --help" for the list');
    }
    const command = COMMANDS.find((c) => c.name === name);
    if (!command) {
      throw new UsageError(
        `unknown command "${name}"; commands: ${COMMANDS.map((c) => c.name).join(", ")}`,
      );
    }
    if (values.help) {
      out.result(commandHelp(command));
      return 0;
    }
    // Flags that belong to another command are mistakes here.
    for (const key of Object.keys(values)) {
      if (!(key in GLOBAL_OPTIONS) && !(key in command.options)) {
        throw new UsageError(
          `option --${key} does not apply to "${command.name}"\nUsage: ${command.usage}`,
        );
      }
    }
    const rest = positionals.slice(1);
    const [min, max] = command.arity;
    if (rest.length < min || rest.length > max) {
      throw new UsageError(
        `"${command.name}" takes ${min === max ? min : `${min} or more`} argument${
          min === 1 && max === 1 ? "" : "s"
        }, got ${rest.length}\nUsage: ${command.usage}`,
      );
    }
    const flags: Record<string, string | boolean | string[] | undefined> = {};
    for (const key of Object.keys(command.options)) {
      flags[key] = values[key] as string | boolean | string[] | undefined;
    }
    const storeOptions = storeOptionsFrom(values, out);
    if (signal) storeOptions.signal = signal;
    return await command.run({ args: rest, flags, storeOptions, out });
  } catch (err) {
    if (isBrokenPipe(err)) return EXIT_BROKEN_PIPE; // `stowage ls | head -1`: quietly
    if (err instanceof UsageError) {
      out.error(err.message);
      return ErrorCode.command_line;
    }
    if (err instanceof BackendError) {
      out.error(redactText(err.message));
      return err.code;
    }
    out.error(`unexpected error: ${redactText(reasonOf(err))}`);
    if (out.verbosity >= 2 && err instanceof Error && err.stack) out.info(redactText(err.stack));
    return ErrorCode.exception;
  }
}

/** Exit status after stdout was closed by the reader, as a process killed by SIGPIPE. */
const EXIT_BROKEN_PIPE = 141;

function isBrokenPipe(err: unknown): boolean {
  if (err instanceof Deno.errors.BrokenPipe) return true;
  return err instanceof BackendError && err.cause instanceof Deno.errors.BrokenPipe;
}

/**
 * Run the CLI as a process: Ctrl-C (SIGINT) and SIGTERM cancel the command
 * through its AbortSignal — the temporary upload on the store and the
 * partial local file are removed — then it exits 130 / 143. A second Ctrl-C
 * exits at once.
 */
async function runAsProcess(): Promise<never> {
  const ac = new AbortController();
  let caught: "SIGINT" | "SIGTERM" | undefined;
  const on = (sig: "SIGINT" | "SIGTERM") => () => {
    if (caught) Deno.exit(sig === "SIGINT" ? 130 : 143);
    caught = sig;
    ac.abort(new BackendError(`cancelled by ${sig}`, { code: ErrorCode.backend_aborted }));
  };
  const listeners = { SIGINT: on("SIGINT"), SIGTERM: on("SIGTERM") };
  for (const [sig, fn] of Object.entries(listeners)) {
    Deno.addSignalListener(sig as Deno.Signal, fn);
  }
  const code = await main(Deno.args, processSinks(), ac.signal);
  Deno.exit(caught === "SIGINT" ? 130 : caught === "SIGTERM" ? 143 : code);
}

function cleanParseError(message: string): string {
  const m = /Unknown option '([^']+)'/.exec(message);
  if (m) return `unknown option ${m[1]}; run "stowage --help"`;
  const v = /Option '([^']+)' argument missing/.exec(message);
  if (v) return `option ${v[1]} needs a value`;
  return message.replace(/\. To specify a positional argument.*$/, "");
}

function redactText(text: string): string {
  return text.replace(/[A-Za-z][A-Za-z0-9+.-]*:\/\/[^\s"'<>]+/g, (u) => redactRaw(u));
}

if (import.meta.main) {
  await runAsProcess();
}
