/**
 * `deno task bench`: run the comparison scripts in bench/ on local servers
 * and write bench/RESULTS.md (the ratio table) and bench/RESULTS.svg (a
 * small chart of it).
 *
 * - bench/cli_cp.ts: `stowage cp` against `rclone copy --transfers 4` to
 *   sftp://, s3:// and webdav:// (1,000 × 4 KiB and 8 × 64 MiB), with peak
 *   RSS; target ≤ 1.0× rclone and < 200 MiB.
 * - the single-backend scripts (file, sftp, s3, webdav, ftp, azure): their
 *   `label: stowage X s, PEER Y s, ratio Zx` lines, as printed.
 *
 * A script that fails is recorded as failed with its last line; the others
 * still run. Every ratio comes from one run, side by side.
 *
 * Usage: deno run -A bench/cli_results.ts [--rounds N (cp, default 5)] [--only cp|peers] [--size MiB]
 *        [--timeout SECONDS per script, default 1200]
 *
 * @module
 */

import { parseArgs } from "node:util";
import { fileURLToPath } from "node:url";
import { type Bar, ratioChart } from "./cli_chart.ts";
import type { CpCase } from "./cli_cp.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    rounds: { type: "string", default: "5" },
    only: { type: "string" },
    size: { type: "string", default: "256" },
    timeout: { type: "string", default: "1200" },
  },
});
const rounds = String(values.rounds);
/** Rounds for the per-backend scripts (their own medians; they move 256 MiB and 1 GiB files). */
const peerRounds = "3";
const size = String(values.size);
const here = (f: string) => fileURLToPath(new URL(f, import.meta.url));

/** One peer ratio line from a single-backend script. */
interface PeerRow {
  script: string;
  label: string;
  ours: number;
  peer: string;
  theirs: number;
  ratio: number;
}

/** The peer scripts and their arguments (sizes kept moderate so the whole run stays short). */
const PEERS: [string, string[]][] = [
  ["file.ts", [size, peerRounds]],
  ["sftp.ts", [size, "2"]],
  ["s3.ts", [size, peerRounds, "10000"]],
  ["webdav.ts", [size]],
  ["ftp.ts", [size]],
  ["azure.ts", [size, peerRounds, "1024"]],
];

async function runScript(script: string, args: string[]): Promise<{ ok: boolean; out: string }> {
  console.log(`== bench/${script} ${args.join(" ")}`);
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", here(`./${script}`), ...args],
    stdout: "piped",
    stderr: "piped",
    // A script that hangs (a server that never answers) must not hold up the others.
    signal: AbortSignal.timeout(Number(values.timeout) * 1000),
  }).spawn();
  const res = await child.output();
  const out = new TextDecoder().decode(res.stdout);
  const err = new TextDecoder().decode(res.stderr);
  Deno.stdout.writeSync(res.stdout);
  if (!res.success) console.log(err.trim().split("\n").slice(-3).join("\n"));
  return { ok: res.success, out: res.success ? out : `${out}\n${err}` };
}

const RATIO = /^(.*?): stowage ([\d.]+) s, (.+?) ([\d.]+) s, ratio ([\d.]+)x/;

