/**
 * SFTP benchmark, against a second sshd this script starts on 127.0.0.1.
 * Every ratio compares runs made side by side in this one run (interleaved,
 * best and median of several): stowage with each engine (`openssh`: the
 * system ssh client as transport; `ssh2`: pure JavaScript) against rclone's
 * sftp backend and the OpenSSH `sftp` client. Printed:
 *
 * - fixed cost: `stowage ls` of a 1-file folder vs `rclone lsf` (target ≤ 1.0×);
 * - `stowage ls` of 10,000 files vs `rclone lsf` (≤ 1.0×);
 * - `stowage put` of 16 MiB vs OpenSSH `sftp -b` (≤ 1.0×);
 * - 1,000 × 4 KiB files one at a time, `stowage cp --transfers 1` vs
 *   `rclone copy --transfers 1` (hash checks off), with stowage's default
 *   fsync and with `fsync=false` (rclone does not flush);
 * - large transfers: put/get of `sizeMiB` vs rclone and OpenSSH sftp, peak RSS;
 * - ranges: reading the last 1 MiB of a 1 GiB stored file vs a get of a
 *   1 MiB file (about equal), and the peak RSS of streaming a 1 GiB write
 *   (< 150 MiB; from a reused buffer, and from fresh 1 MiB chunks) and a
 *   1 GiB read, each in a fresh process (`bench/_ranges.ts`).
 *
 * The CLI figures are whole processes (start-up included), as for the peers.
 *
 * Usage: deno run -A bench/sftp.ts [sizeMiB=256] [runs=3] [engines=openssh,ssh2]
 * (the script runs itself with `--child` for the measured processes)
 *
 * @module
 */

import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { getBackend } from "../mod.ts";
import { startSshd } from "../tests/servers/sftp.ts";
import { run } from "../tests/servers/common.ts";
import {
  makeFile,
  median,
  ONE_AT_A_TIME,
  runScript,
  stowageTransfer,
  timeCommand,
} from "./_util.ts";
import { type ChildResult, measureStreamJob, tailLine } from "./_ranges.ts";

const MiB = 1 << 20;
const REPEAT = 7;

if (Deno.args[0] === "--child") await child(Deno.args.slice(1));
else await main();

/** Wall seconds of one call. */
async function wall(f: () => Promise<unknown>): Promise<number> {
  const t0 = performance.now();
  await f();
  return (performance.now() - t0) / 1000;
}

interface Figure {
  best: number;
  median: number;
}

/** Each contender `n` times, interleaved (so load changes hit all alike): best and median seconds. */
async function race(
  n: number,
  contenders: Record<string, () => Promise<number>>,
): Promise<Record<string, Figure>> {
  const times: Record<string, number[]> = {};
  for (let i = 0; i < n; i++) {
    for (const [k, f] of Object.entries(contenders)) (times[k] ??= []).push(await f());
  }
  const out: Record<string, Figure> = {};
  for (const [k, v] of Object.entries(times)) out[k] = { best: Math.min(...v), median: median(v) };
  return out;
}

function ratio(label: string, ours: Figure, peerName: string, peer: Figure): string {
  return `${label}: stowage ${ours.best.toFixed(3)} s, ${peerName} ${peer.best.toFixed(3)} s, ` +
    `ratio ${(ours.best / peer.best).toFixed(2)}x (best; median ${
      (ours.median / peer.median).toFixed(2)
    }x)`;
}

