/**
 * WebDAV streams benchmark: starts its own Apache mod_dav on 127.0.0.1
 * (tests/servers/webdav.ts; needs root and the apache2 package) and prints:
 *
 * - reading the last 1 MiB of a 1 GiB stored file (`read` with an offset:
 *   one GET with a `Range` header) vs a `get` of a 1 MiB file: about equal
 *   when ranged reads never move the bytes before the range;
 * - the peak RSS of streaming a 1 GiB `write` (no local file; PUT of the
 *   stream to a temporary name, then MOVE) and a 1 GiB `read`, each in a
 *   fresh process (must stay under 150 MiB). The write runs three times:
 *   from a source that refills one 256 KiB buffer (what the backend itself
 *   holds), from one that makes a fresh 1 MiB chunk each time (plus the
 *   garbage such a source leaves for Deno's collector), both with the size
 *   given (`Content-Length`), and from fresh chunks without the size
 *   (chunked transfer encoding).
 *
 * Usage: deno run -A bench/webdav_ranges.ts
 * (the script runs itself with `--child` for the measured processes)
 *
 * @module
 */

import { join } from "node:path";
import { getBackend } from "../mod.ts";
import { run } from "../tests/servers/common.ts";
import { davUrl, haveApache, startApache } from "../tests/servers/webdav.ts";
import { makeFile, runScript } from "./_util.ts";
import {
  type ChildResult,
  gigabyte,
  peakRssMiB,
  tailLine,
  timeTailReads,
  timeWholeRead,
} from "./_ranges.ts";

const MiB = 1 << 20;
const GiB = 1024 * MiB;
const REPEAT = 9;

if (Deno.args[0] === "--child") await child(Deno.args.slice(1));
else await main();

/** The parent: the server, the stored files, one line per figure. */
async function main(): Promise<void> {
  if (!haveApache()) return;
  const server = await startApache();
  try {
    const folder = join(server.root, "ranges");
    await Deno.mkdir(folder);
    await makeFile(join(folder, "gib"), GiB);
    await makeFile(join(folder, "mib"), MiB);
    await run("chown", ["-R", "www-data:www-data", folder]);
    const url = davUrl(server, "ranges");
    const times = await runJob(["ranges", url]);
    const reused = await runJob(["write", url, "reuse"]);
    const sized = await runJob(["write", url, "sized"]);
    const chunked = await runJob(["write", url, "chunked"]);
    const read = await runJob(["read", url]);
    console.log(`WebDAV on Apache mod_dav 127.0.0.1:${server.port}`);
    console.log(tailLine(times, REPEAT));
    console.log(
      `peak RSS streaming a 1 GiB write: ${reused.peakRssMiB} MiB from a reused 256 KiB buffer (${
        rate(reused)
      }), ${sized.peakRssMiB} MiB from fresh 1 MiB chunks (${
        rate(sized)
      }), ${chunked.peakRssMiB} MiB from fresh chunks without the size (chunked, ${rate(chunked)})`,
    );
    console.log(`peak RSS streaming a 1 GiB read: ${read.peakRssMiB} MiB (${rate(read)})`);
  } finally {
    await server.stop();
  }
}

function rate(r: ChildResult): string {
  return `${(1024 / r.seconds!).toFixed(0)} MiB/s`;
}

/** Run this script as a measured child doing `args`. */
function runJob(args: string[]): Promise<ChildResult> {
  return runScript<ChildResult>(import.meta.url, ["--child", ...args], {
    label: `child ${args[0]}`,
  });
}

/** One measured job in this process; prints one JSON line. */
async function child([job, url, mode]: string[]): Promise<void> {
  await using store = await getBackend(url!, { maxAttempts: 1 });
  let result: ChildResult;
  if (job === "ranges") {
    const times = await timeTailReads(store, {
      big: "gib",
      bigSize: GiB,
      small: "mib",
      local: await Deno.makeTempFile(),
      rounds: REPEAT,
    });
    result = {
      range: Math.min(...times.tail),
      get: Math.min(...times.get),
      peakRssMiB: peakRssMiB(),
    };
  } else if (job === "write") {
    const t0 = performance.now();
    const source = gigabyte(mode === "reuse");
    await store.write("streamed", source, mode === "chunked" ? {} : { size: GiB });
    result = { seconds: (performance.now() - t0) / 1000, peakRssMiB: peakRssMiB() };
    const size = (await store.queryInfo(["streamed"]))["streamed"]?.size;
    if (size !== GiB) throw new Error(`stored ${size} bytes`);
    await store.delete("streamed");
  } else if (job === "read") {
    result = { seconds: await timeWholeRead(store, "gib", GiB), peakRssMiB: peakRssMiB() };
  } else throw new Error(`unknown job ${job}`);
  console.log(JSON.stringify(result));
}
