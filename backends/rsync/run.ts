/**
 * Running rsync for the backend: every call is one rsync process with the
 * store's transport (`--port` or `-e ssh ...`), the caller's extra flags,
 * the daemon password in `RSYNC_PASSWORD` (never in argv; empty when there
 * is none, so rsync never prompts on the terminal), and the operation's
 * signal and progress.
 *
 * @module
 */

import type { OperationContext } from "../../core/backend.ts";
import { type CommandResult, runCommand } from "../../core/command.ts";
import { RsyncError } from "./error.ts";
import { ProgressReader } from "./listing.ts";
import type { RsyncSettings } from "./options.ts";
import type { RsyncTarget } from "./target.ts";

/** Flags for a transfer that reports its progress. */
export const TRANSFER: readonly string[] = ["-I", "--no-h", "--info=progress2"];

/** Runs rsync with the store's program, transport and password. */
export class Rsync {
  readonly #program: string;
  readonly #common: string[];

  /** Keep what every call needs. */
  constructor(settings: RsyncSettings, target: RsyncTarget) {
    this.#program = settings.program;
    this.#common = [...target.transport, ...settings.flags];
  }

  /**
   * Run rsync with `args` (after the common ones); `what` names the
   * operation in errors. Resolves whatever the exit status.
   */
  run(
    what: string,
    args: readonly string[],
    password: string | undefined,
    ctx?: OperationContext,
  ): Promise<CommandResult & { what: string }> {
    const progress = ctx ? new ProgressReader((n) => ctx.progress(n)) : undefined;
    return runCommand(this.#program, {
      args: [...this.#common, ...args],
      env: { RSYNC_PASSWORD: password ?? envPassword() },
      ...(ctx
        ? {
          signal: ctx.signal,
          onOutput: (text: string, stream: "stdout" | "stderr") => {
            ctx.progress();
            if (stream === "stdout") progress!.feed(text);
          },
        }
        : {}),
      debianPackage: "rsync",
    }).then((r) => ({ ...r, what }));
  }

  /** The error for a failed run. */
  error(result: CommandResult & { what: string }): RsyncError {
    return new RsyncError(this.#program, result.what, result.code, result.stderr);
  }
}

/** An inherited `RSYNC_PASSWORD`, else empty (so rsync never asks on the terminal). */
function envPassword(): string {
  try {
    return Deno.env.get("RSYNC_PASSWORD") ?? "";
  } catch {
    return "";
  }
}