/** The line that says why a script failed: its first error line, without colours or stack. */
function lastLine(text: string): string {
  // deno-lint-ignore no-control-regex -- removing terminal colours
  const lines = text.replace(/\x1b?\[[0-9;]*m/g, "").split("\n").map((l) => l.trim());
  const useful = lines.filter((l) => l && !l.startsWith("at ") && !/^\^+$/.test(l));
  const error = useful.find((l) => /^error|Error:/.test(l));
  return (error ?? useful.at(-1) ?? "").slice(0, 240);
}

const cases: CpCase[] = [];
const peers: PeerRow[] = [];
const failures: [string, string][] = [];
if (values.only !== "peers") {
  const r = await runScript("cli_cp.ts", [rounds]);
  for (const line of r.out.split("\n")) {
    if (line.startsWith("{")) cases.push(JSON.parse(line) as CpCase);
  }
  if (!r.ok) failures.push(["cli_cp.ts", lastLine(r.out)]);
}
if (values.only !== "cp") {
  for (const [script, args] of PEERS) {
    const r = await runScript(script, args);
    for (const line of r.out.split("\n")) {
      const m = RATIO.exec(line);
      if (!m) continue;
      peers.push({
        script,
        label: m[1]!,
        ours: Number(m[2]),
        peer: m[3]!,
        theirs: Number(m[4]),
        ratio: Number(m[5]),
      });
    }
    if (!r.ok) failures.push([script, lastLine(r.out)]);
  }
}

const MiB = 1 << 20;
const fmtSize = (files: number, bytes: number) =>
  `${files.toLocaleString("en")} × ${
    bytes / files >= MiB ? `${bytes / files / MiB} MiB` : `${bytes / files / 1024} KiB`
  }`;
const version = (cmd: string, args: string[]) => {
  try {
    const o = new Deno.Command(cmd, { args, stdout: "piped", stderr: "null" }).outputSync();
    return new TextDecoder().decode(o.stdout).split("\n")[0]!.trim();
  } catch {
    return "not found";
  }
};
const load = Deno.loadavg().map((x) => x.toFixed(1)).join(" ");
const md: string[] = [
  "# Benchmark results",
  "",
  `Written by \`deno task bench\` (bench/cli_results.ts) on ${new Date().toISOString()}; ` +
  `${navigator.hardwareConcurrency} cores, load average ${load} at the end; ` +
  `deno ${Deno.version.deno}, ${version("rclone", ["version"])}. Every ratio is stowage's ` +
  "time over the peer's, measured side by side in this one run (below 1.0: stowage is faster). " +
  "Servers run on 127.0.0.1 (tests/servers/). On a shared 2-core machine other load moves " +
  "a single ratio by about ±0.3 from run to run: read the table as one sample.",
  "",
  "![ratios](RESULTS.svg)",
  "",
];
if (cases.length) {
  md.push(
    "## `stowage cp` against `rclone copy --transfers 4`",
    "",
    `A local folder into an empty folder on each server; each tool a fresh process (start-up ` +
      `included), order alternating, median of ${rounds} rounds. Targets: ratio ≤ 1.0, ` +
      "stowage's peak RSS < 200 MiB. Like for like: rclone's sftp hash check is off " +
      "(`disable_hashcheck`) and stowage's sftp `fsync` is off (rclone does not fsync); both " +
      "decide by size, stowage checks each upload's size on the store afterwards.",
    "",
    "| target | files | stowage | rclone | ratio | peak RSS | |",
    "|---|---|---|---|---|---|---|",
  );
  for (const c of cases) {
    const ok = c.ratio <= 1 && c.peakRssMiB < 200 ? "✓" : "✗";
    md.push(
      `| ${c.target} | ${fmtSize(c.files, c.bytes)} | ${c.stowage.toFixed(2)} s | ${
        c.rclone.toFixed(2)
      } s | **${c.ratio.toFixed(2)}×** | ${c.peakRssMiB} MiB | ${ok} |`,
    );
  }
  md.push("");
}
if (peers.length) {
  md.push(
    "## Single transfers against rclone and the native tools",
    "",
    `From the per-backend scripts (${size} MiB files; see each script's header for its method).`,
    "",
    "| script | case | stowage | peer | ratio |",
    "|---|---|---|---|---|",
  );
  for (const p of peers) {
    md.push(
      `| ${p.script} | ${p.label} | ${p.ours.toFixed(2)} s | ${p.peer} ${p.theirs.toFixed(2)} s | ${
        p.ratio.toFixed(2)
      }× |`,
    );
  }
  md.push("");
}
if (failures.length) {
  md.push("## Scripts that failed", "");
  for (const [s, why] of failures) md.push(`- bench/${s}: \`${why.replace(/`/g, "'")}\``);
  md.push("");
}
const bars: Bar[] = [
  ...cases.map((c) => ({
    label: `cp ${c.target} ${fmtSize(c.files, c.bytes)} vs rclone`,
    ratio: c.ratio,
    target: 1,
  })),
  ...peers.map((p) => ({
    label: `${p.script.replace(".ts", "")}: ${p.label} vs ${p.peer}`.slice(0, 60),
    ratio: p.ratio,
    target: p.peer.startsWith("rclone") ? 1 : 1.2,
  })),
];
await Deno.writeTextFile(here("./RESULTS.md"), md.join("\n"));
await Deno.writeTextFile(here("./RESULTS.svg"), ratioChart(bars, "stowage time / peer time"));
// Formatted as `deno fmt` would, so a format check of the tree stays clean.
await new Deno.Command(Deno.execPath(), { args: ["fmt", "-q", here("./RESULTS.md")] }).output();
console.log(`wrote bench/RESULTS.md and bench/RESULTS.svg (${bars.length} ratios)`);
