/**
 * `stowage get URL NAME [DEST]`: download one file.
 *
 * @module
 */

import { join } from "node:path";
import { BackendError, ErrorCode } from "../core/errors.ts";
import { getBackend } from "../registry.ts";
import type { Command } from "./context.ts";

/** `get`: download NAME to DEST (a file path or a folder; default ./NAME). */
export const get: Command = {
  name: "get",
  summary: "Download a file from a URL",
  usage: "stowage get URL NAME [DEST]",
  help: `DEST is a file path or an existing folder (default: NAME in the current folder).
The file is written under a temporary name and renamed into place, so a failed
download never leaves a partial DEST; its size is checked against the store's.`,
  options: {},
  arity: [2, 3],
  async run({ args, storeOptions, out }) {
    const [url, name, destArg] = args as [string, string, string | undefined];
    let dest = destArg ?? name;
    try {
      if ((await Deno.stat(dest)).isDirectory) dest = join(dest, name);
    } catch {
      // a new file
    }
    await using store = await getBackend(url, storeOptions);
    const remote = (await store.queryInfo([name]))[name]?.size ?? null;
    if (remote === -1) {
      throw new BackendError(`Cannot get "${name}" from "${store.displayUrl}": not found`, {
        code: ErrorCode.backend_not_found,
        operation: "get",
      });
    }
    out.startTransfer(name, remote ?? undefined);
    try {
      await store.get(name, dest, remote === null ? {} : { size: remote });
    } finally {
      out.endTransfer(name);
    }
    out.info(`got "${name}" to ${dest}${remote === null ? "" : ` (${remote} bytes)`}`);
    return 0;
  },
};
