/**
 * s3:// against rclone's s3 backend, both talking to the same s3rver on
 * 127.0.0.1 (started here, stopped at the end): put and get of a large file
 * (default 256 MiB), each tool in a fresh process, median of a few rounds;
 * stowage's peak RSS at the chosen size and at 1 GiB (memory must stay
 * flat); many small files put one at a time (default 1,000 × 4 KiB) with
 * each tool's whole-process CPU time; and a listing of 10,000 objects
 * against `rclone lsf`.
 *
 * Usage: deno run -A bench/s3.ts [sizeMiB=256] [rounds=3] [listCount=10000] [smallCount=1000]
 *
 * Both tools use their defaults (stowage: 16 MiB parts, 4 at once; gets ask
 * for the first 16 MiB, then the rest in 4 equal ranges of at least 16 MiB,
 * 4 bodies at once; rclone: 200 MiB upload cutoff, 5 MiB chunks, 4 at once,
 * 4 download streams above 250 MiB). s3rver itself (Node, writing
 * every part to disk and joining them on completion) bounds both.
 *
 * Small files, like with like: each tool sends every file with a
 * Content-MD5 it computed and an UNSIGNED-PAYLOAD signature and checks the
 * stored size after the upload (stowage: `put` with `validate`, answered
 * from the PutObject's answer; rclone: `copy --transfers 1`, which sends a
 * HeadObject after each PutObject and lists the destination once). CPU is
 * user + system time of the whole process from /usr/bin/time, start-up
 * included. Per request, like for like: rclone with `--s3-no-head` (no
 * HeadObject after each PutObject, trusting the PutObject's answer as
 * stowage does), so both send one PutObject per file.
 *
 * @module
 */

import { join } from "node:path";
import process from "node:process";
import {
  makeFile,
  median,
  ratioLine,
  stowageTransfer,
  timeCommand,
  type TransferResult,
} from "./_util.ts";
import { S3RVER_KEY, s3rverOptions, startS3rver } from "../tests/servers/s3rver.ts";
import { ensureNpmServers } from "../tests/servers/npm_servers.ts";

if (Deno.args[0] === "--puts") await putsChild(Deno.args[1]!, Deno.args[2]!, Deno.args[3]!);

/** Child mode: put every file of `dir` one at a time with `validate`; print wall and CPU seconds. */
async function putsChild(url: string, dir: string, optionsJson: string): Promise<never> {
  const { getBackend } = await import("../mod.ts");
  const store = await getBackend(url, { maxAttempts: 1, ...JSON.parse(optionsJson) });
  const names = [...Deno.readDirSync(dir)].map((e) => e.name).sort();
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  for (const name of names) await store.put(join(dir, name), name, { validate: true });
  const cpu = process.cpuUsage(cpu0);
  const seconds = (performance.now() - t0) / 1000;
  await store.close();
  console.log(JSON.stringify({ seconds, loopCpu: (cpu.user + cpu.system) / 1e6 }));
  Deno.exit(0);
}

const sizeMiB = Number(Deno.args[0] ?? 256);
const rounds = Number(Deno.args[1] ?? 3);
const listCount = Number(Deno.args[2] ?? 10_000);
const smallCount = Number(Deno.args[3] ?? 1000);
const BUCKET = "bench";

if (!await ensureNpmServers()) throw new Error("npm is needed to install the emulator");
const server = await startS3rver([BUCKET]);
const dir = await Deno.makeTempDir({ prefix: "stowage-bench-s3-" });
const options = s3rverOptions(server.endpoint);
const rcloneEnv: Record<string, string> = {
  AWS_CA_BUNDLE: "", // rclone 1.60 fails on the machine's bundle with "unsupported transport"
  RCLONE_CONFIG: "/dev/null",
  RCLONE_CONFIG_S_TYPE: "s3",
  RCLONE_CONFIG_S_PROVIDER: "Other",
  RCLONE_CONFIG_S_ENDPOINT: server.endpoint,
  RCLONE_CONFIG_S_ACCESS_KEY_ID: S3RVER_KEY,
  RCLONE_CONFIG_S_SECRET_ACCESS_KEY: S3RVER_KEY,
  RCLONE_CONFIG_S_FORCE_PATH_STYLE: "true",
};
const rclone = (args: string[]) => timeCommand("rclone", args, { env: rcloneEnv });

/** Run a command under /usr/bin/time: wall and CPU (user + system) seconds, and its output. */
async function cpuTimed(
  cmd: string,
  args: string[],
  env: Record<string, string> = {},
): Promise<{ wall: number; cpu: number; out: string }> {
  const report = await Deno.makeTempFile();
  try {
    const r = await new Deno.Command("/usr/bin/time", {
      args: ["-f", "%e %U %S", "-o", report, cmd, ...args],
      env,
      stdout: "piped",
      stderr: "piped",
    }).output();
    const out = new TextDecoder().decode(r.stdout);
    if (!r.success) {
      throw new Error(`${cmd} failed: ${new TextDecoder().decode(r.stderr).slice(-2000)}`);
    }
    const [wall, user, sys] = (await Deno.readTextFile(report)).trim().split(/\s+/).slice(-3)
      .map(Number);
    return { wall: wall!, cpu: user! + sys!, out };
  } finally {
    await Deno.remove(report);
  }
}