async function main(): Promise<void> {
  const sizeMiB = Number(Deno.args[0] ?? 256);
  const runs = Number(Deno.args[1] ?? 3);
  const engines = (Deno.args[2] ?? "openssh,ssh2").split(",");
  const srv = await startSshd();
  const work = await Deno.makeTempDir({ prefix: "stowage-bench-sftp-" });
  try {
    const kh = join(work, "known_hosts");
    await Deno.writeTextFile(kh, `${srv.knownHostsLine}\n`);
    const base = `sftp://${srv.user}@127.0.0.1:${srv.port}`;
    const options = {
      identityFile: srv.clientKey,
      knownHostsFile: kh,
      agent: "none",
      sshConfig: "none",
    };
    const cliOpts = (extra: Record<string, string> = {}) =>
      Object.entries({ ...options, ...extra }).flatMap(([k, v]) => ["-o", `${k}=${v}`]);
    const cli = fileURLToPath(new URL("../cli.ts", import.meta.url));
    const stowage = (args: string[]) =>
      timeCommand(Deno.execPath(), ["run", "-A", cli, ...args], { env: { NO_COLOR: "1" } });
    const rcloneEnv = {
      RCLONE_CONFIG: "/dev/null",
      RCLONE_CONFIG_X_TYPE: "sftp",
      RCLONE_CONFIG_X_HOST: "127.0.0.1",
      RCLONE_CONFIG_X_PORT: String(srv.port),
      RCLONE_CONFIG_X_USER: srv.user,
      RCLONE_CONFIG_X_KEY_FILE: srv.clientKey,
      RCLONE_CONFIG_X_KNOWN_HOSTS_FILE: kh,
      // The test user has no shell, so rclone cannot run md5sum/sha1sum remotely.
      RCLONE_CONFIG_X_DISABLE_HASHCHECK: "true",
      PATH: Deno.env.get("PATH") ?? "",
    };
    const rclone = (args: string[]) => timeCommand("rclone", args, { env: rcloneEnv });
    const sftpArgs = [
      "-q",
      "-b",
      "-",
      "-i",
      srv.clientKey,
      "-P",
      String(srv.port),
      "-o",
      `UserKnownHostsFile=${kh}`,
      "-o",
      "StrictHostKeyChecking=yes",
      "-o",
      "BatchMode=yes",
      `${srv.user}@127.0.0.1`,
    ];
    const folder = async (name: string) => {
      await Deno.mkdir(join(srv.root, name), { recursive: true });
      await run("chown", ["-R", `${srv.user}:`, join(srv.root, name)]);
      return join(srv.root, name);
    };
    const emptyFolder = async (name: string) => {
      await Deno.remove(join(srv.root, name), { recursive: true }).catch(() => {});
      return await folder(name);
    };
    console.log(`SFTP benchmark: best of ${runs}+, sshd on 127.0.0.1:${srv.port}`);

    // ---- fixed cost: ls of a 1-file folder ----
    await Deno.writeTextFile(join(await folder("one"), "a.txt"), "a");
    await run("chown", ["-R", `${srv.user}:`, join(srv.root, "one")]);
    const fixedRuns = Math.max(9, runs * 3);
    const ls1: Record<string, () => Promise<number>> = {
      rclone: () => rclone(["lsf", "x:one"]),
    };
    for (const e of engines) {
      ls1[e] = () => stowage(["ls", `${base}/one`, ...cliOpts({ engine: e })]);
    }
    const fixed = await race(fixedRuns, ls1);
    for (const e of engines) {
      console.log(ratio(`[${e}] ls of a 1-file folder`, fixed[e]!, "rclone lsf", fixed.rclone!));
    }

    // ---- 16 MiB put ----
    const src16 = join(work, "src16.bin");
    await makeFile(src16, 16 << 20);
    await folder("p16");
    const p16: Record<string, () => Promise<number>> = {
      "OpenSSH sftp": () => timeCommand("sftp", sftpArgs, { stdin: `put ${src16} p16/ssh.bin\n` }),
    };
    for (const e of engines) {
      p16[e] = () =>
        stowage(["put", "--name", `${e}.bin`, src16, `${base}/p16`, ...cliOpts({ engine: e })]);
    }
    const put16 = await race(Math.max(5, runs * 2), p16);
    for (const e of engines) {
      console.log(ratio(`[${e}] put 16 MiB`, put16[e]!, "OpenSSH sftp", put16["OpenSSH sftp"]!));
    }

    // ---- 1,000 × 4 KiB, one at a time ----
    const small = join(work, "small");
    await Deno.mkdir(small);
    const block = new Uint8Array(4096);
    for (let i = 0; i < 1000; i++) {
      crypto.getRandomValues(block);
      await Deno.writeFile(join(small, `f${String(i).padStart(4, "0")}`), block);
    }
    const manyRuns = Math.max(2, Math.ceil(runs / 2));
    const many: Record<string, () => Promise<number>> = {
      rclone: async () => {
        await emptyFolder("r1000");
        return await rclone(["copy", ...ONE_AT_A_TIME, small, "x:r1000"]);
      },
    };
    for (const e of engines) {
      for (const fsync of ["true", "false"]) {
        many[`${e}/${fsync}`] = async () => {
          await emptyFolder("s1000");
          const args = ["cp", "-q", "--no-progress", "--transfers", "1", small, `${base}/s1000`];
          return await stowage([...args, ...cliOpts({ engine: e, fsync })]);
        };
      }
    }
    const files = await race(manyRuns, many);
    for (const e of engines) {
      for (const fsync of ["true", "false"]) {
        const label = `[${e}] 1,000 × 4 KiB one at a time, fsync=${fsync}${
          fsync === "true" ? " (default)" : " (as rclone)"
        }`;
        console.log(ratio(label, files[`${e}/${fsync}`]!, "rclone --transfers 1", files.rclone!));
      }
    }

    // ---- large transfers ----
    const url = `${base}/bench`;
    await folder("bench");
    const src = join(work, "src.bin");
    await makeFile(src, sizeMiB << 20);
    const dst = join(work, "dst.bin");
    const rss: Record<string, number> = {};
    const big: Record<string, () => Promise<number>> = {
      "rclone put": () => rclone(["copyto", "--ignore-times", src, "x:bench/rclone.bin"]),
      "rclone get": async () => {
        const t = await rclone(["copyto", "x:bench/rclone.bin", dst]);
        await Deno.remove(dst);
        return t;
      },
      "OpenSSH sftp put": () =>
        timeCommand("sftp", sftpArgs, { stdin: `put ${src} bench/openssh.bin\n` }),
      "OpenSSH sftp get": async () => {
        const t = await timeCommand("sftp", sftpArgs, { stdin: `get bench/openssh.bin ${dst}\n` });
        await Deno.remove(dst);
        return t;
      },
    };
    for (const e of engines) {
      const opts = { ...options, engine: e };
      big[`${e} put`] = () =>
        wall(async () => {
          const r = await stowageTransfer("put", url, `${e}.bin`, src, opts);
          rss[`${e} put`] = Math.max(rss[`${e} put`] ?? 0, r.peakRssMiB);
        });
      big[`${e} get`] = async () => {
        const t = await wall(async () => {
          const r = await stowageTransfer("get", url, `${e}.bin`, dst, opts);
          rss[`${e} get`] = Math.max(rss[`${e} get`] ?? 0, r.peakRssMiB);
        });
        await verifySame(src, dst);
        await Deno.remove(dst);
        return t;
      };
    }
    const large = await race(runs, big);
    for (const e of engines) {
      for (const op of ["put", "get"]) {
        const who = `[${e}] ${op} ${sizeMiB} MiB`;
        console.log(ratio(who, large[`${e} ${op}`]!, "rclone", large[`rclone ${op}`]!));
        console.log(ratio(who, large[`${e} ${op}`]!, "OpenSSH sftp", large[`OpenSSH sftp ${op}`]!));
      }
      console.log(
        `[${e}] peak RSS at ${sizeMiB} MiB: put ${rss[`${e} put`]} MiB, get ${rss[`${e} get`]} MiB`,
      );
    }
    await Deno.remove(join(srv.root, "bench"), { recursive: true });
    await Deno.remove(src);

    // ---- ranges and streams, each in a fresh process ----
    await folder("ranges");
    const one = join(work, "one-mib");
    await makeFile(one, MiB);
    const job = (args: string[]) =>
      runScript<ChildResult>(import.meta.url, ["--child", ...args], { label: `child ${args[0]}` });
    for (const e of engines) {
      const opts = JSON.stringify({ ...options, engine: e });
      const reused = await job(["write", `${base}/ranges`, opts, "reuse"]);
      const fresh = await job(["write", `${base}/ranges`, opts]);
      const times = await job(["ranges", `${base}/ranges`, opts, one]);
      const read = await job(["read", `${base}/ranges`, opts]);
      console.log(`[${e}] ${tailLine(times, REPEAT)}`);
      console.log(
        `[${e}] peak RSS streaming 1 GiB: write ${reused.peakRssMiB} MiB from a reused buffer (${
          (1024 / reused.seconds!).toFixed(0)
        } MiB/s) / ${fresh.peakRssMiB} MiB from fresh 1 MiB chunks; read ${read.peakRssMiB} MiB (${
          (1024 / read.seconds!).toFixed(0)
        } MiB/s)`,
      );
    }
    await Deno.remove(join(srv.root, "ranges"), { recursive: true });

    // ---- ls of 10,000 files, made directly on disk ----
    const manyDir = await folder("many");
    const empty = new Uint8Array(0);
    for (let i = 0; i < 10_000; i++) {
      await Deno.writeFile(join(manyDir, `file-${String(i).padStart(5, "0")}`), empty);
    }
    await run("chown", ["-R", `${srv.user}:`, manyDir]);
    const ls10k: Record<string, () => Promise<number>> = {
      rclone: () => rclone(["lsf", "x:many"]),
    };
    for (const e of engines) {
      ls10k[e] = () => stowage(["ls", `${base}/many`, ...cliOpts({ engine: e })]);
    }
    const listed = await race(Math.max(5, runs), ls10k);
    for (const e of engines) {
      console.log(ratio(`[${e}] ls 10,000 files`, listed[e]!, "rclone lsf", listed.rclone!));
    }
  } finally {
    await srv.stop();
    await Deno.remove(work, { recursive: true }).catch(() => {});
  }
}

/** A measured process: `write URL OPTIONS [reuse]`, `read URL OPTIONS`, or `ranges URL OPTIONS LOCAL`. */
async function child([what, url, optionsJson, extra]: string[]): Promise<void> {
  await using store = await getBackend(url!, { maxAttempts: 1, ...JSON.parse(optionsJson!) });
  console.log(JSON.stringify(await measureStreamJob(store, what!, extra, REPEAT)));
}

async function verifySame(a: string, b: string): Promise<void> {
  const [x, y] = await Promise.all([
    run("sha256sum", [a]).then((o) => o.split(" ")[0]),
    run("sha256sum", [b]).then((o) => o.split(" ")[0]),
  ]);
  if (x !== y) throw new Error(`the downloaded file differs from the source (${x} vs ${y})`);
}
