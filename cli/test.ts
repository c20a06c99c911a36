/**
 * `stowage test URL`: run the conformance suite against a store.
 *
 * @module
 */

import { runConformance } from "../testing/mod.ts";
import { type Command, UsageError } from "./context.ts";

/** `test`: a per-case report; exits 1 when any case fails. */
export const test: Command = {
  name: "test",
  summary: "Run the conformance suite against a URL (it must be empty, or use --clean)",
  usage: "stowage test [--clean] [--many N] [--only TEXT] URL",
  help: `Options:
  --clean       delete what is at the URL first (otherwise a non-empty location is refused)
  --many N      files in the pagination case (default 1500)
  --only TEXT   run only the cases whose name contains TEXT (repeatable)
Exits 0 when every case passes or is skipped, 1 when any fails.
--json prints one {"type":"case","name","status","ms","reason"?} line per case and a summary.`,
  options: {
    clean: { type: "boolean" },
    many: { type: "string" },
    only: { type: "string", multiple: true },
  },
  arity: [1, 1],
  async run({ args, flags, storeOptions, out }) {
    let many: number | undefined;
    if (flags.many !== undefined) {
      many = Number(flags.many);
      if (!Number.isInteger(many) || many < 1) {
        throw new UsageError(`--many must be a whole number of at least 1, not "${flags.many}"`);
      }
    }
    const report = await runConformance(args[0]!, {
      clean: flags.clean === true,
      ...(many !== undefined ? { manyFiles: many } : {}),
      ...(flags.only ? { only: flags.only as string[] } : {}),
      storeOptions: { maxAttempts: 3, minTimeout: 100, maxTimeout: 2000, ...storeOptions },
      onResult: (r) => {
        if (out.json) {
          out.event({
            type: "case",
            name: r.name,
            status: r.status,
            ms: Math.round(r.ms),
            ...(r.reason ? { reason: r.reason } : {}),
          });
          return;
        }
        const ms = `${Math.round(r.ms)} ms`;
        const why = out.name(r.reason ?? "");
        if (r.status === "passed") out.result(`PASS  ${r.name} (${ms})`);
        else if (r.status === "skipped") out.result(`SKIP  ${r.name}: ${why}`);
        else out.result(`FAIL  ${r.name}: ${why}`);
      },
    });
    if (out.json) {
      const { passed, failed, skipped, url } = report;
      out.event({ type: "summary", command: "test", passed, failed, skipped, url });
    } else {
      out.result(
        `${report.passed} passed, ${report.failed} failed, ${report.skipped} skipped (${report.url})`,
      );
    }
    return report.failed ? 1 : 0;
  },
};
