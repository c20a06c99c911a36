/**
 * What `put`, `mv` and `rcat` share: send local files (or standard input,
 * spooled to a temporary file) to a store, `--transfers` at a time, each
 * checked for size on the store afterwards.
 *
 * @module
 */

import { basename, join } from "node:path";
import { abortError } from "../core/errors.ts";
import { type CommandContext, UsageError } from "./context.ts";
import type { CopyJob } from "./engine.ts";
import { finishRun, makeEngine } from "./copy.ts";
import { type Endpoint, endpointOf, FolderPair } from "./places.ts";
import { openStore } from "./stores.ts";
import type { OutputSinks } from "./output.ts";

/**
 * Copy standard input to a new file at `path`, one chunk at a time (never
 * all in memory). A cancel of `signal` stops the read at once.
 */
export async function spoolStdin(
  sinks: OutputSinks,
  path: string,
  signal?: AbortSignal,
): Promise<number> {
  if (!sinks.stdin) throw new UsageError("standard input is not available here");
  using file = await Deno.open(path, { write: true, createNew: true, mode: 0o600 });
  const reader = sinks.stdin().getReader();
  const onAbort = () => reader.cancel().catch(() => {});
  signal?.addEventListener("abort", onAbort, { once: true });
  let size = 0;
  try {
    while (true) {
      const { done, value } = await reader.read();
      if (done) break;
      let off = 0;
      while (off < value.length) off += await file.write(value.subarray(off));
      size += value.length;
    }
  } finally {
    signal?.removeEventListener("abort", onAbort);
    reader.releaseLock();
  }
  if (signal?.aborted) throw abortError(signal);
  return size;
}

/** The source side of local files (never opened: each job names its file). */
const LOCAL_FILES: Endpoint = { url: "file:///", plainPath: true, display: "." };

/**
 * Upload (`put`) or move (`move`) each FILE to the URL, the last argument;
 * `-` reads standard input (with `--name`). Returns the exit status.
 */
export async function sendFiles(ctx: CommandContext, mode: "put" | "move"): Promise<number> {
  const { args, flags, storeOptions, out } = ctx;
  const url = args[args.length - 1]!;
  const files = args.slice(0, -1);
  const name = flags.name as string | undefined;
  if (name !== undefined && files.length !== 1) {
    throw new UsageError("--name needs exactly one FILE");
  }
  if (files.includes("-")) {
    if (files.length !== 1 || name === undefined) {
      throw new UsageError('"-" (standard input) needs --name NAME and no other FILE');
    }
    if (mode === "move") throw new UsageError("mv cannot read standard input; use put -");
  }
  const targets = files.map((f) => name ?? basename(f));
  const dup = targets.find((t, i) => targets.indexOf(t) !== i);
  if (dup !== undefined) {
    throw new UsageError(`two FILEs would be stored under the same name "${dup}"`);
  }
  const dst = endpointOf(url);
  const { engine, tmpDir, done } = await makeEngine(ctx, mode, flags.checksum === true);
  const pair = new FolderPair(
    "",
    LOCAL_FILES,
    dst,
    (ep, rel) => openStore(ep.url, storeOptions, { out, onProgress: engine.progressFor(rel) }),
  );
  try {
    const jobs: CopyJob[] = [];
    for (const [i, file] of files.entries()) {
      const target = targets[i]!;
      let path = file;
      if (file === "-") {
        path = join(tmpDir, "stdin");
        await spoolStdin(out.sinks, path, storeOptions.signal);
      }
      const size = await Deno.stat(path).then((s) => (s.isFile ? s.size : null), () => null);
      const job: CopyJob = { key: target, name: target, size, pair, srcPath: path };
      if (mode === "move") job.move = true;
      jobs.push(job);
    }
    pair.acquire(jobs.length);
    await engine.copyAll(jobs);
    finishRun(out, mode === "move" ? "mv" : "put", engine, false);
    return engine.exitCode;
  } finally {
    await pair.close();
    await done();
  }
}
