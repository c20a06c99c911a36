/**
 * Helpers for the benchmarks: make a test file without holding it in memory,
 * time a command, run one stowage transfer (or any measured child) in a fresh
 * process, and the measure-and-print steps several benchmarks share.
 *
 * @module
 */

import { basename, join } from "node:path";
import { fileURLToPath } from "node:url";
import { run } from "../tests/servers/common.ts";

/** Result of one timed transfer. */
export interface TransferResult {
  /** Wall time in seconds. */
  seconds: number;
  /** Peak RSS of the process in MiB. */
  peakRssMiB: number;
  /** Files counted, for list. */
  count?: number;
}

/** Write `size` bytes of incompressible data to `path`, 8 MiB at a time. */
export async function makeFile(path: string, size: number): Promise<void> {
  const f = await Deno.open(path, { write: true, create: true, truncate: true });
  try {
    const block = new Uint8Array(8 << 20);
    for (let i = 0; i < block.length; i += 65536) {
      crypto.getRandomValues(block.subarray(i, Math.min(i + 65536, block.length)));
    }
    let left = size;
    let k = 0;
    while (left > 0) {
      const n = Math.min(left, block.length);
      block[0] = k++ & 0xff; // every block differs a little
      let off = 0;
      while (off < n) off += await f.write(block.subarray(off, n));
      left -= n;
    }
  } finally {
    f.close();
  }
}

/**
 * Run the Deno script `script` (a path or a `file:` URL) with `args` in a
 * fresh process and parse the JSON line it prints last; throws with the end
 * of its stderr, after `label` (default: the first argument), when it fails.
 */
export async function runScript<T>(
  script: string | URL,
  args: string[],
  options: { env?: Record<string, string>; label?: string } = {},
): Promise<T> {
  const path = script instanceof URL || script.startsWith("file:") ? fileURLToPath(script) : script;
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", path, ...args],
    env: options.env,
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!out.success) {
    const label = options.label ?? `${basename(path)} ${args[0] ?? ""}`.trim();
    throw new Error(`${label} failed: ${new TextDecoder().decode(out.stderr).slice(-2000)}`);
  }
  const text = new TextDecoder().decode(out.stdout).trim().split("\n").pop() ?? "";
  return JSON.parse(text) as T;
}

/** Run stowage's put/get/list in a fresh process and return its timing and peak RSS. */
export function stowageTransfer(
  op: "put" | "get" | "list",
  url: string,
  name = "",
  local = "",
  options: Record<string, unknown> = {},
  env: Record<string, string> = {},
): Promise<TransferResult> {
  return runScript<TransferResult>(
    new URL("./_transfer.ts", import.meta.url),
    [op, url, name, local, JSON.stringify(options)],
    { env, label: `stowage ${op}` },
  );
}

/** rclone flags for one transfer (and one check) at a time, for the per-file cost. */
export const ONE_AT_A_TIME: readonly string[] = ["--transfers", "1", "--checkers", "1"];

/** Time a command (wall seconds); throws when it fails. */
export async function timeCommand(
  cmd: string,
  args: string[],
  options: { env?: Record<string, string>; stdin?: string } = {},
): Promise<number> {
  const t0 = performance.now();
  await run(cmd, args, options);
  return (performance.now() - t0) / 1000;
}

/** Format a ratio line: `label: 1.23 s vs peer 1.10 s = 1.12x`. */
export function ratioLine(label: string, ours: number, peerName: string, peer: number): string {
  return `${label}: stowage ${ours.toFixed(2)} s, ${peerName} ${peer.toFixed(2)} s, ratio ${
    (ours / peer).toFixed(2)
  }x`;
}

