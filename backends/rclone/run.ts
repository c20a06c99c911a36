/**
 * Running rclone for the backend: every call is one `rclone <subcommand>`
 * with the store's flags (`--retries 1`: the wrapper retries; rclone never
 * prompts for a config password), its environment (`RCLONE_CONFIG_<NAME>_*`
 * can define the remote), and the operation's signal and progress. Name
 * lists for `--files-from-raw` go to a private temporary file.
 *
 * @module
 */

import { join } from "node:path";
import type { OperationContext } from "../../core/backend.ts";
import { type CommandResult, runCommand } from "../../core/command.ts";
import { BackendError, ErrorCode } from "../../core/errors.ts";
import { RcloneError } from "./error.ts";
import type { RcloneSettings } from "./options.ts";

/** Flags that make a failed delete fail once, not three times. */
export const NO_RETRY: readonly string[] = ["--low-level-retries", "1"];

/** One rclone call: subcommand, its flags, positional arguments. */
export interface RcloneCall {
  /** `cat`, `rcat`, `lsjson`, ... */
  sub: string;
  /** Flags of this call. */
  flags?: readonly string[];
  /** Remote paths and other positional arguments (after `--`). */
  paths: readonly string[];
  /** Stream this local file into stdin. */
  stdinFile?: string;
  /** Write stdout to this local file. */
  stdoutFile?: string;
}

/** One entry of `rclone lsjson`. */
export interface RcloneEntry {
  /** The name in its folder. */
  Name: string;
  /** Size in bytes (-1 when unknown). */
  Size: number;
  /** Whether it is a folder. */
  IsDir: boolean;
}

/** Runs rclone with the store's program, flags and environment. */
export class Rclone {
  readonly #program: string;
  readonly #global: string[];
  readonly #env: Record<string, string> | undefined;

  /** Keep what every call needs; checks `env` (code 23 when it is not an object of strings). */
  constructor(settings: RcloneSettings, scheme: string) {
    this.#program = settings.program;
    this.#global = ["--retries", "1", "--ask-password=false"];
    if (settings.config) this.#global.push("--config", settings.config);
    this.#global.push(...settings.flags);
    this.#env = checkEnv(settings.env, scheme);
  }

  /** Run one call; resolves whatever the exit status. */
  run(call: RcloneCall, ctx?: OperationContext): Promise<CommandResult> {
    return runCommand(this.#program, {
      args: [call.sub, ...(call.flags ?? []), ...this.#global, "--", ...call.paths],
      ...(this.#env ? { env: this.#env } : {}),
      ...(call.stdinFile !== undefined ? { stdinFile: call.stdinFile } : {}),
      ...(call.stdoutFile !== undefined ? { stdoutFile: call.stdoutFile } : {}),
      ...(ctx
        ? {
          signal: ctx.signal,
          progress: (n: number) => ctx.progress(n),
          onOutput: () => ctx.progress(),
        }
        : {}),
      debianPackage: "rclone",
    });
  }

  /** Run one call; throws {@linkcode RcloneError} on a non-zero exit. */
  async check(call: RcloneCall, ctx?: OperationContext): Promise<CommandResult> {
    const result = await this.run(call, ctx);
    if (result.code !== 0) throw this.error(call, result);
    return result;
  }

  /** The error for a failed call. */
  error(call: RcloneCall, result: CommandResult): RcloneError {
    return new RcloneError(this.#program, call.sub, result.code, result.stderr);
  }

  /** `rclone lsjson` of a folder or (with `--stat`) one file, parsed. */
  async lsjson(
    flags: readonly string[],
    path: string,
    ctx?: OperationContext,
  ): Promise<RcloneEntry[] | "missing"> {
    const call = {
      sub: "lsjson",
      flags: ["--no-modtime", "--no-mimetype", ...flags],
      paths: [path],
    };
    const result = await this.run(call, ctx);
    if (result.code === 3 || result.code === 4) return "missing";
    if (result.code !== 0) throw this.error(call, result);
    let parsed: unknown;
    try {
      parsed = JSON.parse(result.stdout);
    } catch (err) {
      throw new BackendError(`rclone lsjson printed something that is not JSON`, {
        code: ErrorCode.backend_command_error,
        cause: err,
      });
    }
    const list = Array.isArray(parsed) ? parsed : [parsed];
    return list.filter(isEntry);
  }

  /** Write `names` one per line to a private file, run `fn` with its path, remove it. */
  async withNameFile<T>(names: readonly string[], fn: (file: string) => Promise<T>): Promise<T> {
    const dir = await Deno.makeTempDir({ prefix: "stowage-rclone-" });
    try {
      const file = join(dir, "names");
      await Deno.writeTextFile(file, names.map((n) => `${n}\n`).join(""), { mode: 0o600 });
      return await fn(file);
    } finally {
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    }
  }
}

/** Whether names can go one per line into `--files-from-raw`. */
export function fitsNameFile(names: readonly string[]): boolean {
  return names.every((n) => !/[\r\n]/.test(n));
}

function isEntry(v: unknown): v is RcloneEntry {
  const e = v as RcloneEntry;
  return typeof e === "object" && e !== null && typeof e.Name === "string" &&
    typeof e.Size === "number";
}

function checkEnv(env: unknown, scheme: string): Record<string, string> | undefined {
  if (env === undefined || env === null) return undefined;
  const ok = typeof env === "object" && !Array.isArray(env) &&
    Object.values(env).every((v) => typeof v === "string");
  if (!ok) {
    throw new BackendError(
      `Invalid option "env" for ${scheme}://: it must be an object of strings`,
      { code: ErrorCode.user_error },
    );
  }
  return env as Record<string, string>;
}
