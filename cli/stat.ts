/**
 * `stowage stat URL NAME...`: sizes of files.
 *
 * @module
 */

import { ErrorCode } from "../core/errors.ts";
import { getBackend } from "../registry.ts";
import type { Command } from "./context.ts";

/** `stat`: one line per name (`size<TAB>name`, or `missing`/`unknown`); exits 52 if any is missing. */
export const stat: Command = {
  name: "stat",
  summary: "Show the size of files at a URL",
  usage: "stowage stat [--json] URL NAME...",
  help: `Options:
  --json   print a JSON object {name: {"size": n}} (-1 missing, null unknown)
Exits with 52 when any name is missing.`,
  options: { json: { type: "boolean" } },
  arity: [2, Infinity],
  async run({ args, flags, storeOptions, out }) {
    await using store = await getBackend(args[0]!, storeOptions);
    const names = args.slice(1);
    const info = await store.queryInfo(names);
    let missing = false;
    if (flags.json) {
      out.result(JSON.stringify(Object.fromEntries(names.map((n) => [n, info[n]]))));
      missing = names.some((n) => info[n]?.size === -1);
    } else {
      for (const n of names) {
        const size = info[n]?.size ?? null;
        if (size === -1) missing = true;
        const shown = size === -1 ? "missing" : size === null ? "unknown" : size;
        out.result(`${shown}\t${out.name(n)}`);
      }
    }
    // One line on stderr for each name that is missing, as for any failed command.
    for (const n of names) {
      if (info[n]?.size === -1) out.error(`Cannot stat "${n}" on "${store.displayUrl}": not found`);
    }
    return missing ? ErrorCode.backend_not_found : 0;
  },
};
