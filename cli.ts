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
import { bench } from "./cli/bench.ts";
import { cp, sync } from "./cli/cp.ts";
import { hash } from "./cli/hash.ts";
import {
  Output,
  type OutputSinks,
  processSinks,
  redactText,
  type Verbosity,
} from "./cli/output.ts";
import { cat, rcat } from "./cli/pipes.ts";
import { probe } from "./cli/probe.ts";

export type { OutputSinks };
import { put } from "./cli/put.ts";
import { rm } from "./cli/rm.ts";
import { stat } from "./cli/stat.ts";
import { test } from "./cli/test.ts";
import { BackendError, ErrorCode, reasonOf } from "./core/errors.ts";
import {
  cleanParseError,
  commandHelp,
  GLOBAL_OPTIONS,
  mainHelp,
  storeOptionsFrom,
} from "./cli/globals.ts";

/** The version printed by `stowage --version`. */
export const VERSION = "0.1.0";

const COMMANDS: readonly Command[] = [
  ls,
  put,
  get,
  cp,
  sync,
  cat,
  rcat,
  rm,
  stat,
  hash,
  mv,
  cleanup,
  probe,
  bench,
  test,
  backends,
];

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
    out = new Output(sinks, verbosity, {
      json: values.json === true,
      ...(values["no-progress"] ? { progress: false } : values.progress ? { progress: true } : {}),
    });
    if (values.version) {
      if (out.json) out.event({ version: VERSION });
      else out.result(`stowage ${VERSION}`);
      return 0;
    }
    const name = positionals[0];
    if (!name) {
      if (values.help) {
        out.result(mainHelp(VERSION, COMMANDS));
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
    let code: number = ErrorCode.exception;
    let message = `unexpected error: ${redactText(reasonOf(err))}`;
    if (err instanceof UsageError) [code, message] = [ErrorCode.command_line, err.message];
    else if (err instanceof BackendError) [code, message] = [err.code, err.message];
    out.error(message);
    if (code === ErrorCode.exception && out.verbosity >= 2 && err instanceof Error && err.stack) {
      out.info(redactText(err.stack));
    }
    // With --json, the failure is also one line on stdout, for programs that read only that.
    if (out.json) out.event({ type: "error", code, error: redactText(message) });
    return code;
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

if (import.meta.main) {
  await runAsProcess();
}
