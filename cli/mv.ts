/**
 * `stowage mv FILE... URL`: move local files into a store.
 *
 * @module
 */

import type { Command } from "./context.ts";
import { TRANSFER_FLAGS, TRANSFER_HELP } from "./copy.ts";
import { sendFiles } from "./send.ts";

/** `mv`: move each FILE in (rename where the store allows, else upload then delete the local file). */
export const mv: Command = {
  name: "mv",
  summary: "Move local files into a URL (the local copy is removed)",
  usage: "stowage mv [--name NAME] FILE... URL",
  help: `Options:
  --name NAME       store the file under NAME (only with a single FILE)
${TRANSFER_HELP}
The local file is removed only after the store holds the whole file.`,
  options: { name: { type: "string" }, ...TRANSFER_FLAGS },
  arity: [2, Infinity],
  run: (ctx) => sendFiles(ctx, "move"),
};
