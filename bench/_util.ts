/**
 * Helpers for the benchmarks: make a test file without holding it in memory,
 * time a command, and run one stowage transfer in a fresh process.
 *
 * @module
 */

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

/** Run stowage's put/get/list in a fresh process and return its timing and peak RSS. */
export async function stowageTransfer(
  op: "put" | "get" | "list",
  url: string,
  name = "",
  local = "",
  options: Record<string, unknown> = {},
  env: Record<string, string> = {},
): Promise<TransferResult> {
  const script = fileURLToPath(new URL("./_transfer.ts", import.meta.url));
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", script, op, url, name, local, JSON.stringify(options)],
    env,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stdout).trim().split("\n").pop() ?? "";
  if (!out.success) {
    throw new Error(`stowage ${op} failed: ${new TextDecoder().decode(out.stderr).slice(-2000)}`);
  }
  return JSON.parse(text) as TransferResult;
}

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
