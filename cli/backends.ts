/**
 * `stowage backends`: the schemes and prefixes this build knows, with what
 * each backend can do.
 *
 * @module
 */

import type { BackendCapabilities, BackendClass } from "../core/backend.ts";
import { backendClassFor, knownPrefixes, knownSchemes, prefixClassFor } from "../core/registry.ts";
import type { Command } from "./context.ts";

const METHODS = [
  "_deleteList",
  "_query",
  "_queryList",
  "_move",
  "_retryCleanup",
  "_close",
] as const;

/** The optional methods a class defines, and its declared facts when they need no options. */
function describe(ctor: BackendClass): { methods: string[]; facts: Partial<BackendCapabilities> } {
  const proto = ctor.prototype as Record<string, unknown>;
  const methods = METHODS.filter((m) => typeof proto[m] === "function").map((m) => m.slice(1));
  let facts: Partial<BackendCapabilities> = {};
  try {
    // Read the declared facts from a bare instance; backends whose facts depend on options throw here.
    const declare = proto["declareCapabilities"] as () => Partial<BackendCapabilities>;
    facts = declare.call(Object.create(ctor.prototype));
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
      const { methods, facts } = describe(ctor);
      rows.push({ scheme, kind: "scheme", class: ctor.name, methods, ...facts });
    }
    for (const prefix of knownPrefixes()) {
      const ctor = await prefixClassFor(prefix);
      if (!ctor) continue;
      const { methods, facts } = describe(ctor);
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
        ...(r.methods as string[]),
      ].filter(Boolean).join(" ");
      out.result(`${String(r.scheme).padEnd(10)} ${String(r.class).padEnd(16)} ${extra}`);
    }
    return 0;
  },
};
