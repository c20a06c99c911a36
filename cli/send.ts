/**
 * What `put` and `mv` share: send each local file under its base name (or
 * `--name`), with a progress line, then check the size on the store.
 *
 * @module
 */

import { basename } from "node:path";
import { getBackend } from "../registry.ts";
import { type CommandContext, UsageError } from "./context.ts";

/** Upload (`put`) or move (`move`) each FILE to the URL, the last argument; returns the exit status. */
export async function sendFiles(
  { args, flags, storeOptions, out }: CommandContext,
  mode: "put" | "move",
): Promise<number> {
  const url = args[args.length - 1]!;
  const files = args.slice(0, -1);
  const name = flags.name as string | undefined;
  if (name !== undefined && files.length !== 1) {
    throw new UsageError("--name needs exactly one FILE");
  }
  await using store = await getBackend(url, storeOptions);
  for (const file of files) {
    const target = name ?? basename(file);
    const t0 = performance.now();
    try {
      // The wrapper reads the size once, reports it in the first progress
      // event and checks the stored size after the upload.
      await (mode === "put"
        ? store.put(file, target, { validate: true })
        : store.move(file, target, { validate: true }));
    } finally {
      out.endTransfer(target);
    }
    const secs = ((performance.now() - t0) / 1000).toFixed(2);
    out.info(`${mode === "put" ? "put" : "moved"} ${file} as "${target}" (${secs} s)`);
  }
  return 0;
}
