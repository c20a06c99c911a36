/**
 * `stowage hash URL [NAME...]`: checksums of stored files, computed here
 * (through a temporary download: the stores give sizes, not hashes).
 *
 * @module
 */

import { join } from "node:path";
import { BackendError, ErrorCode, reasonOf } from "../core/errors.ts";
import { eachLimited } from "../core/concurrency.ts";
import type { Command } from "./context.ts";
import { codeOf } from "./engine.ts";
import { transfersOf } from "./copy.ts";
import { algorithmOf, hashFile, hashStored } from "./hashing.ts";
import { endpointOf, listLocal, listStore } from "./places.ts";
import { commonOptions, openStore } from "./stores.ts";

/** `hash`: one `HASH  NAME` line per file (the format of md5sum/sha256sum), or JSON lines. */
export const hash: Command = {
  name: "hash",
  summary: "Print md5 or sha256 checksums of files at a URL (or local folder)",
  usage: "stowage hash [--algorithm md5|sha256] [--transfers N] URL [NAME...]",
  help: `Options:
  --algorithm NAME  md5 (default) or sha256
  --transfers N     files read at once (default 4)
Without NAMEs, every file. Each stored file is downloaded to a temporary file,
hashed and removed. Output is "HASH  NAME" (md5sum -c can check a local copy);
--json prints one {"name", "size", "algorithm", "hash"} line per file.
A missing NAME is reported and the others go on (exit 52).`,
  options: { algorithm: { type: "string" }, transfers: { type: "string" } },
  arity: [1, Infinity],
  async run({ args, flags, storeOptions, out }) {
    const algorithm = algorithmOf(flags.algorithm);
    const transfers = transfersOf(flags.transfers);
    const ep = endpointOf(args[0]!);
    const opts = ep.plainPath ? commonOptions(storeOptions) : storeOptions;
    await using store = await openStore(ep.url, opts, { out });
    const wanted = args.slice(1);
    const listing = ep.dir ? await listLocal(ep.dir) : await listStore(store);
    const names = wanted.length ? wanted : [...listing.keys()].sort();
    const tmp = await Deno.makeTempDir({ prefix: "stowage-hash-" });
    const results = new Map<string, string>();
    let firstCode = 0;
    try {
      await eachLimited(
        names,
        transfers,
        async (name) => {
          try {
            const size = listing.get(name);
            if (size === undefined) {
              throw new BackendError(`Cannot hash "${name}" on "${ep.display}": not found`, {
                code: ErrorCode.backend_not_found,
                operation: "hash",
              });
            }
            results.set(
              name,
              ep.dir
                ? await hashFile(join(ep.dir, name), algorithm)
                : await hashStored(store, name, algorithm, tmp, size),
            );
          } catch (err) {
            if (storeOptions.signal?.aborted) throw err;
            firstCode ||= codeOf(err);
            out.error(reasonOf(err));
          }
        },
        undefined,
        storeOptions.signal,
      );
    } finally {
      await Deno.remove(tmp, { recursive: true }).catch(() => {});
      out.finish();
    }
    for (const name of names) {
      const h = results.get(name);
      if (h === undefined) continue;
      if (out.json) {
        out.event({ name, size: listing.get(name) ?? null, algorithm, hash: h });
      } else out.result(`${h}  ${out.name(name)}`);
    }
    return firstCode;
  },
};
