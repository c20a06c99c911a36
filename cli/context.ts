/**
 * What every command gets: its arguments, the global options turned into
 * store options, and an output with verbosity and progress.
 *
 * @module
 */

import type { GetBackendOptions } from "../registry.ts";
import type { Output } from "./output.ts";

/** The parsed command line handed to a command. */
export interface CommandContext {
  /** The positional arguments after the command name. */
  args: string[];
  /** The command's own flags (`long`, `json`, `name`, ...). */
  flags: Record<string, string | boolean | string[] | undefined>;
  /** Store options from the global flags (`--num-retries`, `--timeout`, `-o`). */
  storeOptions: GetBackendOptions;
  /** Where to write. */
  out: Output;
}

/** One command: its name, synopsis, help text and how to run it. */
export interface Command {
  /** The command name (`ls`). */
  name: string;
  /** One line for the command list. */
  summary: string;
  /** Usage line(s), shown in help and usage errors. */
  usage: string;
  /** Longer help: the command's options and notes. */
  help: string;
  /** The command's own options for `node:util` parseArgs. */
  options: Record<string, { type: "string" | "boolean"; short?: string; multiple?: boolean }>;
  /** Smallest and largest number of positional arguments (max `Infinity` for lists). */
  arity: [number, number];
  /** Run; returns the exit status. */
  run(ctx: CommandContext): Promise<number>;
}

/** A command-line mistake: exit status 2 with a one-line message. */
export class UsageError extends Error {
  /** Make a usage error with the message to print. */
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}
