/**
 * What `cp` and `sync` share: open both sides, walk sub-folders (`-r`), list
 * and plan every folder, check sync's deletion limits before anything
 * changes, then copy with the engine, delete (sync, only when every copy
 * landed), and print the summary.
 *
 * @module
 */

import { join } from "node:path";
import { BackendError, ErrorCode } from "../core/errors.ts";
import type { GetBackendOptions } from "../registry.ts";
import { type CommandContext, UsageError } from "./context.ts";
import { type CopyJob, type DeleteJob, Engine } from "./engine.ts";
import { algorithmOf } from "./hashing.ts";
import type { Output } from "./output.ts";
import {
  checkSourceFolder,
  type Endpoint,
  endpointOf,
  FolderPair,
  type Listing,
  listLocal,
  listStore,
  type Opener,
  walkLocal,
} from "./places.ts";
import {
  DEFAULT_DELETE_LIMITS,
  deleteRefusal,
  type FolderPlan,
  planFolder,
  refuseDeletes,
} from "./plan.ts";
import { formatBytes } from "./progress.ts";
import { commonOptions, openStore, optionsFor } from "./stores.ts";

/** The flags of commands that move many files. */
export const TRANSFER_FLAGS = {
  transfers: { type: "string" },
  connections: { type: "string" },
  checksum: { type: "boolean" },
  algorithm: { type: "string" },
} as const;

/** The flags of cp and sync. */
export const COPY_FLAGS = {
  ...TRANSFER_FLAGS,
  force: { type: "boolean" },
  "dry-run": { type: "boolean" },
  recursive: { type: "boolean", short: "r" },
} as const;

/** Help lines for {@linkcode TRANSFER_FLAGS}. */
export const TRANSFER_HELP = `  --transfers N     files in flight at once (default 4)
  --connections N   stores opened per side (each its own connection or ssh session), shared
                    by the transfers; default --transfers, at most the CPU cores (at least 2)
  --checksum        verify each file end to end: a checksum computed here of both sides
                    (a stored file is read back through a temporary download)
  --algorithm NAME  md5 (default) or sha256, for --checksum`;

/** `--transfers N` (default 4, 1 to 64). */
export function transfersOf(flag: unknown): number {
  if (flag === undefined) return 4;
  const n = Number(flag);
  if (!Number.isInteger(n) || n < 1 || n > 64) {
    throw new UsageError(`--transfers must be a whole number from 1 to 64, not "${flag}"`);
  }
  return n;
}

/**
 * `--connections N` (1 to 64): the stores each side opens, shared by the
 * transfers in flight. Default: one per transfer, at most one per CPU core
 * (at least 2) — past that, more sessions (for sftp, more ssh processes
 * encrypting) only take turns on the same cores.
 */
export function connectionsOf(flag: unknown, transfers: number): number {
  if (flag === undefined) {
    return Math.min(transfers, Math.max(2, navigator.hardwareConcurrency || 2));
  }
  const n = Number(flag);
  if (!Number.isInteger(n) || n < 1 || n > 64) {
    throw new UsageError(`--connections must be a whole number from 1 to 64, not "${flag}"`);
  }
  return Math.min(n, transfers);
}

function limitOf(flag: unknown, name: string, fallback: number): number {
  if (flag === undefined) return fallback;
  const n = Number(String(flag).replace(/%$/, ""));
  if (!Number.isFinite(n) || n < 0) {
    throw new UsageError(`--${name} must be a number of at least 0, not "${flag}"`);
  }
  return n;
}

/** A fresh engine over a temporary folder; `done()` removes the folder. */
export async function makeEngine(
  ctx: CommandContext,
  op: string,
  checksum: boolean,
): Promise<{ engine: Engine; tmpDir: string; done: () => Promise<void> }> {
  const { flags, storeOptions, out } = ctx;
  // Flags first: a usage error must not leave the temporary folder behind.
  const transfers = transfersOf(flags.transfers);
  const connections = connectionsOf(flags.connections, transfers);
  const algorithm = checksum ? algorithmOf(flags.algorithm) : undefined;
  const tmpDir = await Deno.makeTempDir({ prefix: "stowage-" });
  const engine = new Engine({
    out,
    op,
    transfers,
    connections,
    tmpDir,
    ...(algorithm ? { checksum: algorithm } : {}),
    ...(flags["dry-run"] ? { dryRun: true } : {}),
    ...(storeOptions.signal ? { signal: storeOptions.signal } : {}),
  });
  const done = () => Deno.remove(tmpDir, { recursive: true }).catch(() => {});
  return { engine, tmpDir, done };
}

