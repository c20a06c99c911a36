/**
 * SFTP benchmark: stowage with each engine (`openssh`: the system ssh client
 * as transport; `ssh2`: pure JavaScript) against `rclone copyto` (rclone's
 * sftp backend) and the OpenSSH `sftp` client, on a second sshd this script
 * starts on 127.0.0.1. Prints put/get times and ratios (targets: ≤ 1.0×
 * rclone, ≤ 1.2× OpenSSH), stowage's peak RSS for the main size and for
 * 1 GiB (target < 150 MiB, flat), and a 10,000-file listing against
 * `rclone lsf`.
 *
 * Usage: deno run -A bench/sftp.ts [sizeMiB=256] [runs=2] [engines=openssh,ssh2]
 *
 * @module
 */

import { join } from "node:path";
import { startSshd } from "../tests/servers/sftp.ts";
import { run } from "../tests/servers/common.ts";
import { makeFile, ratioLine, stowageTransfer, timeCommand } from "./_util.ts";

const sizeMiB = Number(Deno.args[0] ?? 256);
const runs = Number(Deno.args[1] ?? 2);
const engines = (Deno.args[2] ?? "openssh,ssh2").split(",");
const srv = await startSshd();
const work = await Deno.makeTempDir({ prefix: "stowage-bench-sftp-" });
try {
  const kh = join(work, "known_hosts");
  await Deno.writeTextFile(kh, `${srv.knownHostsLine}\n`);
  const url = `sftp://${srv.user}@127.0.0.1:${srv.port}/bench`;
  const options = {
    identityFile: srv.clientKey,
    knownHostsFile: kh,
    agent: "none",
    sshConfig: "none",
  };
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
  await Deno.mkdir(join(srv.root, "bench"));
  await run("chown", [`${srv.user}:`, join(srv.root, "bench")]);

  const src = join(work, "src.bin");
  await makeFile(src, sizeMiB << 20);
  const best = async (f: () => Promise<number>) => {
    let t = Infinity;
    for (let i = 0; i < runs; i++) t = Math.min(t, await f());
    return t;
  };
  console.log(`SFTP benchmark: ${sizeMiB} MiB, best of ${runs}, sshd on 127.0.0.1:${srv.port}`);

  // Ratios use wall time of the whole process, as for the peers (start-up included).
  const wall = async (f: () => Promise<unknown>) => {
    const t0 = performance.now();
    await f();
    return (performance.now() - t0) / 1000;
  };
  const dst = join(work, "stowage-dst.bin");
  const ours: Record<string, { put: number; get: number; rssPut: number; rssGet: number }> = {};
  for (const engine of engines) {
    const opts = { ...options, engine };
    let rssPut = 0;
    let rssGet = 0;
    const put = await best(() =>
      wall(async () => {
        const r = await stowageTransfer("put", url, "stowage.bin", src, opts);
        rssPut = Math.max(rssPut, r.peakRssMiB);
      })
    );
    const get = await best(() =>
      wall(async () => {
        const r = await stowageTransfer("get", url, "stowage.bin", dst, opts);
        rssGet = Math.max(rssGet, r.peakRssMiB);
      })
    );
    await verifySame(src, dst);
    await Deno.remove(dst);
    ours[engine] = { put, get, rssPut, rssGet };
  }
  const rclonePut = await best(() =>
    timeCommand("rclone", ["copyto", "--ignore-times", src, "x:bench/rclone.bin"], {
      env: rcloneEnv,
    })
  );
  const rcloneGet = await best(async () => {
    const dst = join(work, "rclone-dst.bin");
    const t = await timeCommand("rclone", ["copyto", "x:bench/rclone.bin", dst], {
      env: rcloneEnv,
    });
    await Deno.remove(dst);
    return t;
  });
  const sshPut = await best(() =>
    timeCommand("sftp", sftpArgs, { stdin: `put ${src} bench/openssh.bin\n` })
  );
  const sshGet = await best(async () => {
    const dst = join(work, "openssh-dst.bin");
    const t = await timeCommand("sftp", sftpArgs, { stdin: `get bench/openssh.bin ${dst}\n` });
    await Deno.remove(dst);
    return t;
  });
  const mbps = (s: number) => ((sizeMiB / s) * 1.048576).toFixed(0);
  console.log(
    `peers: rclone put ${rclonePut.toFixed(2)} s, get ${rcloneGet.toFixed(2)} s; ` +
      `OpenSSH sftp put ${sshPut.toFixed(2)} s, get ${sshGet.toFixed(2)} s`,
  );
  for (const [engine, r] of Object.entries(ours)) {
    const who = `[${engine}] put ${sizeMiB} MiB`;
    console.log(ratioLine(who, r.put, "rclone", rclonePut));
    console.log(ratioLine(who, r.put, "OpenSSH sftp", sshPut));
    const whoGet = `[${engine}] get ${sizeMiB} MiB`;
    console.log(ratioLine(whoGet, r.get, "rclone", rcloneGet));
    console.log(ratioLine(whoGet, r.get, "OpenSSH sftp", sshGet));
    console.log(
      `[${engine}] throughput: put ${mbps(r.put)} MB/s, get ${mbps(r.get)} MB/s; ` +
        `peak RSS at ${sizeMiB} MiB: put ${r.rssPut} MiB, get ${r.rssGet} MiB`,
    );
  }
  for (const f of ["stowage.bin", "rclone.bin", "openssh.bin"]) {
    await Deno.remove(join(srv.root, "bench", f));
  }

  // Memory at 1 GiB: must stay flat.
  await makeFile(src, 1 << 30);
  for (const engine of engines) {
    const opts = { ...options, engine };
    const bigPut = await stowageTransfer("put", url, "big.bin", src, opts);
    const bigDst = join(work, "big-dst.bin");
    const bigGet = await stowageTransfer("get", url, "big.bin", bigDst, opts);
    await Deno.remove(bigDst);
    await Deno.remove(join(srv.root, "bench", "big.bin"));
    console.log(
      `[${engine}] peak RSS at 1024 MiB: put ${bigPut.peakRssMiB} MiB (${
        bigPut.seconds.toFixed(2)
      } s), get ${bigGet.peakRssMiB} MiB (${bigGet.seconds.toFixed(2)} s)`,
    );
  }
  await Deno.remove(src);

  // Listing 10,000 files, made directly on disk.
  const many = join(srv.root, "many");
  await Deno.mkdir(many);
  const empty = new Uint8Array(0);
  for (let i = 0; i < 10_000; i++) {
    await Deno.writeFile(join(many, `file-${String(i).padStart(5, "0")}`), empty);
  }
  await run("chown", ["-R", `${srv.user}:`, many]);
  const manyUrl = `sftp://${srv.user}@127.0.0.1:${srv.port}/many`;
  const rcloneList = await best(() => timeCommand("rclone", ["lsf", "x:many"], { env: rcloneEnv }));
  for (const engine of engines) {
    let count = 0;
    const ourList = await best(() =>
      wall(async () => {
        const r = await stowageTransfer("list", manyUrl, "", "", { ...options, engine });
        count = r.count ?? 0;
      })
    );
    if (count !== 10_000) throw new Error(`stowage listed ${count} files, expected 10000`);
    console.log(ratioLine(`[${engine}] ls 10,000 files`, ourList, "rclone lsf", rcloneList));
  }
} finally {
  await srv.stop();
  await Deno.remove(work, { recursive: true }).catch(() => {});
}

async function verifySame(a: string, b: string): Promise<void> {
  const [x, y] = await Promise.all([
    run("sha256sum", [a]).then((o) => o.split(" ")[0]),
    run("sha256sum", [b]).then((o) => o.split(" ")[0]),
  ]);
  if (x !== y) throw new Error(`the downloaded file differs from the source (${x} vs ${y})`);
}
