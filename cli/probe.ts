/**
 * `stowage probe URL` (like `rclone test info`): find out by trying what a
 * store accepts in names, whether it normalises Unicode or folds case, how
 * long a name may be, whether overwrites are atomic, and whether an empty
 * file survives. Everything it writes carries one marker and is deleted at
 * the end.
 *
 * @module
 */

import { reasonOf } from "../core/errors.ts";
import { codeOf } from "./engine.ts";
import { escapeText } from "./escape.ts";
import type { Command } from "./context.ts";
import { transfersOf } from "./copy.ts";
import {
  type CharacterResult,
  checkCase,
  checkCharacters,
  checkLengths,
  checkOverwrite,
  checkUnicode,
  checkZeroByte,
  type LengthResult,
  type NameVerdict,
  type OverwriteResult,
  type ProbeContext,
  sweep,
  type UnicodeResult,
} from "./probe_checks.ts";
import { openStore } from "./stores.ts";

/** The whole report (`--json` prints it as one object). */
export interface ProbeReport {
  /** The store, without secrets. */
  url: string;
  /** Each character at the start, middle and end of a name. */
  characters: CharacterResult[];
  /** NFC and NFD names. */
  unicode: UnicodeResult;
  /** Whether names differing only in case are two files. */
  caseSensitive: boolean | null;
  /** Longest names per character width. */
  maxName: LengthResult[];
  /** The longest name the backend declares, in bytes. */
  declaredMaxBytes: number | null;
  /** Overwrite while reading. */
  overwrite: OverwriteResult;
  /** An empty file. */
  zeroByte: NameVerdict;
  /** Probe names that could not be deleted. */
  leftovers: string[];
  /** Checks that failed outright (the store went away, ...): the rest still ran. */
  errors: { check: string; code: number; error: string }[];
}

function verdictText(v: NameVerdict): string {
  switch (v.status) {
    case "ok":
      return "ok";
    case "mapped":
      return `-> ${escapeText(v.as ?? "?")}`;
    case "refused":
      return `refused (${v.code})`;
    case "rejected":
      return "refused (stowage)";
    default:
      return v.status;
  }
}

function charLabel(c: string): string {
  if (c === " ") return "space";
  const code = c.charCodeAt(0);
  return code < 0x20 || code === 0x7f ? `\\x${code.toString(16).padStart(2, "0")}` : c;
}

/** The human table of a report. */
export function reportLines(r: ProbeReport): string[] {
  const lines = [`Probe of ${r.url}`, "", "Character  start              middle             end"];
  for (const c of r.characters) {
    lines.push(
      `${charLabel(c.char).padEnd(10)} ${verdictText(c.start).padEnd(18)} ${
        verdictText(c.middle).padEnd(18)
      } ${verdictText(c.end)}`,
    );
  }
  const okAll =
    r.characters.filter((c) => [c.start, c.middle, c.end].every((v) => v.status === "ok")).length;
  const uni = (v: NameVerdict) =>
    v.status === "mapped" ? "normalised" : v.status === "ok" ? "kept" : verdictText(v);
  const yesNo = (b: boolean | null, yes: string, no: string) =>
    b === null ? "unknown" : b ? yes : no;
  lines.push(
    "",
    `Characters kept everywhere: ${okAll} of ${r.characters.length}`,
    `Unicode NFC name:           ${uni(r.unicode.nfc)}`,
    `Unicode NFD name:           ${uni(r.unicode.nfd)}`,
    `NFC and NFD spellings:      ${
      yesNo(r.unicode.sameFile, "one file (normalised)", "two files")
    }`,
    `Case:                       ${yesNo(r.caseSensitive, "sensitive", "insensitive")}`,
  );
  for (const m of r.maxName) {
    lines.push(
      `Longest name, ${m.width}-byte chars: ${
        m.atLeast ? "at least " : ""
      }${m.chars} chars, ${m.bytes} bytes`,
    );
  }
  if (r.declaredMaxBytes !== null) {
    lines.push(`Declared longest name:      ${r.declaredMaxBytes} bytes`);
  }
  const o = r.overwrite;
  lines.push(
    `Overwrite:                  ${o.status}${
      o.detail ? ` (${o.detail})` : ""
    }, ${o.reads} read(s) during it; declared ${o.declared ? "atomic" : "not atomic"}`,
    `Zero-byte file:             ${
      verdictText(r.zeroByte) === "ok" ? "kept" : verdictText(r.zeroByte)
    }`,
  );
  for (const e of r.errors) {
    lines.push(`Check failed: ${e.check} (${e.code}): ${escapeText(e.error)}`);
  }
  if (r.leftovers.length) {
    lines.push(
      `Could not delete ${r.leftovers.length} probe file(s): ${
        r.leftovers.slice(0, 5).map((n) => JSON.stringify(n)).join(", ")
      }`,
    );
  }
  return lines;
}

