/**
 * `stowage backends`: the schemes and prefixes this build knows, with what
 * each backend can do.
 *
 * @module
 */

import type { BackendCapabilities, BackendClass } from "../core/backend.ts";
import { backendClassFor, knownPrefixes, knownSchemes, prefixClassFor } from "../registry.ts";
import { isHostStyle, ParsedUrl } from "../core/url.ts";
import type { Command } from "./context.ts";

const METHODS = [
  "_deleteList",
  "_query",
  "_queryList",
  "_move",
  "_retryCleanup",
  "_close",
] as const;

/**
 * The optional methods a class defines, and its declared facts, read from an
 * instance made for a sample URL (constructors do no I/O). Credentials-free
 * dummies let backends that insist on credentials be described too.
 */
function describe(
  ctor: BackendClass,
  scheme: string,
): { methods: string[]; facts: Partial<BackendCapabilities> } {
  const proto = ctor.prototype as Record<string, unknown>;
  const methods = METHODS.filter((m) => typeof proto[m] === "function").map((m) => m.slice(1));
  const sample = isHostStyle(scheme)
    ? `${scheme}://user@host.invalid/folder`
    : `${scheme}://sample-name/folder`;
  let facts: Partial<BackendCapabilities> = {};
  try {
    const b = new ctor(new ParsedUrl(sample), { accountName: "sample", sasToken: "sig=sample" });
    const { atomicOverwrite, serverSideRename, chunkSize, names } = b.capabilities;
    facts = { atomicOverwrite, serverSideRename, names, ...(chunkSize ? { chunkSize } : {}) };
  } catch {
    facts = {};
  }
  return { methods, facts };
}

/** `backends`: one line per scheme and prefix, or `--json`. */
export const backends: Command = {
  name: "backends",
  summary: "List the URL schemes and prefixes, with each backend's capabilities",
  usage: "stowage backends [--json]",
  help: `Options:
  --json   print a JSON array of {"scheme", "kind", "class", "methods", ...facts}`,
  options: { json: { type: "boolean" } },
  arity: [0, 0],
  async run({ flags, out }) {
    const rows: Record<string, unknown>[] = [];
    for (const scheme of knownSchemes()) {
      const ctor = await backendClassFor(scheme);
      if (!ctor) continue;
      const { methods, facts } = describe(ctor, scheme);
      rows.push({ scheme, kind: "scheme", class: ctor.name, methods, ...facts });
    }
    for (const prefix of knownPrefixes()) {
      const ctor = await prefixClassFor(prefix);
      if (!ctor) continue;
      const { methods, facts } = describe(ctor, prefix);
      rows.push({ scheme: `${prefix}+`, kind: "prefix", class: ctor.name, methods, ...facts });
    }
    if (flags.json) {
      out.result(JSON.stringify(rows));
      return 0;
    }
    for (const r of rows) {
      const extra = [
        r.atomicOverwrite ? "atomic-overwrite" : "",
        r.serverSideRename ? "server-rename" : "",
        r.chunkSize ? `chunk=${r.chunkSize}` : "",
        ...(r.methods as string[]),
      ].filter(Boolean).join(" ");
      out.result(`${String(r.scheme).padEnd(10)} ${String(r.class).padEnd(16)} ${extra}`);
    }
    return 0;
  },
};
