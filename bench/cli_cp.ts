/**
 * `stowage cp` against `rclone copy --transfers 4`, side by side on the same
 * local servers (OpenSSH sftp, s3rver, Apache mod_dav): 1,000 files of 4 KiB
 * and 8 files of 64 MiB from a local folder into an empty folder, each tool
 * a fresh process (start-up included), order alternating, median of the
 * rounds. Prints one JSON line per case with both times, the ratio
 * (target ≤ 1.0) and stowage's peak RSS (target < 200 MiB).
 *
 * Like for like: rclone's sftp hash check (an md5sum over ssh per file) is
 * off, as stowage computes no hash unless --checksum; stowage's sftp fsync
 * is off, as rclone does not fsync; both decide by size.
 *
 * Usage: deno run -A bench/cli_cp.ts [rounds=3] [targets=sftp,sftp-ssh2,s3,s3-cutoff,webdav] [sets=small,big]
 *
 * @module
 */

import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { run } from "../tests/servers/common.ts";
import { startSshd } from "../tests/servers/sftp.ts";
import { S3RVER_KEY, startS3rver } from "../tests/servers/s3rver.ts";
import { ensureNpmServers } from "../tests/servers/npm_servers.ts";
import { davUrl, haveApache, startApache } from "../tests/servers/webdav.ts";
import { makeFile } from "./_util.ts";
import { redactText } from "../cli/output.ts";

const rounds = Number(Deno.args[0] ?? 3);
const targets = (Deno.args[1] ?? "sftp,sftp-ssh2,s3,s3-cutoff,webdav").split(",");
const sets = (Deno.args[2] ?? "small,big").split(",");
const RUNNER = fileURLToPath(new URL("./cli_run.ts", import.meta.url));
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/** One case's result. */
export interface CpCase {
  target: string;
  set: string;
  files: number;
  bytes: number;
  stowage: number;
  rclone: number;
  ratio: number;
  peakRssMiB: number;
}

/** How to reach one server with both tools. */
interface Target {
  name: string;
  stowageUrl: (folder: string) => string;
  stowageArgs: string[];
  rcloneEnv: Record<string, string>;
  rcloneRemote: (folder: string) => string;
  clear: (folder: string) => Promise<void>;
  stop: () => Promise<void>;
}

const PATH = Deno.env.get("PATH") ?? "/usr/bin:/bin";

/** OpenSSH sshd; `engine` picks stowage's SSH transport (default: auto, which is openssh). */
async function sftpTarget(work: string, engine?: string): Promise<Target> {
  const srv = await startSshd();
  const kh = join(work, "known_hosts");
  await Deno.writeTextFile(kh, `${srv.knownHostsLine}\n`);
  return {
    name: engine ? `sftp (engine=${engine})` : "sftp",
    stowageUrl: (f) => `sftp://${srv.user}@127.0.0.1:${srv.port}/${f}`,
    stowageArgs: [
      "-o",
      `knownHostsFile=${kh}`,
      "-o",
      `identityFile=${srv.clientKey}`,
      "-o",
      "agent=none",
      "-o",
      "sshConfig=none",
      // Like for like: rclone does not fsync uploads (stowage's default does).
      "-o",
      "fsync=false",
      ...(engine ? ["-o", `engine=${engine}`] : []),
    ],
    rcloneEnv: {
      RCLONE_CONFIG_X_TYPE: "sftp",
      RCLONE_CONFIG_X_HOST: "127.0.0.1",
      RCLONE_CONFIG_X_PORT: String(srv.port),
      RCLONE_CONFIG_X_USER: srv.user,
      RCLONE_CONFIG_X_KEY_FILE: srv.clientKey,
      RCLONE_CONFIG_X_KNOWN_HOSTS_FILE: kh,
      // The test user has no shell: rclone would run md5sum over ssh per file otherwise.
      RCLONE_CONFIG_X_DISABLE_HASHCHECK: "true",
    },
    rcloneRemote: (f) => `x:${f}`,
    clear: (f) => Deno.remove(join(srv.root, f), { recursive: true }).catch(() => {}),
    stop: () => srv.stop(),
  };
}

/**
 * s3rver; `cutoff` sends files up to 200 MiB in one PUT, as rclone's
 * upload_cutoff does (stowage's default goes multipart above its 16 MiB part
 * size, and s3rver joins parts slowly).
 */
async function s3Target(cutoff: boolean): Promise<Target> {
  if (!await ensureNpmServers()) throw new Error("npm is needed to install s3rver");
  const srv = await startS3rver(["bench"]);
  return {
    name: cutoff ? "s3 (partSize=200M)" : "s3",
    stowageUrl: (f) => `s3://bench/${f}`,
    stowageArgs: [
      ...(cutoff ? ["-o", "partSize=200M"] : []),
      "-o",
      `endpoint=${srv.endpoint}`,
      "-o",
      `accessKeyId=${S3RVER_KEY}`,
      "-o",
      `secretAccessKey=${S3RVER_KEY}`,
      "-o",
      "region=us-east-1",
    ],
    rcloneEnv: {
      AWS_CA_BUNDLE: "", // rclone 1.60 fails on the machine's bundle ("unsupported transport")
      RCLONE_CONFIG_X_TYPE: "s3",
      RCLONE_CONFIG_X_PROVIDER: "Other",
      RCLONE_CONFIG_X_ENDPOINT: srv.endpoint,
      RCLONE_CONFIG_X_ACCESS_KEY_ID: S3RVER_KEY,
      RCLONE_CONFIG_X_SECRET_ACCESS_KEY: S3RVER_KEY,
      RCLONE_CONFIG_X_FORCE_PATH_STYLE: "true",
    },
    rcloneRemote: (f) => `x:bench/${f}`,
    clear: (f) => Deno.remove(join(srv.directory, "bench", f), { recursive: true }).catch(() => {}),
    stop: () => srv.stop(),
  };
}

