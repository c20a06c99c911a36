/**
 * `stowage put FILE... URL`: upload files, then check their size on the store.
 *
 * @module
 */

import type { Command } from "./context.ts";
import { TRANSFER_FLAGS, TRANSFER_HELP } from "./copy.ts";
import { sendFiles } from "./send.ts";

/** `put`: upload each FILE under its base name (or `--name`), then validate the size. */
export const put: Command = {
  name: "put",
  summary: "Upload local files (or standard input) to a URL",
  usage: "stowage put [--name NAME] FILE... URL\n       stowage put --name NAME - URL",
  help: `Options:
  --name NAME       store the file under NAME (only with a single FILE)
${TRANSFER_HELP}
FILE "-" reads standard input into a temporary file first (the store takes whole
files), then uploads it as NAME. Each upload is atomic (nothing appears under the
name until it is complete) and is checked afterwards: the size on the store must
equal the local size. A file that fails is reported and the others go on.`,
  options: { name: { type: "string" }, ...TRANSFER_FLAGS },
  arity: [2, Infinity],
  run: (ctx) => sendFiles(ctx, "put"),
};
