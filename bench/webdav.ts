/**
 * WebDAV benchmark: starts its own Apache mod_dav on 127.0.0.1
 * (tests/servers/webdav.ts; needs root and the apache2 package), then
 * compares stowage with rclone's webdav backend (and curl as a
 * single-stream baseline) on the same server:
 *
 * - put and get of one file (default 256 MiB), best of three runs (after a `sync`);
 * - peak RSS of stowage's put and get at that size and at 1 GiB (flat?);
 * - listing a folder of 10,000 files (`list` vs `rclone lsf`);
 * - the per-file cost, one transfer at a time: 1,000 files of 4 KiB put one
 *   after the other with the size check (`put --validate`, as `stowage put`
 *   does) vs `rclone copy --transfers 1` of the same folder (rclone checks
 *   the size of each upload with a PROPFIND; the "other" vendor has no
 *   hashes, so hash checks are off on both sides), on Apache and on
 *   `rclone serve webdav`; each figure is a whole process, best of two.
 *
 * Usage: deno run -A bench/webdav.ts [sizeMiB]
 *        deno run -A bench/webdav.ts small     (only the per-file cost)
 *
 * @module
 */

import { join } from "node:path";
import { run } from "../tests/servers/common.ts";
import {
  type DavServer,
  davUrl,
  haveApache,
  haveRclone,
  startApache,
  startRcloneWebdav,
} from "../tests/servers/webdav.ts";
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
const smallOnly = Deno.args[0] === "small";
const sizeMiB = smallOnly ? 0 : Number(Deno.args[0] ?? 256);
const RUNS = 3;
const SMALL_FILES = 1000;
const SMALL_RUNS = 2;

if (!haveApache() || !haveRclone()) Deno.exit(0);
if (!smallOnly) await bigFiles();
console.log(
  `Per-file cost: ${SMALL_FILES} files of 4 KiB, one at a time, size checked, best of ${SMALL_RUNS}`,
);
const servers = [["Apache mod_dav", startApache], ["rclone serve", startRcloneWebdav]] as const;
for (const [label, start] of servers) {
  const server = await start();
  try {
    await smallFiles(server, label);
  } finally {
    await server.stop();
  }
}

/** The rclone remote `x:` for `server`, as environment variables. */
async function rcloneEnv(server: DavServer, home: string): Promise<Record<string, string>> {
  const obscured = (await run("rclone", ["obscure", server.pass])).trim();
  return {
    RCLONE_CONFIG: "/dev/null",
    RCLONE_CONFIG_X_TYPE: "webdav",
    RCLONE_CONFIG_X_URL: server.baseUrl,
    RCLONE_CONFIG_X_VENDOR: "other",
    RCLONE_CONFIG_X_USER: server.user,
    RCLONE_CONFIG_X_PASS: obscured,
    PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin",
    HOME: home,
  };
}

/**
 * Put a folder of small files one at a time with stowage (a fresh process,
 * `put` with `validate` for each) and with `rclone copy --transfers 1`, each
 * into a new folder on `server`; prints the ratio.
 */
