/**
 * FTP benchmark: starts its own vsftpd on 127.0.0.1 (tests/servers/vsftpd.ts;
 * needs root and the vsftpd package), then compares stowage with rclone's ftp
 * backend (and curl as a single-stream baseline) on the same server:
 *
 * - put and get of one file (default 256 MiB), best of two runs;
 * - peak RSS of stowage's put and get at that size and at 1 GiB (flat?),
 *   over plain FTP and over FTPS (a second vsftpd with TLS);
 * - listing a folder of 10,000 files (`list` vs `rclone lsf`);
 * - per-file cost: 1,000 files of 4 KiB put one at a time, as whole
 *   processes: `stowage put --transfers 1` (which checks each size after
 *   the put) vs `rclone copy --transfers 1` vs one `curl` reusing its
 *   connection for every `-T`.
 *
 * Usage: deno run -A bench/ftp.ts [sizeMiB]
 *
 * @module
 */

import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { canRunVsftpd, FTP_PASSWORD, FTP_USER, startVsftpd } from "../tests/servers/vsftpd.ts";
import { run } from "../tests/servers/common.ts";
import {
  bestOf,
  compareListing,
  comparePutGet,
  curlPeer,
  makeFile,
  makeListingFolder,
  ONE_AT_A_TIME,
  peakRssLine,
  ratioLine,
  stowageTransfer,
  timeCommand,
} from "./_util.ts";

const MiB = 1 << 20;
const sizeMiB = Number(Deno.args[0] ?? 256);
const RUNS = 3;

