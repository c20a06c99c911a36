/**
 * Run the `stowage` command in this process, then print its peak RSS as a
 * JSON line on stderr (the last line), for the benchmarks: the figure is the
 * command's own memory, not the benchmark driver's.
 *
 * Usage: deno run -A bench/cli_run.ts [stowage arguments...]
 *
 * @module
 */

import { main } from "../cli.ts";

const code = await main(Deno.args);
const status = Deno.readTextFileSync("/proc/self/status");
const kb = Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? 0);
console.error(JSON.stringify({ peakRssMiB: Math.round(kb / 102.4) / 10 }));
Deno.exit(code);
