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
  help: "Deleting a name that does not exist succeeds.",
  options: {},
  arity: [2, Infinity],
  async run({ args, storeOptions, out }) {
    await using store = await getBackend(args[0]!, storeOptions);
    const names = args.slice(1);
    await store.delete(names);
    out.info(`deleted ${names.length} name(s)`);
    return 0;
  },
};