/** The options for one side's store: only the wrapper's for a plain path; `-o` keys sorted by side. */
export async function sideOptions(
  ep: Endpoint,
  other: Endpoint,
  base: GetBackendOptions,
): Promise<GetBackendOptions> {
  if (ep.plainPath) return commonOptions(base);
  return await optionsFor(ep.url, base, other.plainPath ? [] : [other.url]);
}

/** Print the end of a transfer run: the summary line (or JSON summary). */
export function finishRun(out: Output, command: string, engine: Engine, dryRun: boolean): void {
  const c = engine.counts;
  const seconds = Math.round(out.stats.snapshot().elapsed * 1000) / 1000;
  out.finish();
  if (out.json) {
    out.event({
      type: "summary",
      command,
      done: c.done,
      skipped: c.skipped,
      failed: c.failed,
      deleted: c.deleted,
      bytes: c.bytes,
      seconds,
      dryRun,
      exitCode: engine.exitCode,
    });
  } else if (dryRun) {
    out.result(
      `would ${command === "sync" ? "sync" : "copy"} ${c.done} file(s) (${formatBytes(c.bytes)})` +
        `, skip ${c.skipped}${command === "sync" ? `, delete ${c.deleted}` : ""}`,
    );
  }
}

/** Run `cp` (`sync: false`) or `sync`; returns the exit status. */
export async function runCopy(ctx: CommandContext, sync: boolean): Promise<number> {
  const { args, flags, storeOptions, out } = ctx;
  const [srcArg, dstArg, ...names] = args as [string, string, ...string[]];
  const src = endpointOf(srcArg);
  const dst = endpointOf(dstArg);
  const force = flags.force === true;
  const dryRun = flags["dry-run"] === true;
  const limits = {
    maxFiles: limitOf(flags["max-delete"], "max-delete", DEFAULT_DELETE_LIMITS.maxFiles),
    maxPercent: limitOf(
      flags["max-delete-percent"],
      "max-delete-percent",
      DEFAULT_DELETE_LIMITS.maxPercent,
    ),
  };
  await checkSourceFolder(src);
  const srcOpts = await sideOptions(src, dst, storeOptions);
  const dstOpts = await sideOptions(dst, src, storeOptions);
  const { engine, done } = await makeEngine(ctx, "copy", flags.checksum === true);
  const opener: Opener = async (ep, rel, side) =>
    await openStore(ep.url, side === "src" ? srcOpts : dstOpts, {
      out,
      onProgress: engine.progressFor(rel),
    });
  let pairs: [FolderPair, Set<string> | undefined][] = [];
  try {
    pairs = await folderPairs(src, dst, names, flags.recursive === true, out, opener);
    const plans: [FolderPair, FolderPlan][] = [];
    let deletes = 0;
    let destFiles = 0;
    const keepOpen = transfersOf(flags.transfers);
    for (const [i, [pair, only]] of pairs.entries()) {
      const [plan, count] = await planPair(pair, only, force, flags.checksum === true);
      // The first few folders keep their connections for the copy; the rest reconnect then.
      if (i >= keepOpen) await pair.close();
      plans.push([pair, plan]);
      deletes += plan.extra.length;
      destFiles += count;
      for (const name of only ?? []) {
        if (plan.copy.some(([n]) => n === name) || plan.skip.some(([n]) => n === name)) continue;
        if (plan.compare.some(([n]) => n === name)) continue;
        plan.copy.push([name, -1]);
      }
    }
    if (sync && !force) {
      const why = deleteRefusal(deletes, destFiles, limits);
      if (why) throw refuseDeletes(dst.display, why);
    }
    const jobs: CopyJob[] = [];
    const removals: DeleteJob[] = [];
    for (const [pair, plan] of plans) {
      for (const [name, size] of plan.skip) engine.skipped(pair.key(name), size, "same size");
      for (
        const [name, size, compare] of [
          ...plan.copy.map(([n, s]) => [n, s, false] as const),
          ...plan.compare.map(([n, s]) => [n, s, true] as const),
        ]
      ) {
        jobs.push(jobFor(pair, name, size, compare));
      }
      if (sync && plan.extra.length) {
        for (const name of plan.extra) removals.push({ key: pair.key(name), name, pair });
        pair.acquire(); // the deletions are one more user of the destination
      }
    }
    for (const j of jobs) j.pair.acquire();
    for (const [pair] of plans) if (!pair.inUse) await pair.close();
    await engine.copyAll(jobs);
    if (removals.length) {
      if (engine.counts.failed) {
        out.warn(`not deleting ${removals.length} file(s): ${engine.counts.failed} failed to copy`);
      } else await engine.deleteAll(removals);
    }
    finishRun(out, sync ? "sync" : "cp", engine, dryRun);
    return engine.exitCode;
  } finally {
    for (const [pair] of pairs) await pair.close();
    await done();
  }
}

