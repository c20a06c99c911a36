/**
 * Running par2cmdline: `create`, `verify` and `repair` in a private folder.
 * The process is killed when the operation is cancelled, and the operation
 * reports progress while par2 works so the wrapper's no-progress timeout
 * does not fire during a long create or repair. Never `repair -p`: it would
 * delete every recovery file after a repair.
 *
 * @module
 */

import { join } from "node:path";
import type { OperationContext } from "../../core/backend.ts";
import { Par2ExitError, Par2SpawnError } from "./error.ts";

/** How par2 is run. */
export interface Par2Settings {
  /** The program. */
  program: string;
  /** Recovery data as a percentage (`-r`). */
  redundancy: number;
  /** Recovery volume files (`-n`). */
  volumes: number;
  /** Extra arguments for every run. */
  extraArgs: readonly string[];
}

/** What one run ended with. */
export interface Par2Result {
  /** The exit status. */
  status: number;
  /** The last lines of its output (for messages). */
  output: string;
}

const HEARTBEAT_MS = 1000;

/**
 * par2's OpenMP threads wait passively unless the user chose otherwise:
 * spinning threads make par2 several times slower on a busy machine.
 */
const OMP_ENV: Record<string, string> = ((): Record<string, string> => {
  try {
    if (Deno.env.get("OMP_WAIT_POLICY")) return {};
  } catch {
    // no permission to read the environment: set ours
  }
  return { OMP_WAIT_POLICY: "passive" };
})();
const decoder = new TextDecoder();

/** Run par2 with `args` in `dir`; throws {@linkcode Par2SpawnError} when it cannot start. */
export async function runPar2(
  s: Par2Settings,
  command: "c" | "v" | "r",
  dir: string,
  files: readonly string[],
  extra: readonly string[],
  ctx?: OperationContext,
): Promise<Par2Result> {
  ctx?.signal.throwIfAborted();
  const args = [command, "-q", "-q", `-B${dir}`, ...extra, ...s.extraArgs, "--", ...files];
  const heartbeat = ctx ? setInterval(() => ctx.progress(0), HEARTBEAT_MS) : undefined;
  let out: Deno.CommandOutput;
  try {
    out = await new Deno.Command(s.program, {
      args,
      cwd: dir,
      env: OMP_ENV,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      ...(ctx ? { signal: ctx.signal } : {}),
    }).output();
  } catch (err) {
    ctx?.signal.throwIfAborted();
    throw new Par2SpawnError(s.program, err);
  } finally {
    if (heartbeat !== undefined) clearInterval(heartbeat);
  }
  ctx?.signal.throwIfAborted();
  return {
    status: out.code,
    output: tail(decoder.decode(out.stderr) + decoder.decode(out.stdout)),
  };
}

/**
 * Create recovery data for `dir/base` beside it. Like duplicity, a create
 * that fails with several volumes is tried once more with one. Returns the
 * names of the files made (`base.par2`, `base.vol0+1.par2`, ...).
 */
export async function createRecovery(
  s: Par2Settings,
  dir: string,
  base: string,
  ctx?: OperationContext,
): Promise<string[]> {
  const files = [join(dir, `${base}.par2`), join(dir, base)];
  let r = await runPar2(s, "c", dir, files, [`-r${s.redundancy}`, `-n${s.volumes}`], ctx);
  if (r.status !== 0 && s.volumes > 1) {
    r = await runPar2(s, "c", dir, files, [`-r${s.redundancy}`, "-n1"], ctx);
  }
  if (r.status !== 0) throw new Par2ExitError("create", r.status, r.output);
  const made: string[] = [];
  for await (const e of Deno.readDir(dir)) {
    if (e.isFile && e.name !== base && e.name.startsWith(base)) made.push(e.name);
  }
  return made.sort();
}

/** Verify with the index `dir/index`: 0 intact, 1 or 2 damaged, other values failures. */
export function verify(
  s: Par2Settings,
  dir: string,
  index: string,
  ctx?: OperationContext,
): Promise<Par2Result> {
  return runPar2(s, "v", dir, [join(dir, index)], [], ctx);
}

/**
 * Repair in place with every recovery file in `dir` (never `-p`), then
 * delete the damaged copy par2 keeps (`base.1`). Throws
 * {@linkcode Par2ExitError} when the repair fails.
 */
export async function repair(
  s: Par2Settings,
  dir: string,
  index: string,
  base: string,
  ctx?: OperationContext,
): Promise<void> {
  const r = await runPar2(s, "r", dir, [join(dir, index)], [], ctx);
  if (r.status !== 0) throw new Par2ExitError("repair", r.status, r.output);
  for await (const e of Deno.readDir(dir)) {
    if (e.name.startsWith(`${base}.`) && /^\d+$/.test(e.name.slice(base.length + 1))) {
      await Deno.remove(join(dir, e.name));
    }
  }
}

/** The last few non-empty lines of par2's output, on one line. */
function tail(text: string): string {
  const lines = text.split(/[\r\n]+/).map((l) => l.trim()).filter(Boolean);
  const out = lines.slice(-3).join(" / ");
  return out.length > 300 ? `…${out.slice(-300)}` : out;
}
