/**
 * `stowage cleanup URL`: remove the temporary uploads that killed processes
 * left on a store (and list them first with `--dry-run`).
 *
 * @module
 */

import { parseDuration } from "../core/options.ts";
import { getBackend } from "../registry.ts";
import { type Command, UsageError } from "./context.ts";

/** `cleanup`: delete stale `.stowage-tmp-*` names; one line per name removed. */
export const cleanup: Command = {
  name: "cleanup",
  summary: "Remove stale temporary uploads left by killed processes",
  usage: "stowage cleanup [--dry-run] [--older-than DURATION] URL",
  help: `Options:
  --dry-run              only print what would be removed
  --older-than DURATION  only temporaries made longer ago than this (default 1h; e.g. 30m, 2h)
A temporary upload name carries the time it was made, so a fresh one that another
process is still writing is never removed. Every put also removes stale ones once.
--json prints one {"type":"file","op":"cleanup","name","status"} line per name and a summary.`,
  options: { "dry-run": { type: "boolean" }, "older-than": { type: "string" } },
  arity: [1, 1],
  async run({ args, flags, storeOptions, out }) {
    const raw = flags["older-than"] as string | undefined;
    let olderThan: number | undefined;
    if (raw !== undefined) {
      olderThan = parseDuration(/^\d+(\.\d+)?$/.test(raw) ? `${raw}s` : raw);
      if (olderThan === undefined) {
        throw new UsageError(`--older-than must be a duration such as 30m or 2h, not "${raw}"`);
      }
    }
    await using store = await getBackend(args[0]!, storeOptions);
    const dryRun = flags["dry-run"] === true;
    const names = await store.cleanup({
      dryRun,
      ...(olderThan !== undefined ? { olderThan } : {}),
    });
    for (const n of names) {
      if (out.json) {
        out.event({ type: "file", op: "cleanup", name: n, status: dryRun ? "planned" : "done" });
      } else out.result(`${dryRun ? "would remove" : "removed"} ${out.name(n)}`);
    }
    if (out.json) {
      out.event({
        type: "summary",
        command: "cleanup",
        deleted: names.length,
        dryRun,
        exitCode: 0,
      });
    }
    out.info(`${names.length} stale temporary upload(s) ${dryRun ? "found" : "removed"}`);
    return 0;
  },
};
