/**
 * Runs file jobs with `--transfers N` in flight: local → store is a put,
 * store → local a get, store → store a get into a bounded local temporary
 * file (one per transfer in flight, removed at once) and a put from it. A
 * file that still fails after the store's retries is reported and the run
 * goes on; the first failure's code becomes the exit status. Progress,
 * `--json` events and `-v` lines come from here.
 *
 * @module
 */

import { dirname, join } from "node:path";
import { BackendError, errnoCode, ErrorCode, reasonOf } from "../core/errors.ts";
import { eachLimited } from "../core/concurrency.ts";
import type { ProgressEvent } from "../core/wrapper.ts";
import { type Algorithm, hashFile, hashStored, tempPath } from "./hashing.ts";
import type { Output } from "./output.ts";
import type { FolderPair } from "./places.ts";
import { formatBytes, formatDuration } from "./progress.ts";

/** One file to transfer. */
export interface CopyJob {
  /** What it is called in messages and events (`rel/name`). */
  key: string;
  /** Its name in the folder (the store side's name). */
  name: string;
  /** The source size, when known. */
  size: number | null;
  /** The folder pair it belongs to. */
  pair: FolderPair;
  /** The local source file (a local side, `put`, `mv`). */
  srcPath?: string;
  /** The local destination file (a local side, `get`). */
  dstPath?: string;
  /** Move instead of copy (`mv`: the local source goes away). */
  move?: boolean;
  /** Same size on both sides: compare checksums and copy only when they differ. */
  compare?: boolean;
  /** The failure to report instead of copying (a named file the source lacks). */
  missing?: BackendError;
}

/** One file sync deletes. */
export interface DeleteJob {
  /** `rel/name`. */
  key: string;
  /** The name in the destination folder. */
  name: string;
  /** Its folder pair. */
  pair: FolderPair;
}

/** How the engine runs. */
export interface EngineOptions {
  /** Where events and messages go. */
  out: Output;
  /** The verb in events and messages: `copy`, `put`, `get`, `move`. */
  op: string;
  /** Files in flight; default 4. */
  transfers: number;
  /**
   * Stores opened per side and folder (each its own connection or session),
   * shared by the transfers in flight; default `transfers`.
   */
  connections?: number;
  /** Verify each copy end to end with this checksum, computed here on both sides. */
  checksum?: Algorithm;
  /** Only say what would happen. */
  dryRun?: boolean;
  /** Cancels the run (the file in flight is cleaned up; no new one starts). */
  signal?: AbortSignal;
  /** Where temporary files go (one per transfer in flight). */
  tmpDir: string;
}

/** The counts of a run. */
export interface RunCounts {
  /** Files landed (or, with --dry-run, that would land). */
  done: number;
  /** Files already there. */
  skipped: number;
  /** Files that failed (copies and deletions). */
  failed: number;
  /** Files deleted (or that would be). */
  deleted: number;
  /** Bytes of the files landed. */
  bytes: number;
}

/** Runs jobs; see the module doc. */
export class Engine {
  readonly #o: EngineOptions;
  readonly #weights = new Map<string, number>();
  readonly #writing = new Map<string, FolderPair>();
  readonly counts: RunCounts = { done: 0, skipped: 0, failed: 0, deleted: 0, bytes: 0 };
  #firstCode = 0;

  /** An engine writing to `options.out`. */
  constructor(options: EngineOptions) {
    this.#o = options;
  }

  /** The exit status: 0 when everything landed, else the first failure's code. */
  get exitCode(): number {
    return this.#firstCode;
  }

  /** The progress callback for the stores of sub-folder `rel`. */
  progressFor(rel: string): (e: ProgressEvent) => void {
    return (e) => {
      const key = rel ? `${rel}/${e.name}` : e.name;
      if (e.bytes > 0 && e.operation !== "get") this.#writing.get(key)?.writing();
      const weight = this.#weights.get(key);
      if (weight === undefined || weight === 0) return;
      this.#o.out.stats.add(key, e.bytes * weight);
      this.#o.out.tick();
    };
  }