async function smallFiles(server: DavServer, label: string): Promise<void> {
  const tmp = await Deno.makeTempDir({ prefix: "stowage-bench-webdav-small-" });
  try {
    const src = join(tmp, "src");
    await Deno.mkdir(src);
    for (let i = 0; i < SMALL_FILES; i++) {
      const name = `duplicity-full.${String(i).padStart(5, "0")}.vol.difftar.gpg`;
      await Deno.writeFile(join(src, name), crypto.getRandomValues(new Uint8Array(4096)));
    }
    const env = await rcloneEnv(server, tmp);
    const script = `import { getBackend } from ${
      JSON.stringify(new URL("../mod.ts", import.meta.url).href)
    };
      const [url, dir] = Deno.args;
      await using store = await getBackend(url, { maxAttempts: 1 });
      for (const e of [...Deno.readDirSync(dir)].sort((a, b) => a.name < b.name ? -1 : 1)) {
        await store.put(dir + "/" + e.name, e.name, { validate: true });
      }`;
    let ours = Infinity;
    let theirs = Infinity;
    for (let i = 0; i < SMALL_RUNS; i++) {
      const t0 = performance.now();
      const out = await new Deno.Command(Deno.execPath(), {
        args: ["eval", script, davUrl(server, `stowage-${i}`), src],
        stdout: "null",
        stderr: "piped",
      }).output();
      if (!out.success) throw new Error(new TextDecoder().decode(out.stderr).slice(-2000));
      ours = Math.min(ours, (performance.now() - t0) / 1000);
      const t = await timeCommand("rclone", ["copy", ...ONE_AT_A_TIME, src, `x:rclone-${i}`], {
        env,
      });
      theirs = Math.min(theirs, t);
    }
    const each = (s: number) => `${(s * 1000 / SMALL_FILES).toFixed(2)} ms/file`;
    console.log(
      ratioLine(`${label}: ${SMALL_FILES} puts`, ours, "rclone copy --transfers 1", theirs),
      `(${each(ours)} vs ${each(theirs)})`,
    );
  } finally {
    await Deno.remove(tmp, { recursive: true }).catch(() => {});
  }
}

/** Big files, gets, memory and listing on Apache. */
async function bigFiles(): Promise<void> {
  const server = await startApache();
  const tmp = await Deno.makeTempDir({ prefix: "stowage-bench-webdav-" });
  try {
    const url = davUrl(server, "bench");
    const env = await rcloneEnv(server, tmp);
    const rclone = (args: string[]) => timeCommand("rclone", args, { env });
    const curlUrl = (name: string) => `${server.baseUrl}bench/${name}`;
    const curlAuth = `${server.user}:${server.pass}`;
    const remote = join(server.root, "bench");
    // Flush dirty pages before each run, so no run pays for the previous one's write-back.
    const best = bestOf(RUNS, () => run("sync", []));
    const clearRemote = async () => {
      for (const e of Deno.readDirSync(remote)) {
        await Deno.remove(join(remote, e.name), { recursive: true });
      }
    };

    console.log(
      `WebDAV benchmark on Apache mod_dav 127.0.0.1:${server.port}, ${sizeMiB} MiB, best of ${RUNS}`,
    );
    const { src, dst, ...rss } = await comparePutGet({
      sizeMiB,
      url,
      tmp,
      best,
      clearRemote,
      rclone: {
        // Remove rclone's copy before each run: rclone skips a file that is already there.
        put: async (src) => {
          await Deno.remove(join(remote, "big-rclone")).catch(() => {});
          return await rclone(["copyto", src, "x:bench/big-rclone"]);
        },
        get: (dst) => rclone(["copyto", "x:bench/big", dst]),
      },
      curl: curlPeer(["-sSf", "--user", curlAuth], curlUrl),
    });

    // Peak RSS at 1 GiB: memory must stay flat with file size.
    const big = join(tmp, "big.bin");
    await Deno.remove(src);
    await makeFile(big, 1024 * MiB);
    const put1g = await stowageTransfer("put", url, "gib", big);
    await Deno.remove(big);
    const get1g = await stowageTransfer("get", url, "gib", dst);
    await Deno.remove(dst);
    await clearRemote();
    console.log(peakRssLine(sizeMiB, rss, put1g, get1g));

    // Listing 10,000 files, made on disk and owned by www-data like the server's own.
    const many = join(server.root, "many");
    await makeListingFolder(many);
    await run("chown", ["-R", "www-data:www-data", many]);
    await compareListing(
      best,
      () => stowageTransfer("list", davUrl(server, "many")),
      () => rclone(["lsf", "x:many"]),
    );
  } finally {
    await server.stop();
    await Deno.remove(tmp, { recursive: true }).catch(() => {});
  }
}
