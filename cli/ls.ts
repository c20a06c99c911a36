/**
 * `stowage ls URL`: list the files in a store.
 *
 * @module
 */

import { getBackend } from "../registry.ts";
import type { Command } from "./context.ts";

/** `ls`: names one per line, `-l` with sizes, `--json` as an array. */
export const ls: Command = {
  name: "ls",
  summary: "List the files at a URL",
  usage: "stowage ls [-l] [-a] [--json] URL",
  help: `Options:
  -l, --long   show each file's size in bytes before its name (-1: vanished)
  -a, --all    also show stowage's temporary upload names (.stowage-tmp-*)
  --json       print a JSON array of {"name", "size"} objects (size only with -l)
Names are printed with control characters escaped (\\n, \\x1b); --json is exact.
Listing a folder that does not exist exits 52 (an empty folder lists nothing).`,
  options: {
    long: { type: "boolean", short: "l" },
    all: { type: "boolean", short: "a" },
    json: { type: "boolean" },
  },
  arity: [1, 1],
  async run({ args, flags, storeOptions, out }) {
    await using store = await getBackend(args[0]!, storeOptions);
    const names = (await store.list({ all: flags.all === true })).sort();
    const sizes = flags.long ? await store.queryInfo(names) : undefined;
    if (flags.json) {
      const rows = names.map((name) =>
        sizes ? { name, size: sizes[name]?.size ?? null } : { name }
      );
      out.result(JSON.stringify(rows));
      return 0;
    }
    if (!sizes) {
      for (const n of names) out.result(out.name(n));
      return 0;
    }
    const width = Math.max(1, ...names.map((n) => String(sizes[n]?.size ?? "?").length));
    for (const n of names) {
      out.result(`${String(sizes[n]?.size ?? "?").padStart(width)}  ${out.name(n)}`);
    }
    return 0;
  },
};