if (!canRunVsftpd()) Deno.exit(0);
const server = await startVsftpd();
const tmp = await Deno.makeTempDir({ prefix: "stowage-bench-ftp-" });
try {
  const url = server.url("bench");
  const obscured = (await run("rclone", ["obscure", FTP_PASSWORD])).trim();
  const rcloneEnv = {
    RCLONE_CONFIG: "/dev/null",
    RCLONE_CONFIG_X_TYPE: "ftp",
    RCLONE_CONFIG_X_HOST: "127.0.0.1",
    RCLONE_CONFIG_X_PORT: String(server.port),
    RCLONE_CONFIG_X_USER: FTP_USER,
    RCLONE_CONFIG_X_PASS: obscured,
  };
  const rclone = (args: string[]) => timeCommand("rclone", args, { env: rcloneEnv });
  const curlUrl = (name: string) => `ftp://127.0.0.1:${server.port}/bench/${name}`;
  const curlAuth = `${FTP_USER}:${FTP_PASSWORD}`;
  const remote = join(server.root, "bench");
  const best = bestOf(RUNS);
  // stowageTransfer times the operation inside its process; rclone and curl are
  // timed as whole processes. Keep the whole-process time of ours too.
  const wall: Record<string, number> = {};
  const stowage = async (
    op: "put" | "get" | "list",
    u: string,
    name = "",
    local = "",
    options: Record<string, unknown> = {},
  ) => {
    const t0 = performance.now();
    const r = await stowageTransfer(op, u, name, local, options);
    const w = (performance.now() - t0) / 1000;
    wall[op] = Math.min(wall[op] ?? Infinity, w);
    return r;
  };
  const clearRemote = async () => {
    for (const e of Deno.readDirSync(remote)) await Deno.remove(join(remote, e.name));
  };

  console.log(`FTP benchmark on vsftpd 127.0.0.1:${server.port}, ${sizeMiB} MiB, best of ${RUNS}`);
  const { src, dst, ...rss } = await comparePutGet({
    sizeMiB,
    url,
    tmp,
    best,
    clearRemote,
    transfer: stowage,
    // --ignore-times: otherwise rclone skips a destination of the same size and time.
    rclone: {
      put: (src) => rclone(["copyto", "--ignore-times", src, "x:bench/big-rclone"]),
      get: (dst) => rclone(["copyto", "x:bench/big", dst]),
    },
    curl: curlPeer(["-sS", "--user", curlAuth], curlUrl),
  });

  // FTPS: peak RSS at the same size, on a second vsftpd with TLS.
  const tlsServer = await startVsftpd({ tls: true });
  const tlsRss: { put: number; get: number }[] = [];
  const tlsOptions = { caFile: tlsServer.caFile };
  try {
    const tlsUrl = tlsServer.url("bench");
    const tlsRound = async (local: string) => {
      const put = await stowageTransfer("put", tlsUrl, "big", local, tlsOptions);
      const get = await stowageTransfer("get", tlsUrl, "big", dst, tlsOptions);
      await Deno.remove(dst);
      await Deno.remove(join(tlsServer.root, "bench", "big"));
      tlsRss.push({ put: put.peakRssMiB, get: get.peakRssMiB });
    };
    await tlsRound(src);

    // Peak RSS at 1 GiB: memory must stay flat with file size.
    const big = join(tmp, "big.bin");
    await Deno.remove(src);
    await makeFile(big, 1024 * MiB);
    const put1g = await stowageTransfer("put", url, "gib", big);
    const get1g = await stowageTransfer("get", url, "gib", dst);
    await Deno.remove(dst);
    await clearRemote();
    await tlsRound(big);
    await Deno.remove(big);
    console.log(peakRssLine(sizeMiB, rss, put1g, get1g));
    console.log(
      `FTPS peak RSS: put ${tlsRss[0]!.put} MiB (${sizeMiB} MiB) / ${
        tlsRss[1]!.put
      } MiB (1 GiB); get ${tlsRss[0]!.get} MiB / ${tlsRss[1]!.get} MiB`,
    );
  } finally {
    await tlsServer.stop();
  }

  // Listing 10,000 files, made on disk.
  await makeListingFolder(join(server.root, "many"));
  await compareListing(
    best,
    () => stowage("list", server.url("many")),
    () => rclone(["lsf", "x:many"]),
  );

  // Per-file cost: 1,000 × 4 KiB, one transfer at a time, whole processes.
  const smallDir = join(tmp, "small");
  await Deno.mkdir(smallDir);
  const smallFiles: string[] = [];
  for (let i = 0; i < 1000; i++) {
    const path = join(smallDir, `f${String(i).padStart(4, "0")}`);
    await Deno.writeFile(path, crypto.getRandomValues(new Uint8Array(4096)));
    smallFiles.push(path);
  }
  const cli = fileURLToPath(new URL("../cli.ts", import.meta.url));
  const curlConfig = join(tmp, "curl.cfg");
  await Deno.writeTextFile(
    curlConfig,
    smallFiles.map((f, i) => `upload-file = "${f}"\nurl = "${curlUrl(`s${i}`)}"\n`).join(""),
  );
  const fresh = async (folder: string) => {
    await Deno.remove(join(server.root, folder), { recursive: true }).catch(() => {});
  };
  const smallS = await best(async () => {
    await fresh("small");
    return await timeCommand(Deno.execPath(), [
      "run",
      "-A",
      cli,
      "put",
      "--transfers",
      "1",
      ...smallFiles,
      server.url("small"),
    ]);
  });
  const smallR = await best(async () => {
    await fresh("small-rclone");
    return await rclone(["copy", ...ONE_AT_A_TIME, smallDir, "x:small-rclone"]);
  });
  const smallC = await best(() =>
    timeCommand("curl", ["-sS", "--user", curlAuth, "-K", curlConfig])
  );
  if ([...Deno.readDirSync(join(server.root, "small"))].length !== 1000) {
    throw new Error("stowage did not store the 1,000 files");
  }
  console.log(ratioLine("put 1,000 × 4 KiB, one at a time", smallS, "rclone", smallR));
  console.log(ratioLine("put 1,000 × 4 KiB, one at a time", smallS, "curl", smallC));
  console.log(
    `stowage whole-process times (with Deno start-up, as rclone is timed): put ${
      wall.put!.toFixed(2)
    } s, get ${wall.get!.toFixed(2)} s, list ${wall.list!.toFixed(2)} s`,
  );
} finally {
  await server.stop();
  await Deno.remove(tmp, { recursive: true }).catch(() => {});
}