/** The median of `xs` (the upper one of an even count). */
export function median(xs: number[]): number {
  return [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
}

/** Runs a measure and keeps the best (lowest) of its results. */
export type Best = (measure: () => Promise<number>) => Promise<number>;

/** A {@linkcode Best} over `runs` runs, calling `before` (untimed) ahead of each. */
export function bestOf(runs: number, before?: () => Promise<unknown>): Best {
  return async (measure) => {
    let t = Infinity;
    for (let i = 0; i < runs; i++) {
      await before?.();
      t = Math.min(t, await measure());
    }
    return t;
  };
}

/** A peer tool's put and get of one file, each returning wall seconds. */
export interface PeerTransfers {
  /** Store the local file `src` (the same file stowage puts). */
  put(src: string): Promise<number>;
  /** Fetch stowage's stored copy (`big`) into the local file `dst`. */
  get(dst: string): Promise<number>;
}

/**
 * curl as a peer: `curl ARGS -T src URL` to store `big-curl`, `curl ARGS -o
 * dst URL` to fetch `big`, the URLs from `urlOf(name)`.
 */
export function curlPeer(args: string[], urlOf: (name: string) => string): PeerTransfers {
  return {
    put: (src) => timeCommand("curl", [...args, "-T", src, urlOf("big-curl")]),
    get: (dst) => timeCommand("curl", [...args, "-o", dst, urlOf("big")]),
  };
}

/**
 * Make `src.bin` (`sizeMiB` MiB) in `tmp`, put it once with stowage
 * (`transfer`, default {@linkcode stowageTransfer}) to create the folder and
 * warm the page cache, and `clearRemote()`; then put it as `big` and get it
 * back into `dst.bin` with stowage, rclone and curl, best of `best` each
 * (`dst.bin` is removed before every get), print the four ratio lines, and
 * `clearRemote()` and remove `dst.bin` again. Returns both paths and
 * stowage's peak RSS (MiB) over its puts and its gets.
 */
export async function comparePutGet(o: {
  sizeMiB: number;
  url: string;
  tmp: string;
  best: Best;
  clearRemote: () => Promise<void>;
  rclone: PeerTransfers;
  curl: PeerTransfers;
  transfer?: (op: "put" | "get", url: string, name: string, local: string) => Promise<
    TransferResult
  >;
}): Promise<{ src: string; dst: string; putRss: number; getRss: number }> {
  const transfer = o.transfer ?? stowageTransfer;
  const src = join(o.tmp, "src.bin");
  const dst = join(o.tmp, "dst.bin");
  await makeFile(src, o.sizeMiB * 1024 * 1024);
  // A first put creates the folder (and warms the page cache).
  await stowageTransfer("put", o.url, "warm", src);
  await o.clearRemote();

  const clearDst = () => Deno.remove(dst).catch(() => {});
  let rss: number[] = [];
  const putS = await o.best(async () => {
    const r = await transfer("put", o.url, "big", src);
    rss.push(r.peakRssMiB);
    return r.seconds;
  });
  const putRss = Math.max(...rss);
  const putR = await o.best(() => o.rclone.put(src));
  const putC = await o.best(() => o.curl.put(src));
  rss = [];
  const getS = await o.best(async () => {
    await clearDst();
    const r = await transfer("get", o.url, "big", dst);
    rss.push(r.peakRssMiB);
    return r.seconds;
  });
  const getRss = Math.max(...rss);
  const getR = await o.best(async () => {
    await clearDst();
    return await o.rclone.get(dst);
  });
  const getC = await o.best(async () => {
    await clearDst();
    return await o.curl.get(dst);
  });
  const mbs = (s: number) => `${(o.sizeMiB / s).toFixed(0)} MiB/s`;
  console.log(
    ratioLine(`put ${o.sizeMiB} MiB`, putS, "rclone", putR),
    `(${mbs(putS)} vs ${mbs(putR)})`,
  );
  console.log(ratioLine(`put ${o.sizeMiB} MiB`, putS, "curl", putC), `(curl ${mbs(putC)})`);
  console.log(
    ratioLine(`get ${o.sizeMiB} MiB`, getS, "rclone", getR),
    `(${mbs(getS)} vs ${mbs(getR)})`,
  );
  console.log(ratioLine(`get ${o.sizeMiB} MiB`, getS, "curl", getC), `(curl ${mbs(getC)})`);
  await o.clearRemote();
  await clearDst();
  return { src, dst, putRss, getRss };
}

/**
 * The peak RSS line: stowage's put and get at `sizeMiB` (`rss`) and at
 * 1 GiB (`put1g`, `get1g`, with their throughput); flat when they match.
 */
export function peakRssLine(
  sizeMiB: number,
  rss: { putRss: number; getRss: number },
  put1g: TransferResult,
  get1g: TransferResult,
): string {
  return `peak RSS: put ${rss.putRss} MiB (${sizeMiB} MiB) / ${put1g.peakRssMiB} MiB (1 GiB, ${
    (1024 / put1g.seconds).toFixed(0)
  } MiB/s); get ${rss.getRss} MiB / ${get1g.peakRssMiB} MiB (1 GiB, ${
    (1024 / get1g.seconds).toFixed(0)
  } MiB/s)`;
}

/**
 * Make 10,000 one-byte files named like duplicity's volumes in the new
 * folder `dir` (on the server's disk, for a listing benchmark).
 */
export async function makeListingFolder(dir: string): Promise<void> {
  await Deno.mkdir(dir);
  for (let i = 0; i < 10000; i++) {
    await Deno.writeFile(
      join(dir, `duplicity-inc.${String(i).padStart(5, "0")}.vol1.difftar.gpg`),
      new Uint8Array(1),
    );
  }
}

/**
 * Time stowage's listing of the 10,000 files (`list`, which must count them
 * all) against `rclone lsf` (`rcloneLs`), best of `best` each; prints the
 * ratio line.
 */
export async function compareListing(
  best: Best,
  list: () => Promise<TransferResult>,
  rcloneLs: () => Promise<number>,
): Promise<void> {
  let count = 0;
  const lsS = await best(async () => {
    const r = await list();
    count = r.count ?? 0;
    return r.seconds;
  });
  if (count !== 10000) throw new Error(`stowage listed ${count} files, expected 10000`);
  const lsR = await best(rcloneLs);
  console.log(ratioLine("list 10,000 files", lsS, "rclone lsf", lsR));
}