function jobFor(pair: FolderPair, name: string, size: number | null, compare: boolean): CopyJob {
  const key = pair.key(name);
  const job: CopyJob = { key, name, size: size === -1 ? null : size, pair };
  if (size === -1) {
    job.missing = new BackendError(`Cannot copy "${key}" from "${pair.src.display}": not found`, {
      code: ErrorCode.backend_not_found,
      operation: "copy",
    });
    return job;
  }
  if (compare) job.compare = true;
  if (pair.src.dir) job.srcPath = join(pair.src.dir, name);
  else if (pair.dst.dir) job.dstPath = join(pair.dst.dir, name);
  return job;
}

/** The folder pairs to copy, each with the names asked for in it (undefined: all). */
async function folderPairs(
  src: Endpoint,
  dst: Endpoint,
  names: string[],
  recursive: boolean,
  out: Output,
  open: Opener,
): Promise<[FolderPair, Set<string> | undefined][]> {
  const rels = new Map<string, Set<string> | undefined>();
  if (names.length) {
    for (const n of names) {
      const cut = n.lastIndexOf("/");
      const rel = cut === -1 ? "" : n.slice(0, cut).replace(/^\/+|\/+$/g, "");
      const set = rels.get(rel) ?? new Set<string>();
      set.add(n.slice(cut + 1));
      rels.set(rel, set);
    }
  } else {
    rels.set("", undefined);
    if (recursive && src.dir) {
      for (const rel of await walkLocal(src.dir)) rels.set(rel, undefined);
    } else if (recursive) {
      out.warn(
        `-r: sub-folders of "${src.display}" cannot be discovered (the store lists only ` +
          `file names), so only its top folder is copied; name a sub-folder as its own URL`,
      );
    }
  }
  return [...rels].map(([rel, only]) => [new FolderPair(rel, src, dst, open), only]);
}

/** List both sides of a pair and plan it (with the destination's file count). */
async function planPair(
  pair: FolderPair,
  only: Set<string> | undefined,
  force: boolean,
  checksum: boolean,
): Promise<[FolderPlan, number]> {
  // The destination's names are listed while the source is (its sizes are asked for after).
  const notYet = (err: unknown): string[] => {
    if (err instanceof BackendError && err.code === ErrorCode.backend_not_found) return [];
    throw err;
  };
  const dstNames = pair.dst.dir ? undefined : pair.dstStore().then((s) => s.list()).catch(notYet);
  dstNames?.catch(() => {}); // awaited below; a source failure must not leave it unhandled
  const srcList: Listing = pair.src.dir
    ? await listLocal(pair.src.dir).catch((err) => {
      if (err instanceof Deno.errors.NotFound && only) return new Map();
      throw err;
    })
    : await listStore(await pair.srcStore(), only);
  let dstList: Listing;
  if (pair.dst.dir) {
    dstList = await listLocal(pair.dst.dir).catch((err) => {
      if (err instanceof Deno.errors.NotFound) return new Map();
      throw err;
    });
  } else {
    // A destination folder that does not exist yet holds nothing (puts make it).
    dstList = await listStore(await pair.dstStore(), new Set(srcList.keys()), dstNames).catch(
      (err) => new Map(notYet(err).map((n) => [n, null])),
    );
  }
  const plan = planFolder(srcList, dstList, { force, checksum, ...(only ? { only } : {}) });
  return [plan, dstList.size];
}
