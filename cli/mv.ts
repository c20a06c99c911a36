/**
 * `stowage mv FILE URL`: move a local file into a store.
 *
 * @module
 */

import { basename } from "node:path";
import { getBackend } from "../core/registry.ts";
import { type Command, UsageError } from "./context.ts";

/** `mv`: move each FILE in (rename where the store allows, else upload then delete the local file). */
export const mv: Command = {
  name: "mv",
  summary: "Move local files into a URL (the local copy is removed)",
  usage: "stowage mv [--name NAME] FILE... URL",
  help: `Options:
  --name NAME  store the file under NAME (only with a single FILE)
The local file is removed only after the store holds the whole file.`,
  options: { name: { type: "string" } },
  arity: [2, Infinity],
  async run({ args, flags, storeOptions, out }) {
    const url = args[args.length - 1]!;
    const files = args.slice(0, -1);
    const name = flags.name as string | undefined;
    if (name !== undefined && files.length !== 1) {
      throw new UsageError("--name needs exactly one FILE");
    }
    await using store = await getBackend(url, storeOptions);
    for (const file of files) {
      const target = name ?? basename(file);
      let size: number | undefined;
      try {
        size = (await Deno.stat(file)).size;
      } catch {
        size = undefined;
      }
      out.startTransfer(target, size);
      try {
        await store.move(file, target);
        if (size !== undefined) await store.validate(target, size);
      } finally {
        out.endTransfer(target);
      }
      out.info(`moved ${file} to "${target}"`);
    }
    return 0;
  },
};
