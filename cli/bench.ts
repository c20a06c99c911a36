/**
 * `stowage bench URL` (like `rclone test speed`): put, list and get
 * throughput at several file sizes and transfer counts, with files written
 * under one marker and deleted at the end.
 *
 * @module
 */

import { join } from "node:path";
import { eachLimited } from "../core/concurrency.ts";
import { parseBytes } from "../core/options.ts";
import { type Command, UsageError } from "./context.ts";
import { formatBytes, formatDuration } from "./progress.ts";
import { openStore } from "./stores.ts";

/** One measured row. */
export interface BenchRow {
  /** File size in bytes. */
  size: number;
  /** Files moved each way. */
  files: number;
  /** Files in flight. */
  transfers: number;
  /** Seconds to put every file. */
  putSeconds: number;
  /** Seconds to list the folder. */
  listSeconds: number;
  /** Seconds to get every file. */
  getSeconds: number;
}

function listOf(flag: unknown, fallback: string, what: string, parse: (s: string) => number) {
  const raw = String(flag ?? fallback);
  return raw.split(",").map((s) => {
    const n = parse(s.trim());
    if (!Number.isFinite(n) || n <= 0) throw new UsageError(`--${what}: "${s}" is not valid`);
    return n;
  });
}

/** Files per row: enough for every transfer slot twice, at most `maxFiles`, about `total` bytes. */
export function filesFor(size: number, total: number, maxTransfers: number, maxFiles: number) {
  return Math.max(2 * maxTransfers, Math.min(maxFiles, Math.floor(total / size)));
}

async function makeFile(path: string, size: number): Promise<void> {
  using f = await Deno.open(path, { write: true, create: true, truncate: true });
  const block = new Uint8Array(Math.min(size, 1 << 20));
  for (let i = 0; i < block.length; i += 65536) {
    crypto.getRandomValues(block.subarray(i, Math.min(i + 65536, block.length)));
  }
  for (let left = size; left > 0;) {
    const n = Math.min(left, block.length);
    let off = 0;
    while (off < n) off += await f.write(block.subarray(off, n));
    left -= n;
  }
}

const rate = (bytes: number, s: number) => (s > 0 ? `${formatBytes(bytes / s)}/s` : "-");

/** `bench`: a table of rows (or `--json` lines). */
export const bench: Command = {
  name: "bench",
  summary: "Measure put/list/get throughput of a URL at several sizes and transfer counts",
  usage: "stowage bench [--sizes LIST] [--transfers LIST] [--total BYTES] [--files N] URL",
  help: `Options:
  --sizes LIST      file sizes (default 4K,1M,16M)
  --transfers LIST  files in flight (default 1,4)
  --total BYTES     about this many bytes per row (default 64M), so small sizes use
                    many files; at least two per transfer slot
  --files N         at most N files per row (default 200)
Files are named bench-MARKER-*, and all are deleted at the end.
--json prints one {"size","files","transfers","putSeconds","listSeconds","getSeconds"}
line per row.`,
  options: {
    sizes: { type: "string" },
    transfers: { type: "string" },
    total: { type: "string" },
    files: { type: "string" },
  },
  arity: [1, 1],
  async run({ args, flags, storeOptions, out }) {
    const sizes = listOf(flags.sizes, "4K,1M,16M", "sizes", (s) => parseBytes(s) ?? NaN);
    const counts = listOf(flags.transfers, "1,4", "transfers", Number);
    const total = listOf(flags.total, "64M", "total", (s) => parseBytes(s) ?? NaN)[0]!;
    const maxFiles = listOf(flags.files, "200", "files", Number)[0]!;
    const options = { ...storeOptions };
    delete options.onProgress;
    await using store = await openStore(args[0]!, options, { out });
    const id = crypto.randomUUID().slice(0, 8);
    const tmp = await Deno.makeTempDir({ prefix: "stowage-bench-" });
    const rows: BenchRow[] = [];
    const signal = storeOptions.signal;
    try {
      if (!out.json) {
        out.result("size       files  transfers  put               list      get");
      }
      for (const size of sizes) {
        const local = join(tmp, "src");
        await makeFile(local, size);
        const files = filesFor(size, total, Math.max(...counts), maxFiles);
        for (const transfers of counts) {
          const names = Array.from({ length: files }, (_, i) => `bench-${id}-${size}-${i}`);
          let t0 = performance.now();
          await eachLimited(names, transfers, (n) => store.put(local, n), undefined, signal);
          const putSeconds = (performance.now() - t0) / 1000;
          t0 = performance.now();
          await store.list();
          const listSeconds = (performance.now() - t0) / 1000;
          t0 = performance.now();
          await eachLimited(
            names,
            transfers,
            async (n, i) => {
              const dest = join(tmp, `get-${i}`);
              await store.get(n, dest, { size });
              await Deno.remove(dest);
            },
            undefined,
            signal,
          );
          const getSeconds = (performance.now() - t0) / 1000;
          await store.delete(names);
          const row = { size, files, transfers, putSeconds, listSeconds, getSeconds };
          rows.push(row);
          const bytes = size * files;
          if (out.json) out.event({ ...row });
          else {
            out.result(
              `${formatBytes(size).padEnd(10)} ${String(files).padStart(5)}  ${
                String(transfers).padStart(9)
              }  ${rate(bytes, putSeconds).padEnd(16)}  ${formatDuration(listSeconds).padEnd(8)}  ${
                rate(bytes, getSeconds)
              }`,
            );
          }
        }
      }
    } finally {
      const left = (await store.list({ all: true }).catch(() => [] as string[]))
        .filter((n) => n.includes(`bench-${id}`));
      if (left.length) await store.delete(left).catch(() => {});
      await Deno.remove(tmp, { recursive: true }).catch(() => {});
    }
    return 0;
  },
};
