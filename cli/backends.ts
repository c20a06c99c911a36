/**
 * `stowage backends`: the schemes and prefixes this build knows, with what
 * each backend can do and the options it takes.
 *
 * @module
 */

import type { BackendCapabilities, BackendClass } from "../core/backend.ts";
import { describeOptions, type OptionDoc } from "../core/options.ts";
import { isHostStyle, ParsedUrl } from "../core/url.ts";
import { backendClassFor, knownPrefixes, knownSchemes, prefixClassFor } from "../registry.ts";
import type { Command } from "./context.ts";

const METHODS = [
  "_deleteList",
  "_query",
  "_queryList",
  "_move",
  "_retryCleanup",
  "_close",
  "_openRead",
  "_openWrite",
] as const;

/** Credential-free sample values for backends that insist on credentials in the constructor. */
const SAMPLE_OPTIONS: Readonly<Record<string, string>> = {
  accountName: "sample",
  sasToken: "sig=sample",
};

/** One row of the listing. */
interface Row {
  scheme: string;
  kind: "scheme" | "prefix";
  class: string;
  description: string;
  methods: string[];
  options: OptionDoc[];
  facts: Partial<BackendCapabilities>;
}

/**
 * The optional methods a class defines, and its declared facts, read from an
 * instance made for a sample URL (constructors do no I/O).
 */
function describe(ctor: BackendClass, scheme: string, kind: Row["kind"]): Row {
  const proto = ctor.prototype as Record<string, unknown>;
  const methods = METHODS.filter((m) => typeof proto[m] === "function").map((m) => m.slice(1));
  const inner = kind === "prefix" ? "memory://sample" : undefined;
  const sample = inner ??
    (isHostStyle(scheme)
      ? `${scheme}://user@host.invalid/folder`
      : `${scheme}://sample-name/folder`);
  const known = ctor.options ?? {};
  const opts = Object.fromEntries(Object.entries(SAMPLE_OPTIONS).filter(([k]) => k in known));
  let facts: Partial<BackendCapabilities> = {};
  try {
    const b = new ctor(new ParsedUrl(sample), opts);
    const { atomicOverwrite, serverSideRename, chunkSize, names } = b.capabilities;
    facts = { atomicOverwrite, serverSideRename, names, ...(chunkSize ? { chunkSize } : {}) };
  } catch {
    facts = {};
  }
  return {
    scheme: kind === "prefix" ? `${scheme}+` : scheme,
    kind,
    class: ctor.name,
    description: ctor.description ?? "",
    methods,
    options: describeOptions(known),
    facts,
  };
}

/** `backends`: one block per scheme and prefix (`-l` adds each option), or `--json`. */
export const backends: Command = {
  name: "backends",
  summary: "List the URL schemes and prefixes, with each backend's capabilities and options",
  usage: "stowage backends [-l] [--json | --markdown] [SCHEME]",
  help: `Options:
  -l, --long   also list each backend's options with their type, default and meaning
  --json       print a JSON array of {"scheme", "kind", "class", "description", "methods",
               "options", ...facts}
  --markdown   print each backend's options as a Markdown table (the README's tables)
With SCHEME (e.g. s3 or par2), only that backend.`,
  options: {
    long: { type: "boolean", short: "l" },
    json: { type: "boolean" },
    markdown: { type: "boolean" },
  },
  arity: [0, 1],
  async run({ args, flags, out }) {
    const only = args[0]?.replace(/\+$/, "").toLowerCase();
    const rows: Row[] = [];
    for (const scheme of knownSchemes()) {
      if (only && scheme !== only) continue;
      const ctor = await backendClassFor(scheme);
      if (ctor) rows.push(describe(ctor, scheme, "scheme"));
    }
    for (const prefix of knownPrefixes()) {
      if (only && prefix !== only) continue;
      const ctor = await prefixClassFor(prefix);
      if (ctor) rows.push(describe(ctor, prefix, "prefix"));
    }
    if (flags.json) {
      out.result(JSON.stringify(rows.map(({ facts, ...r }) => ({ ...r, ...facts }))));
      return 0;
    }
    if (flags.markdown) {
      for (const r of rows) out.result(optionsMarkdown(r));
      return 0;
    }
    for (const r of rows) {
      const caps = [
        r.facts.atomicOverwrite ? "atomic-overwrite" : "",
        r.facts.serverSideRename ? "server-rename" : "",
        r.facts.chunkSize ? `chunk=${r.facts.chunkSize}` : "",
        ...r.methods,
      ].filter(Boolean).join(" ");
      const keys = r.options.map((o) => o.name).join(", ");
      out.result(`${r.scheme.padEnd(10)} ${r.description}`);
      out.result(`${"".padEnd(10)} can: ${caps || "-"}`);
      if (!flags.long) {
        if (keys) out.result(`${"".padEnd(10)} options: ${keys}`);
        continue;
      }
      for (const o of r.options) {
        const dflt = o.default ? ` (default ${o.default})` : "";
        out.result(`${"".padEnd(10)}   ${o.name} — ${o.type}${dflt}: ${o.doc}`);
      }
    }
    return 0;
  },
};

/** One backend's options as a Markdown section body (what the README holds between markers). */
export function optionsMarkdown(r: { scheme: string; options: OptionDoc[] }): string {
  const head = `<!-- options: ${r.scheme} -->`;
  if (!r.options.length) return `${head}\n_No options._\n<!-- /options -->`;
  const cell = (t: string) => t.replaceAll("|", "\\|");
  const lines = [
    head,
    "| option | type | default | meaning |",
    "| --- | --- | --- | --- |",
    ...r.options.map((o) =>
      `| \`${o.name}\` | ${cell(o.type)} | ${o.default ? `\`${cell(o.default)}\`` : ""} | ${
        cell(o.doc)
      } |`
    ),
    "<!-- /options -->",
  ];
  return lines.join("\n");
}