async function webdavTarget(work: string): Promise<Target> {
  if (!haveApache()) throw new Error("apache2 is needed for the webdav case");
  const srv = await startApache();
  const obscured = (await run("rclone", ["obscure", srv.pass])).trim();
  return {
    name: "webdav",
    stowageUrl: (f) => davUrl(srv, f),
    stowageArgs: [],
    rcloneEnv: {
      RCLONE_CONFIG_X_TYPE: "webdav",
      RCLONE_CONFIG_X_URL: srv.baseUrl,
      RCLONE_CONFIG_X_VENDOR: "other",
      RCLONE_CONFIG_X_USER: srv.user,
      RCLONE_CONFIG_X_PASS: obscured,
      HOME: work,
    },
    rcloneRemote: (f) => `x:${f}`,
    clear: (f) => Deno.remove(join(srv.root, f), { recursive: true }).catch(() => {}),
    stop: () => srv.stop(),
  };
}

async function timed(cmd: string, args: string[], env: Record<string, string>) {
  const t0 = performance.now();
  const out = await new Deno.Command(cmd, { args, env, stdout: "piped", stderr: "piped" }).output();
  const seconds = (performance.now() - t0) / 1000;
  const stderr = new TextDecoder().decode(out.stderr);
  if (!out.success) {
    throw new Error(
      `${cmd} ${redactText(args.join(" "))} failed (${out.code}): ${stderr.slice(-1500)}`,
    );
  }
  return { seconds, stderr };
}

async function makeSet(
  work: string,
  set: string,
): Promise<{ dir: string; files: number; bytes: number }> {
  const dir = join(work, set);
  await Deno.mkdir(dir);
  const [files, size] = set === "small" ? [1000, 4096] : [8, 64 << 20];
  if (set === "small") {
    for (let i = 0; i < files; i++) {
      await Deno.writeFile(
        join(dir, `f${String(i).padStart(4, "0")}`),
        crypto.getRandomValues(new Uint8Array(size)),
      );
    }
  } else {
    for (let i = 0; i < files; i++) await makeFile(join(dir, `big${i}.bin`), size);
  }
  return { dir, files, bytes: files * size };
}

const work = await Deno.makeTempDir({ prefix: "stowage-bench-cp-" });
const results: CpCase[] = [];
try {
  const data = new Map<string, { dir: string; files: number; bytes: number }>();
  for (const set of sets) data.set(set, await makeSet(work, set));
  for (const name of targets) {
    const t = name.startsWith("sftp")
      ? await sftpTarget(work, name === "sftp-ssh2" ? "ssh2" : undefined)
      : name.startsWith("s3")
      ? await s3Target(name === "s3-cutoff")
      : await webdavTarget(work);
    try {
      for (const set of sets) {
        const d = data.get(set)!;
        const ours: number[] = [];
        const theirs: number[] = [];
        let rss = 0;
        for (let r = 0; r < rounds; r++) {
          await run("sync", []);
          const one = async (who: "stowage" | "rclone") => {
            const folder = `${who}-${set}-${r}`;
            if (who === "stowage") {
              const args = [
                "run",
                "-A",
                RUNNER,
                "--no-progress",
                ...t.stowageArgs,
                "cp",
                "--transfers",
                "4",
                d.dir,
                t.stowageUrl(folder),
              ];
              const { seconds, stderr } = await timed(Deno.execPath(), args, {
                PATH,
                NO_COLOR: "1",
              });
              rss = Math.max(rss, JSON.parse(stderr.trim().split("\n").at(-1)!).peakRssMiB);
              ours.push(seconds);
            } else {
              const env = { PATH, RCLONE_CONFIG: "/dev/null", ...t.rcloneEnv };
              theirs.push(
                (await timed(
                  "rclone",
                  ["copy", "--transfers", "4", d.dir, t.rcloneRemote(folder)],
                  env,
                )).seconds,
              );
            }
            await t.clear(folder);
          };
          // Alternate the order so neither tool always runs on a warmer server.
          if (r % 2 === 0) await one("stowage").then(() => one("rclone"));
          else await one("rclone").then(() => one("stowage"));
        }
        const c: CpCase = {
          target: t.name,
          set,
          files: d.files,
          bytes: d.bytes,
          stowage: median(ours),
          rclone: median(theirs),
          ratio: median(ours) / median(theirs),
          peakRssMiB: rss,
        };
        results.push(c);
        console.log(JSON.stringify(c));
      }
    } finally {
      await t.stop();
    }
  }
} finally {
  await Deno.remove(work, { recursive: true }).catch(() => {});
}