/** Wall time of a stowage transfer process, start-up included (what a user waits for). */
async function timed(
  fn: () => Promise<TransferResult>,
): Promise<{ wall: number; r: TransferResult }> {
  const t0 = performance.now();
  const r = await fn();
  return { wall: (performance.now() - t0) / 1000, r };
}

try {
  console.log(
    `s3:// bench: ${sizeMiB} MiB, ${rounds} rounds, s3rver at ${server.endpoint}, folder ${dir}`,
  );
  const src = join(dir, "src.bin");
  await makeFile(src, sizeMiB * 1024 * 1024);
  const url = `s3://${BUCKET}/stowage`;

  const ourPut: number[] = [];
  const ourPutWall: number[] = [];
  const rcPut: number[] = [];
  const ourGet: number[] = [];
  const ourGetWall: number[] = [];
  const rcGet: number[] = [];
  let rssPut = 0;
  let rssGet = 0;
  for (let i = 0; i < rounds; i++) {
    // Alternate the order so neither tool always runs on a warmer server.
    const runs = [
      async () => {
        const { wall, r } = await timed(() => stowageTransfer("put", url, "big.bin", src, options));
        ourPut.push(r.seconds);
        ourPutWall.push(wall);
        rssPut = Math.max(rssPut, r.peakRssMiB);
      },
      // --no-check-dest: upload every round (rclone skips an unchanged file otherwise).
      async () =>
        rcPut.push(await rclone(["copyto", "--no-check-dest", src, `s:${BUCKET}/rclone/big.bin`])),
    ];
    if (i % 2) runs.reverse();
    for (const run of runs) await run();
    const gets = [
      async () => {
        const out = join(dir, `get-${i}.bin`);
        const { wall, r } = await timed(() => stowageTransfer("get", url, "big.bin", out, options));
        ourGet.push(r.seconds);
        ourGetWall.push(wall);
        rssGet = Math.max(rssGet, r.peakRssMiB);
        const size = (await Deno.stat(out)).size;
        if (size !== sizeMiB * 1024 * 1024) throw new Error(`stowage got ${size} bytes`);
        await Deno.remove(out);
      },
      async () => {
        const out = join(dir, `rcget-${i}.bin`);
        rcGet.push(await rclone(["copyto", `s:${BUCKET}/rclone/big.bin`, out]));
        await Deno.remove(out);
      },
    ];
    if (i % 2) gets.reverse();
    for (const run of gets) await run();
  }
  console.log(
    ratioLine(`put ${sizeMiB} MiB (process wall)`, median(ourPutWall), "rclone", median(rcPut)),
  );
  console.log(
    ratioLine(`get ${sizeMiB} MiB (process wall)`, median(ourGetWall), "rclone", median(rcGet)),
  );
  console.log(
    `  stowage transfer only: put ${median(ourPut).toFixed(2)} s, get ${
      median(ourGet).toFixed(2)
    } s` +
      ` (${(sizeMiB / median(ourPut)).toFixed(0)} / ${
        (sizeMiB / median(ourGet)).toFixed(0)
      } MiB/s)`,
  );
  console.log(`peak RSS at ${sizeMiB} MiB: put ${rssPut} MiB, get ${rssGet} MiB`);

  // Memory at 1 GiB: must be about the same as at the smaller size.
  if (sizeMiB !== 1024) {
    const gib = join(dir, "gib.bin");
    await makeFile(gib, 1024 * 1024 * 1024);
    await Deno.remove(src);
    const put = await stowageTransfer("put", url, "gib.bin", gib, options);
    await Deno.remove(gib);
    const get = await stowageTransfer("get", url, "gib.bin", gib, options);
    await Deno.remove(gib);
    console.log(
      `peak RSS at 1024 MiB: put ${put.peakRssMiB} MiB (${put.seconds.toFixed(2)} s), ` +
        `get ${get.peakRssMiB} MiB (${get.seconds.toFixed(2)} s)`,
    );
  }

  // Many small files, one at a time, each tool in a fresh process under /usr/bin/time.
  const smallDir = join(dir, "small");
  await Deno.mkdir(smallDir);
  const four = new Uint8Array(4096);
  for (let i = 0; i < smallCount; i++) {
    crypto.getRandomValues(four);
    await Deno.writeFile(join(smallDir, `s-${String(i).padStart(6, "0")}`), four);
  }
  const self = new URL(import.meta.url).pathname;
  const small = { ours: [] as number[], oursCpu: [] as number[], loopCpu: [] as number[] };
  const smallRc = { wall: [] as number[], cpu: [] as number[] };
  // rclone without its HeadObject after each PutObject (`--s3-no-head`, trusting the
  // PutObject's answer as stowage does): one request per file on both sides.
  const smallRcPut = { wall: [] as number[], cpu: [] as number[] };
  for (let i = 0; i < rounds; i++) {
    const runs = [
      async () => {
        const r = await cpuTimed(Deno.execPath(), [
          "run",
          "-A",
          self,
          "--puts",
          `s3://${BUCKET}/small-${i}`,
          smallDir,
          JSON.stringify(options),
        ]);
        small.ours.push(r.wall);
        small.oursCpu.push(r.cpu);
        small.loopCpu.push(JSON.parse(r.out.trim().split("\n").pop()!).loopCpu);
      },
      async () => {
        const r = await cpuTimed(
          "rclone",
          ["copy", "--transfers", "1", smallDir, `s:${BUCKET}/rc-small-${i}`],
          rcloneEnv,
        );
        smallRc.wall.push(r.wall);
        smallRc.cpu.push(r.cpu);
      },
      async () => {
        const r = await cpuTimed(
          "rclone",
          ["copy", "--s3-no-head", "--transfers", "1", smallDir, `s:${BUCKET}/rc-put-${i}`],
          rcloneEnv,
        );
        smallRcPut.wall.push(r.wall);
        smallRcPut.cpu.push(r.cpu);
      },
    ];
    if (i % 2) runs.reverse();
    for (const run of runs) await run();
  }
  const [oursCpu, rcCpu, rcPutCpu] = [
    median(small.oursCpu),
    median(smallRc.cpu),
    median(smallRcPut.cpu),
  ];
  console.log(
    ratioLine(
      `${smallCount} × 4 KiB puts one at a time (process wall)`,
      median(small.ours),
      "rclone --transfers 1",
      median(smallRc.wall),
    ),
  );
  // Requests: stowage a PutObject per file and one HeadBucket; rclone a PutObject and a
  // HeadObject per file (with --s3-no-head: the PutObject only), plus a HeadObject of the
  // folder, a listing and a bucket check.
  const perMs = (cpu: number, n: number) => (cpu / n * 1000).toFixed(2);
  console.log(
    `  CPU (whole process, start-up included): stowage ${oursCpu.toFixed(2)} s, rclone ${
      rcCpu.toFixed(2)
    } s; per file ${perMs(oursCpu, smallCount)} vs ${perMs(rcCpu, smallCount)} ms (${
      (oursCpu / rcCpu).toFixed(2)
    }x); stowage's put loop alone ${median(small.loopCpu).toFixed(2)} s`,
  );
  console.log(
    `  CPU per request, one PutObject per file on both sides (rclone --s3-no-head): ` +
      `stowage ${perMs(oursCpu, smallCount + 1)} ms, rclone ${
        perMs(rcPutCpu, smallCount + 3)
      } ms ` +
      `(${
        ((oursCpu / (smallCount + 1)) / (rcPutCpu / (smallCount + 3))).toFixed(2)
      }x; target ≤ 1.0)`,
  );

  // Listing many objects: made with rclone copy of a folder of tiny files.
  const many = join(dir, "many");
  await Deno.mkdir(many);
  for (let i = 0; i < listCount; i++) {
    await Deno.writeTextFile(join(many, `f-${String(i).padStart(6, "0")}`), "x");
  }
  const made = await rclone([
    "copy",
    many,
    `s:${BUCKET}/many`,
    "--transfers",
    "32",
    "--checkers",
    "32",
  ]);
  console.log(`(made ${listCount} objects with rclone copy in ${made.toFixed(1)} s)`);
  const lsOurs: number[] = [];
  const lsWall: number[] = [];
  const lsRc: number[] = [];
  let count = 0;
  for (let i = 0; i < rounds; i++) {
    const runs = [
      async () => {
        const { wall, r } = await timed(() =>
          stowageTransfer("list", `s3://${BUCKET}/many`, "", "", options)
        );
        lsOurs.push(r.seconds);
        lsWall.push(wall);
        count = r.count ?? 0;
      },
      async () => lsRc.push(await rclone(["lsf", `s:${BUCKET}/many`])),
    ];
    // Alternate the order, as above: s3rver's time per page drifts.
    if (i % 2) runs.reverse();
    for (const run of runs) await run();
  }
  if (count !== listCount) {
    throw new Error(`stowage listed ${count} objects, expected ${listCount}`);
  }
  console.log(
    ratioLine(`ls ${listCount} objects (process wall)`, median(lsWall), "rclone lsf", median(lsRc)),
  );
  console.log(
    ratioLine(`ls ${listCount} objects (in-process)`, median(lsOurs), "rclone lsf", median(lsRc)) +
      " (stowage's listing alone against rclone's whole process)",
  );
} finally {
  await server.stop();
  await Deno.remove(dir, { recursive: true });
}
