/**
 * What `put` and `mv` share: send each local file under its base name (or
 * `--name`), with a progress line, then check the size on the store.
 *
 * @module
 */

import { basename } from "node:path";
import { getBackend } from "../core/registry.ts";
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
    let size: number | undefined;
    try {
      size = (await Deno.stat(file)).size;
    } catch {
      size = undefined; // put()/move() report the missing file with its own code
    }
    out.startTransfer(target, size);
    const t0 = performance.now();
    try {
      await (mode === "put" ? store.put(file, target) : store.move(file, target));
      if (size !== undefined) await store.validate(target, size);
    } finally {
      out.endTransfer(target);
    }
    const secs = ((performance.now() - t0) / 1000).toFixed(2);
    out.info(
      `${mode === "put" ? "put" : "moved"} ${file} as "${target}" (${
        size ?? "?"
      } bytes, ${secs} s)`,
    );
  }
  return 0;
}
