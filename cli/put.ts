/**
 * `stowage put FILE... URL`: upload files, then check their size on the store.
 *
 * @module
 */

import type { Command } from "./context.ts";
import { sendFiles } from "./send.ts";

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
  run: (ctx) => sendFiles(ctx, "put"),
};
