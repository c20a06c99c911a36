/**
 * FTP streams benchmark: starts its own vsftpd on 127.0.0.1 (plain and
 * FTPS; tests/servers/vsftpd.ts, needs root) and prints, for each:
 *
 * - reading the last 1 MiB of a 1 GiB stored file (`read` with an offset:
 *   REST + RETR, cut short) vs a `get` of a 1 MiB file: about equal when
 *   ranged reads never move the bytes before the range;
 * - the peak RSS of streaming a 1 GiB `write` (no local file) and a 1 GiB
 *   `read`, each in a fresh process (must stay under 150 MiB). The write
 *   runs twice: from a source that refills one 256 KiB buffer (what the
 *   backend itself holds) and from one that makes a fresh 1 MiB chunk each
 *   time (plus the garbage such a source leaves for Deno's collector; the
 *   file:// backend peaks near 120 MiB on that one too).
 *
 * Usage: deno run -A bench/ftp_ranges.ts
 * (the script runs itself with `--child` for the measured processes)
 *
 * @module
 */

import { join } from "node:path";
import { getBackend } from "../mod.ts";
import { canRunVsftpd, startVsftpd } from "../tests/servers/vsftpd.ts";
import { makeFile, runScript } from "./_util.ts";
import { type ChildResult, measureStreamJob, tailLine } from "./_ranges.ts";

const MiB = 1 << 20;
const REPEAT = 7;

if (Deno.args[0] === "--child") await child(Deno.args.slice(1));
else await main();

/** The parent: servers, files, and one line per figure. */
async function main(): Promise<void> {
  if (!canRunVsftpd()) return;
  const tmp = await Deno.makeTempDir({ prefix: "stowage-bench-ftp-ranges-" });
  try {
    const small = join(tmp, "one-mib");
    await makeFile(small, MiB);
    for (const tls of [false, true]) {
      const server = await startVsftpd({ tls });
      try {
        const url = server.url("ranges");
        const options = tls ? { caFile: server.caFile } : {};
        const label = tls ? "FTPS" : "FTP";
        const reused = await runJob(["write", url, JSON.stringify(options), "reuse"]);
        const write = await runJob(["write", url, JSON.stringify(options)]);
        const times = await runJob(["ranges", url, JSON.stringify(options), small]);
        const read = await runJob(["read", url, JSON.stringify(options)]);
        console.log(`${label}: ${tailLine(times, REPEAT)}`);
        console.log(
          `${label}: peak RSS streaming 1 GiB: write ${reused.peakRssMiB} MiB from a reused buffer (${
            (1024 / reused.seconds!).toFixed(0)
          } MiB/s) / ${write.peakRssMiB} MiB from fresh 1 MiB chunks; read ${read.peakRssMiB} MiB (${
            (1024 / read.seconds!).toFixed(0)
          } MiB/s)`,
        );
      } finally {
        await server.stop();
      }
    }
  } finally {
    await Deno.remove(tmp, { recursive: true }).catch(() => {});
  }
}

/** Run this script as a measured child doing `args`. */
function runJob(args: string[]): Promise<ChildResult> {
  return runScript<ChildResult>(import.meta.url, ["--child", ...args], {
    label: `child ${args[0]}`,
  });
}

/** A measured process: `write URL OPTIONS [reuse]`, `read URL OPTIONS`, or `ranges URL OPTIONS LOCAL`. */
async function child([what, url, optionsJson, extra]: string[]): Promise<void> {
  await using store = await getBackend(url!, { maxAttempts: 1, ...JSON.parse(optionsJson!) });
  console.log(JSON.stringify(await measureStreamJob(store, what!, extra, REPEAT)));
}