  /** Count files skipped at planning (already there with the same size). */
  skipped(key: string, size: number | null, reason: string): void {
    const { out } = this.#o;
    this.counts.skipped++;
    out.stats.skip();
    if (out.json) {
      out.event({ type: "file", op: this.#o.op, name: key, size, status: "skipped", reason });
    } else if (this.#o.dryRun) out.info(`skip ${out.name(key)} (${reason})`);
    else out.info(`skipped ${out.name(key)} (${reason})`);
  }

  /** Copy every job, `transfers` at a time; failures are reported, not thrown. */
  async copyAll(jobs: CopyJob[]): Promise<void> {
    const { out } = this.#o;
    out.stats.plan(jobs.length, jobs.reduce((n, j) => n + Math.max(0, j.size ?? 0), 0));
    await inLanes(jobs, this.#o.transfers, async (job, lane) => {
      try {
        await this.#copyOne(job, lane);
      } finally {
        await job.pair.release();
      }
    }, this.#o.signal);
    out.tick(true);
  }

  /** Delete each job's file (per folder, 100 names a call); failures are reported. */
  async deleteAll(jobs: DeleteJob[]): Promise<void> {
    const { out } = this.#o;
    const byPair = new Map<FolderPair, DeleteJob[]>();
    for (const j of jobs) byPair.set(j.pair, [...(byPair.get(j.pair) ?? []), j]);
    await eachLimited(
      [...byPair],
      this.#o.transfers,
      async ([pair, list]) => {
        try {
          for (let i = 0; i < list.length; i += 100) {
            const chunk = list.slice(i, i + 100);
            if (this.#o.dryRun) {
              for (const j of chunk) this.#deleted(j, "planned");
              continue;
            }
            try {
              await (await pair.dstStore()).delete(chunk.map((j) => j.name));
              for (const j of chunk) this.#deleted(j, "done");
            } catch (err) {
              if (this.#o.signal?.aborted) throw err;
              for (const j of chunk) this.#failed(j.key, null, "delete", err);
            }
          }
        } finally {
          await pair.release();
        }
      },
      undefined,
      this.#o.signal,
    );
    out.tick(true);
  }

  /** Record a failure that happened outside a job (a folder that cannot be listed). */
  failure(key: string, err: unknown, op = "list"): void {
    this.#failed(key, null, op, err);
  }

  async #copyOne(job: CopyJob, lane: number): Promise<void> {
    const { out } = this.#o;
    const t0 = performance.now();
    const stats = out.stats;
    stats.begin(job.key, out.name(job.key), job.size ?? undefined);
    try {
      if (job.missing) throw job.missing;
      if (job.compare) {
        const [a, b] = await this.#hashes(job, lane);
        if (a === b) {
          stats.plan(-1, -Math.max(0, job.size ?? 0));
          stats.end(job.key, "skipped");
          this.skipped(job.key, job.size, "same checksum");
          return;
        }
      }
      if (this.#o.dryRun) {
        stats.end(job.key, "done");
        this.counts.done++;
        this.counts.bytes += job.size ?? 0;
        if (out.json) {
          out.event({
            type: "file",
            op: this.#o.op,
            name: job.key,
            size: job.size,
            status: "planned",
          });
        } else {
          const size = job.size === null ? "" : ` (${formatBytes(job.size)})`;
          out.result(`would ${this.#o.op} ${out.name(job.key)}${size}`);
        }
        return;
      }
      this.#writing.set(job.key, job.pair);
      // Stores with real folders make one at the first put: that one goes first.
      const gated = !job.dstPath &&
        (await job.pair.dstStore(this.#slot(lane))).backend.capabilities.folders;
      const hash = gated
        ? await job.pair.firstWrite(() => this.#transfer(job, lane))
        : await this.#transfer(job, lane);
      stats.end(job.key, "done");
      this.counts.done++;
      this.counts.bytes += job.size ?? 0;
      const seconds = Math.round(performance.now() - t0) / 1000;
      if (out.json) {
        const event: Record<string, unknown> = {
          type: "file",
          op: this.#o.op,
          name: job.key,
          size: job.size,
          status: "done",
          seconds,
        };
        if (hash) Object.assign(event, { algorithm: this.#o.checksum, hash });
        if (job.srcPath && this.#o.op !== "copy") event.path = job.srcPath;
        if (job.dstPath && this.#o.op !== "copy") event.path = job.dstPath;
        out.event(event);
      } else {
        const size = job.size === null ? "" : `${formatBytes(job.size)}, `;
        const past = { copy: "copied", put: "put", get: "got", move: "moved" }[this.#o.op];
        out.info(`${past ?? this.#o.op} ${out.name(job.key)} (${size}${formatDuration(seconds)})`);
      }
    } catch (err) {
      stats.end(job.key, "failed");
      if (this.#o.signal?.aborted) throw err;
      this.#failed(job.key, job.size, this.#o.op, err);
    } finally {
      this.#weights.delete(job.key);
      this.#writing.delete(job.key);
    }
  }

  /** The store slot of transfer lane `lane`: lanes share `connections` stores. */
  #slot(lane: number): number {
    return lane % Math.max(1, this.#o.connections ?? this.#o.transfers);
  }

  /** Do the transfer; returns the verified checksum with --checksum. */
  async #transfer(job: CopyJob, lane: number): Promise<string | undefined> {
    const { pair, name } = job;
    lane = this.#slot(lane);
    const sized = job.size !== null && job.size >= 0 ? { size: job.size } : {};
    const algo = this.#o.checksum;
    let srcHash: string | undefined;
    if (job.srcPath) {
      this.#weights.set(job.key, 1);
      const dst = await pair.dstStore(lane);
      if (algo) srcHash = await hashFile(job.srcPath, algo);
      if (job.move) await dst.move(job.srcPath, name, { validate: true });
      else await dst.put(job.srcPath, name, { validate: true });
    } else if (job.dstPath) {
      this.#weights.set(job.key, 1);
      await makeLocalFolder(dirname(job.dstPath), name);
      await (await pair.srcStore(lane)).get(name, job.dstPath, sized);
    } else {
      // Store to store: through one temporary file, each leg half the progress.
      this.#weights.set(job.key, 0.5);
      const tmp = tempPath(this.#o.tmpDir, "relay");
      try {
        await (await pair.srcStore(lane)).get(name, tmp, sized);
        if (algo) srcHash = await hashFile(tmp, algo);
        await (await pair.dstStore(lane)).put(tmp, name, { validate: true });
      } finally {
        await Deno.remove(tmp).catch(() => {});
      }
    }
    if (!algo) return undefined;
    this.#weights.set(job.key, 0);
    srcHash ??= await this.#hashSide(job, "src", lane);
    const dstHash = await this.#hashSide(job, "dst", lane);
    if (srcHash !== dstHash) {
      throw new BackendError(
        `Checksum of "${job.key}" differs after the copy: ${algo} ${srcHash} at the source, ${dstHash} at the destination`,
        { code: ErrorCode.backend_validation_failed, operation: "verify" },
      );
    }
    return dstHash;
  }

  async #hashes(job: CopyJob, lane: number): Promise<[string, string]> {
    this.#weights.set(job.key, 0);
    return [await this.#hashSide(job, "src", lane), await this.#hashSide(job, "dst", lane)];
  }

  /** The checksum of one side's copy of the job's file, computed here. */
  async #hashSide(job: CopyJob, side: "src" | "dst", lane: number): Promise<string> {
    const algo = this.#o.checksum ?? "md5";
    const local = side === "src" ? job.srcPath : job.dstPath;
    if (local) return await hashFile(local, algo);
    const ep = side === "src" ? job.pair.src : job.pair.dst;
    if (ep.dir) return await hashFile(join(ep.dir, job.name), algo);
    const slot = this.#slot(lane);
    const store = side === "src" ? await job.pair.srcStore(slot) : await job.pair.dstStore(slot);
    return await hashStored(
      store,
      job.name,
      algo,
      this.#o.tmpDir,
      side === "src" ? job.size : null,
    );
  }

  #deleted(j: DeleteJob, status: "done" | "planned"): void {
    const { out } = this.#o;
    this.counts.deleted++;
    if (out.json) out.event({ type: "file", op: "delete", name: j.key, status });
    else if (status === "planned") out.result(`would delete ${out.name(j.key)}`);
    else out.info(`deleted ${out.name(j.key)}`);
  }

  #failed(key: string, size: number | null, op: string, err: unknown): void {
    const { out } = this.#o;
    const code = codeOf(err);
    this.counts.failed++;
    if (this.#firstCode === 0) this.#firstCode = code;
    const message = reasonOf(err);
    if (out.json) {
      out.event({ type: "file", op, name: key, size, status: "failed", code, error: message });
    }
    out.error(
      message.startsWith("Cannot") || message.startsWith("Checksum")
        ? message
        : `Cannot ${op} "${key}": ${message}`,
    );
  }
}

/**
 * Run `fn` over `items` with `lanes` workers, each passing its lane number
 * (0..lanes-1) so that it can keep its own store. `fn` handles its own
 * failures; a cancel of `signal` stops new items and is thrown.
 */
export async function inLanes<T>(
  items: readonly T[],
  lanes: number,
  fn: (item: T, lane: number) => Promise<void>,
  signal?: AbortSignal,
): Promise<void> {
  let next = 0;
  const worker = async (lane: number) => {
    while (next < items.length) {
      signal?.throwIfAborted();
      await fn(items[next++]!, lane);
    }
  };
  const n = Math.min(Math.max(1, lanes), items.length);
  await Promise.all(Array.from({ length: n }, (_, lane) => worker(lane)));
  signal?.throwIfAborted();
}

/** The exit code for a failure: its own code, an errno mapping, else 50. */
export function codeOf(err: unknown): number {
  if (err instanceof BackendError) return err.code;
  return errnoCode(err) ?? ErrorCode.backend_error;
}

/** Make the local folder a download goes into; a file in the way is code 23 naming it. */
async function makeLocalFolder(folder: string, name: string): Promise<void> {
  try {
    await Deno.mkdir(folder, { recursive: true });
  } catch (err) {
    if (err instanceof Deno.errors.AlreadyExists || err instanceof Deno.errors.NotADirectory) {
      throw new BackendError(
        `Cannot get "${name}" into "${folder}": a file is in the way of that folder`,
        { code: ErrorCode.user_error, operation: "get", cause: err },
      );
    }
    throw err;
  }
}
