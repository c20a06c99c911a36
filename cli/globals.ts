/**
 * The global options of the `stowage` command (retries, timeouts, `-o`,
 * `--json`, progress, verbosity), their help, and how they become store
 * options.
 *
 * @module
 */

import { type Command, UsageError } from "./context.ts";
import type { Output } from "./output.ts";
import { terminalPrompt } from "./prompt.ts";
import type { GetBackendOptions } from "../registry.ts";

/** The options every command takes. */
export const GLOBAL_OPTIONS = {
  "num-retries": { type: "string" },
  "retry-delay": { type: "string" },
  timeout: { type: "string" },
  option: { type: "string", short: "o", multiple: true },
  json: { type: "boolean" },
  progress: { type: "boolean", short: "P" },
  "no-progress": { type: "boolean" },
  verbose: { type: "boolean", short: "v" },
  quiet: { type: "boolean", short: "q" },
  help: { type: "boolean", short: "h" },
  version: { type: "boolean", short: "V" },
} as const;

/** Help for {@linkcode GLOBAL_OPTIONS}. */
export const GLOBAL_HELP = `Global options:
  --num-retries N    attempts per operation (default 5)
  --retry-delay S    first wait between attempts in seconds, doubling with jitter (default 1)
  --timeout S        fail an attempt that makes no progress for S seconds (default 30; 0: never)
  -o, --option K=V   a backend option, repeatable (e.g. -o endpoint=http://127.0.0.1:9000);
                     with two stores (cp, sync) each key goes to the one that declares it
  --json             machine-readable results on stdout (see docs/CLI.md for the fields)
  -P, --progress     show progress on stderr even when it is not a terminal
  --no-progress      never show progress (default: shown when stderr is a terminal)
  -v, --verbose      more messages: each backend call and retry;  -q, --quiet  errors only
  -h, --help         help;  -V, --version  the version`;

/** `stowage --help`. */
export function mainHelp(version: string, commands: readonly Command[]): string {
  const lines = commands.map((c) => `  ${c.name.padEnd(9)} ${c.summary}`);
  return `stowage ${version} — one contract for every place a program keeps files

Usage: stowage [global options] COMMAND [options] ARGS

Commands:
${lines.join("\n")}

${GLOBAL_HELP}

URLs: file:///abs/dir, memory://name, sftp://user@host/dir, ftp://, ftps://,
webdav://, webdavs://, s3://bucket/prefix, gs://bucket/prefix, azure://container/prefix.
Passwords come from the URL or FTP_PASSWORD. Run "stowage COMMAND --help" for a command.
Exit codes: 0 ok, 1 test failures, 2 bad command line, 23 bad URL/option/name,
38 connection failed, 50 backend error, 51 permission denied, 52 not found, 53 no space,
56 validation failed, 57 timeout, 58 rate limited, 60 untrusted host, 61 cancelled,
130/143 stopped by Ctrl-C/SIGTERM (cleaned up), 141 stdout closed by the reader.
The full reference (every command, --json fields): docs/CLI.md.`;
}

/** `stowage COMMAND --help`. */
export function commandHelp(c: Command): string {
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
export function storeOptionsFrom(values: Record<string, unknown>, out: Output): GetBackendOptions {
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

/** A `node:util` parse error as one short line. */
export function cleanParseError(message: string): string {
  const m = /Unknown option '([^']+)'/.exec(message);
  if (m) return `unknown option ${m[1]}; run "stowage --help"`;
  const v = /Option '([^']+)' argument missing/.exec(message);
  if (v) return `option ${v[1]} needs a value`;
  return message.replace(/\. To specify a positional argument.*$/, "");
}
