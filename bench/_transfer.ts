/**
 * One transfer in a fresh process, for benchmarks: prints a JSON line with the
 * wall time and the process's peak RSS, so memory can be compared across file
 * sizes without the benchmark driver's own memory in the figure.
 *
 * Usage: deno run -A bench/_transfer.ts put|get|list URL NAME LOCALPATH [OPTIONS_JSON]
 *
 * @module
 */

import { getBackend } from "../mod.ts";
import { peakRssMiB } from "./_ranges.ts";

const [op, url, name, local, optionsJson] = Deno.args;
if (!op || !url) {
  console.error("usage: _transfer.ts put|get|list URL NAME LOCALPATH [OPTIONS_JSON]");
  Deno.exit(2);
}
const options = optionsJson ? JSON.parse(optionsJson) : {};
const store = await getBackend(url, { maxAttempts: 1, ...options });
const t0 = performance.now();
let count: number | undefined;
if (op === "put") await store.put(local!, name!);
else if (op === "get") await store.get(name!, local!);
else if (op === "list") count = (await store.list()).length;
else throw new Error(`unknown operation ${op}`);
const seconds = (performance.now() - t0) / 1000;
await store.close();
console.log(JSON.stringify({ op, seconds, peakRssMiB: peakRssMiB(), count }));
