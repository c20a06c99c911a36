/**
 * Pipes: `stowage cat URL NAME` writes a stored file to standard output;
 * `stowage rcat URL NAME` stores standard input. The contract moves whole
 * local files, so both go through a temporary file (spooled in pieces, never
 * held in memory) that is removed at the end.
 *
 * @module
 */

import { BackendError, ErrorCode } from "../core/errors.ts";
import { type Command, UsageError } from "./context.ts";
import { tempPath } from "./hashing.ts";
import { sendFiles } from "./send.ts";
import { openStore } from "./stores.ts";

/** `cat`: the file's bytes on stdout. */
export const cat: Command = {
  name: "cat",
  summary: "Write a stored file to standard output",
  usage: "stowage cat URL NAME",
  help: `The file is downloaded to a temporary file first (the store hands over whole
files), checked for size, then written to standard output. Progress, if shown,
goes to standard error. --json does not apply (the output is the file).`,
  options: {},
  arity: [2, 2],
  async run({ args, storeOptions, out }) {
    if (out.json) {
      throw new UsageError("cat writes the file itself to standard output; drop --json");
    }
    const write = out.sinks.writeStdout;
    if (!write) throw new UsageError("standard output cannot take bytes here");
    const [url, name] = args as [string, string];
    await using store = await openStore(url, storeOptions, { out });
    const size = (await store.queryInfo([name]))[name]?.size ?? null;
    if (size === -1) {
      throw new BackendError(`Cannot get "${name}" from "${store.displayUrl}": not found`, {
        code: ErrorCode.backend_not_found,
        operation: "get",
      });
    }
    const dir = await Deno.makeTempDir({ prefix: "stowage-cat-" });
    try {
      const tmp = tempPath(dir, "cat");
      out.startTransfer(name, size ?? undefined);
      try {
        await store.get(name, tmp, size === null ? {} : { size });
      } finally {
        out.endTransfer(name);
        out.finish();
      }
      using file = await Deno.open(tmp, { read: true });
      const buf = new Uint8Array(1 << 20);
      while (true) {
        const n = await file.read(buf);
        if (n === null) break;
        await write(buf.subarray(0, n));
      }
    } finally {
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    }
    return 0;
  },
};

/** `rcat`: standard input stored as NAME. */
export const rcat: Command = {
  name: "rcat",
  summary: "Store standard input as a file (same as put --name NAME - URL)",
  usage: "stowage rcat URL NAME",
  help: `Standard input is spooled to a temporary file in pieces (never held in
memory), uploaded atomically as NAME, and checked for size. With --json, one
file event and a summary line.`,
  options: {},
  arity: [2, 2],
  run: (ctx) =>
    sendFiles(
      { ...ctx, args: ["-", ctx.args[0]!], flags: { ...ctx.flags, name: ctx.args[1]! } },
      "put",
    ),
};
