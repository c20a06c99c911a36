/**
 * `stowage put FILE... URL`: upload files, then check their size on the store.
 *
 * @module
 */

import { basename } from "node:path";
import { getBackend } from "../core/registry.ts";
import { type Command, UsageError } from "./context.ts";

/** `put`: upload each FILE under its base name (or `--name`), then validate the size. */
export const put: Command = {
  name: "put",
  summary: "Upload local files to a URL",
  usage: "stowage put [--name NAME] FILE... URL",
  help: `Options:
  --name NAME  store the file under NAME (only with a single FILE)
Each upload is atomic (nothing appears under the name until it is complete) and
is checked afterwards: the size on the store must equal the local size.`,
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
        size = undefined; // put() reports the missing file with its own code
      }
      out.startTransfer(target, size);
      const t0 = performance.now();
      try {
        await store.put(file, target);
        if (size !== undefined) await store.validate(target, size);
      } finally {
        out.endTransfer(target);
      }
      out.info(
        `put ${file} as "${target}" (${size ?? "?"} bytes, ${
          ((performance.now() - t0) / 1000).toFixed(2)
        } s)`,
      );
    }
    return 0;
  },
};