/** `probe`: the table (or `--json`); exits 0, or with the code of the first check that failed. */
export const probe: Command = {
  name: "probe",
  summary: "Find out what a store accepts: characters, Unicode, case, name length, overwrites",
  usage: "stowage probe [--transfers N] URL",
  help: `Writes small files with a unique marker in their names (and one 4 MiB file
twice) to the URL, checks what the store kept, and deletes them all at the end.
Tried: space, each ASCII punctuation and control character at the start, middle and
end of a name; NFC and NFD names; names differing in case; the longest name of
1- to 4-byte characters (up to 2048 bytes); an overwrite while reading (best
effort); an empty file.
Verdicts: ok (kept, reads back), -> X (stored as X), refused (CODE) (the store
said no), refused (stowage) (stowage refuses such a name for this store), lost
(the put succeeded but the name is nowhere), unreadable.
Options:
  --transfers N   names tried at once (default 4)
--json prints the report as one object (fields in docs/CLI.md).`,
  options: { transfers: { type: "string" } },
  arity: [1, 1],
  async run({ args, flags, storeOptions, out }) {
    const transfers = transfersOf(flags.transfers);
    const options = { maxAttempts: 2, minTimeout: 50, maxTimeout: 500, ...storeOptions };
    delete options.onProgress;
    await using store = await openStore(args[0]!, options, { out });
    const tmp = await Deno.makeTempDir({ prefix: "stowage-probe-" });
    const id = crypto.randomUUID().replace(/-/g, "").slice(0, 8);
    const ctx: ProbeContext = { store, id, tmp, transfers };
    const errors: ProbeReport["errors"] = [];
    /** One check; a failure is recorded and the probe goes on with `fallback`. */
    const check = async <T>(name: string, fn: () => Promise<T>, fallback: T): Promise<T> => {
      try {
        return await fn();
      } catch (err) {
        if (storeOptions.signal?.aborted) throw err;
        errors.push({ check: name, code: codeOf(err), error: reasonOf(err) });
        out.warn(`probe: the ${name} check failed: ${reasonOf(err)}`);
        return fallback;
      }
    };
    const none: NameVerdict = { status: "refused", reason: "the check failed" };
    let report: ProbeReport | undefined;
    try {
      out.info(`probing ${store.displayUrl} with marker sp${id}`);
      // One put alone first: it makes the folder, so the parallel puts do not race to.
      const warm = `${tmp}/warm`;
      await Deno.writeTextFile(warm, "stowage probe\n");
      await store.put(warm, `sp${id}-warm`);
      const characters = await check("characters", () => checkCharacters(ctx), []);
      const unicode = await check("unicode", () => checkUnicode(ctx), {
        nfc: none,
        nfd: none,
        sameFile: null,
      });
      const caseSensitive = await check("case", () => checkCase(ctx), null);
      // Free the names before the long searches (some stores slow down with many files).
      await check("sweep", () => sweep(ctx), []);
      const maxName = await check("name length", () => checkLengths(ctx), []);
      const overwrite = await check("overwrite", () => checkOverwrite(ctx), {
        status: "inconclusive" as const,
        reads: 0,
        declared: store.backend.capabilities.atomicOverwrite,
      });
      const zeroByte = await check("zero-byte", () => checkZeroByte(ctx), none);
      report = {
        url: store.displayUrl,
        characters,
        unicode,
        caseSensitive,
        maxName,
        declaredMaxBytes: store.backend.capabilities.names.maxBytes ?? null,
        overwrite,
        zeroByte,
        leftovers: [],
        errors,
      };
    } finally {
      const left = await sweep(ctx).catch(() => ["(the final listing failed)"]);
      if (left.length) out.warn(`could not delete ${left.length} probe file(s)`);
      if (report) report.leftovers = left;
      await Deno.remove(tmp, { recursive: true }).catch(() => {});
    }
    if (out.json) out.result(JSON.stringify(report));
    else for (const line of reportLines(report)) out.result(line);
    return errors[0]?.code ?? 0;
  },
};
