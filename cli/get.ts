/**
 * `stowage get URL NAME [DEST]` and `stowage get URL NAME... DIR`: download
 * files, `--transfers` at a time.
 *
 * @module
 */

import { join, resolve } from "node:path";
import { BackendError, ErrorCode } from "../core/errors.ts";
import { type Command, UsageError } from "./context.ts";
import type { CopyJob } from "./engine.ts";
import { finishRun, makeEngine, TRANSFER_FLAGS, TRANSFER_HELP } from "./copy.ts";
import { type Endpoint, endpointOf, FolderPair } from "./places.ts";
import { openStore } from "./stores.ts";

/** The destination side of local files (never opened: each job names its file). */
const LOCAL_FILES: Endpoint = { url: "file:///", plainPath: true, display: "." };

async function isDir(path: string): Promise<boolean> {
  return await Deno.stat(path).then((i) => i.isDirectory, () => false);
}

/** `get`: download NAME to DEST (a file path or a folder; default ./NAME), or NAMEs into DIR. */
export const get: Command = {
  name: "get",
  summary: "Download files from a URL",
  usage: "stowage get URL NAME [DEST]\n       stowage get URL NAME... DIR",
  help: `DEST is a file path or an existing folder (default: NAME in the current folder).
With more than one NAME the last argument is a folder (made when missing).
Options:
${TRANSFER_HELP}
Each file is written under a temporary name and renamed into place, so a failed
download never leaves a partial DEST; its size is checked against the store's.
A file that fails is reported and the others go on.`,
  options: { ...TRANSFER_FLAGS },
  arity: [2, Infinity],
  async run(ctx) {
    const { args, flags, storeOptions, out } = ctx;
    const url = args[0]!;
    const names = args.length <= 3 ? [args[1]!] : args.slice(1, -1);
    const destArg = args.length === 2 ? undefined : args[args.length - 1]!;
    const dests = new Map<string, string>();
    if (names.length === 1) {
      let dest = destArg ?? names[0]!;
      if (await isDir(dest)) dest = join(dest, names[0]!);
      dests.set(names[0]!, dest);
    } else {
      const dir = destArg!;
      if (!(await isDir(dir))) await Deno.mkdir(dir, { recursive: true });
      for (const n of names) {
        if (dests.has(n)) throw new UsageError(`NAME "${n}" is given twice`);
        dests.set(n, join(dir, n));
      }
    }
    const src = endpointOf(url);
    const { engine, done } = await makeEngine(ctx, "get", flags.checksum === true);
    const pair = new FolderPair(
      "",
      src,
      LOCAL_FILES,
      (ep, rel) => openStore(ep.url, storeOptions, { out, onProgress: engine.progressFor(rel) }),
    );
    try {
      const store = await pair.srcStore();
      const info = await store.queryInfo(names);
      const jobs: CopyJob[] = names.map((name) => {
        const size = info[name]?.size ?? null;
        const job: CopyJob = { key: name, name, size, pair, dstPath: resolve(dests.get(name)!) };
        if (size === -1) {
          job.size = null;
          job.missing = new BackendError(
            `Cannot get "${name}" from "${store.displayUrl}": not found`,
            { code: ErrorCode.backend_not_found, operation: "get" },
          );
        }
        return job;
      });
      pair.acquire(jobs.length);
      await engine.copyAll(jobs);
      finishRun(out, "get", engine, false);
      return engine.exitCode;
    } finally {
      await pair.close();
      await done();
    }
  },
};
