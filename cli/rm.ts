/**
 * `stowage rm URL NAME...`: delete files.
 *
 * @module
 */

import { getBackend } from "../registry.ts";
import type { Command } from "./context.ts";

/** `rm`: delete the named files; a missing name is not an error (as duplicity). */
export const rm: Command = {
  name: "rm",
  summary: "Delete files at a URL",
  usage: "stowage rm URL NAME...",
  help: `Deleting a name that does not exist succeeds.
--json prints one {"type":"file","op":"delete","name",...} line per name and a summary.`,
  options: {},
  arity: [2, Infinity],
  async run({ args, storeOptions, out }) {
    await using store = await getBackend(args[0]!, storeOptions);
    const names = args.slice(1);
    await store.delete(names);
    if (out.json) {
      for (const name of names) out.event({ type: "file", op: "delete", name, status: "done" });
      out.event({ type: "summary", command: "rm", deleted: names.length, exitCode: 0 });
    }
    out.info(`deleted ${names.length} name(s)`);
    return 0;
  },
};
