/**
 * azure:// against rclone's azureblob backend, both talking to the same
 * Azurite on 127.0.0.1: put and get of a large file (default 256 MiB), each in
 * a fresh process, with ratios; stowage's peak RSS at that size and at 1 GiB
 * (flat when they match); a listing of 10,000 blobs against `rclone lsf`;
 * and 1,000 files of 4 KiB put one at a time, each validated (stowage's
 * per-file cost: one Put Blob, the size check answered by it) against
 * `rclone copy --transfers 1`.
 *
 * Usage: deno run -A bench/azure.ts [sizeMiB=256] [rounds=3] [bigMiB=1024]
 *
 * Azurite keeps its data under `--location` in a folder on /dev/shm when it
 * exists (so neither tool pays for a disk), else in the temp folder. Azurite's
 * own memory is the server's, not ours: only the stowage process's RSS is
 * reported. rclone 1.60's `endpoint` option builds `https://ACCOUNT.ENDPOINT`,
 * which cannot reach Azurite, so rclone gets a container SAS URL (`sas_url`)
 * instead; both use their default block size and concurrency.
 *
 * @module
 */

import { join } from "node:path";
import {
  BlobServiceClient,
  ContainerSASPermissions,
  generateBlobSASQueryParameters,
  StorageSharedKeyCredential,
} from "@azure/storage-blob";
import {
  makeFile,
  median,
  ONE_AT_A_TIME,
  ratioLine,
  stowageTransfer,
  timeCommand,
} from "./_util.ts";
import { runChild } from "./azure_ranges.ts";
import { AZURITE_ACCOUNT, AZURITE_KEY, startAzurite } from "../tests/servers/azurite.ts";
import { ensureNpmServers } from "../tests/servers/npm_servers.ts";

const sizeMiB = Number(Deno.args[0] ?? 256);
const rounds = Number(Deno.args[1] ?? 3);
const bigMiB = Number(Deno.args[2] ?? 1024);
const LIST_COUNT = 10_000;
const SMALL_COUNT = 1000;

const shm = await Deno.stat("/dev/shm").then((s) => s.isDirectory, () => false);
const dir = await Deno.makeTempDir({
  prefix: "stowage-bench-azure-",
  ...(shm ? { dir: "/dev/shm" } : {}),
});
if (!await ensureNpmServers()) throw new Error("npm is needed to install the emulator");
const az = await startAzurite({ location: join(dir, "azurite") });
const service = BlobServiceClient.fromConnectionString(az.connectionString, {
  keepAliveOptions: { enable: false },
});
const cred = new StorageSharedKeyCredential(AZURITE_ACCOUNT, AZURITE_KEY);

/** Environment for a stowage process: the connection string stays out of the command line. */
const ourEnv = { AZURE_CONNECTION_STRING: az.connectionString };

/** Environment for rclone: remote `a:` is the container behind a SAS URL. */
async function rcloneEnv(container: string): Promise<Record<string, string>> {
  await service.getContainerClient(container).createIfNotExists();
  const sas = generateBlobSASQueryParameters({
    containerName: container,
    permissions: ContainerSASPermissions.parse("racwdl"),
    expiresOn: new Date(Date.now() + 6 * 3600_000),
  }, cred).toString();
  return {
    RCLONE_CONFIG: "/dev/null",
    RCLONE_CONFIG_A_TYPE: "azureblob",
    RCLONE_CONFIG_A_SAS_URL: `${az.endpoint}/${container}?${sas}`,
  };
}

const rcloneArgs = ["--retries", "1", "--low-level-retries", "1", "-q"];

try {
  console.log(
    `azure:// bench: ${sizeMiB} MiB, ${rounds} rounds, Azurite data in ${dir}, rclone ${(await new Deno
      .Command("rclone", { args: ["version"] }).output().then((o) =>
        new TextDecoder().decode(o.stdout).split("\n")[0]
      ))}`,
  );
  const src = join(dir, "src.bin");
  await makeFile(src, sizeMiB * 1024 * 1024);
  const rc = await rcloneEnv("bench");
  const ourPut: number[] = [];
  const rcPut: number[] = [];
  const ourGet: number[] = [];
  const rcGet: number[] = [];
  let rssPut = 0;
  let rssGet = 0;
  for (let i = 0; i < rounds; i++) {
    const steps = [
      async () => {
        const r = await stowageTransfer("put", "azure://bench", "ours.bin", src, {}, ourEnv);
        ourPut.push(r.seconds);
        rssPut = Math.max(rssPut, r.peakRssMiB);
      },
      async () => {
        rcPut.push(
          await timeCommand("rclone", [
            "copyto",
            "--ignore-times",
            src,
            "a:bench/rclone.bin",
            ...rcloneArgs,
          ], {
            env: rc,
          }),
        );
      },
    ];
    if (i % 2) steps.reverse();
    for (const s of steps) await s();
    const gets = [
      async () => {
        const out = join(dir, "ours-back.bin");
        const r = await stowageTransfer("get", "azure://bench", "ours.bin", out, {}, ourEnv);
        ourGet.push(r.seconds);
        rssGet = Math.max(rssGet, r.peakRssMiB);
        await Deno.remove(out);
      },
      async () => {
        const out = join(dir, "rclone-back.bin");
        rcGet.push(
          await timeCommand("rclone", ["copyto", "a:bench/rclone.bin", out, ...rcloneArgs], {
            env: rc,
          }),
        );
        await Deno.remove(out);
      },
    ];
    if (i % 2) gets.reverse();
    for (const s of gets) await s();
  }
  console.log("stowage: transfer time inside its process; rclone: whole process (start included).");
  console.log(
    ratioLine(`put ${sizeMiB} MiB (median of ${rounds})`, median(ourPut), "rclone", median(rcPut)),
  );
  console.log(
    ratioLine(`get ${sizeMiB} MiB (median of ${rounds})`, median(ourGet), "rclone", median(rcGet)),
  );
  console.log(
    `throughput: put ${(sizeMiB / median(ourPut)).toFixed(0)} MiB/s vs rclone ${
      (sizeMiB / median(rcPut)).toFixed(0)
    } MiB/s; get ${(sizeMiB / median(ourGet)).toFixed(0)} MiB/s vs rclone ${
      (sizeMiB / median(rcGet)).toFixed(0)
    } MiB/s`,
  );
  await Deno.remove(src);
  await service.getContainerClient("bench").deleteBlob("rclone.bin");

  // Peak RSS at a much larger file: flat when it matches the figure above.
  const big = join(dir, "big.bin");
  await makeFile(big, bigMiB * 1024 * 1024);
  const bigPut = await stowageTransfer("put", "azure://bench", "big.bin", big, {}, ourEnv);
  await Deno.remove(big);
  const bigGet = await stowageTransfer("get", "azure://bench", "big.bin", big, {}, ourEnv);
  await Deno.remove(big);
  console.log(
    `peak RSS of the stowage process: put ${rssPut} MiB / get ${rssGet} MiB at ${sizeMiB} MiB; ` +
      `put ${bigPut.peakRssMiB} MiB / get ${bigGet.peakRssMiB} MiB at ${bigMiB} MiB ` +
      `(put ${(bigMiB / bigPut.seconds).toFixed(0)} MiB/s, get ${
        (bigMiB / bigGet.seconds).toFixed(0)
      } MiB/s)`,
  );
  await service.getContainerClient("bench").delete();

  // Listing 10,000 blobs.
  const lsEnv = await rcloneEnv("bench-ls");
  const container = service.getContainerClient("bench-ls");
  let next = 0;
  await Promise.all(Array.from({ length: 32 }, async () => {
    while (next < LIST_COUNT) {
      const n = next++;
      await container.getBlockBlobClient(
        `duplicity-inc.${String(n).padStart(6, "0")}.vol1.difftar.gpg`,
      )
        .upload("x", 1);
    }
  }));
  // One untimed listing each first: Azurite is still settling after 10,000 uploads.
  await stowageTransfer("list", "azure://bench-ls", "", "", {}, ourEnv);
  await timeCommand("rclone", ["lsf", "a:bench-ls", ...rcloneArgs], { env: lsEnv });
  const ourLs: number[] = [];
  const rcLs: number[] = [];
  let count = 0;
  for (let i = 0; i < rounds; i++) {
    const r = await stowageTransfer("list", "azure://bench-ls", "", "", {}, ourEnv);
    ourLs.push(r.seconds);
    count = r.count ?? 0;
    rcLs.push(await timeCommand("rclone", ["lsf", "a:bench-ls", ...rcloneArgs], { env: lsEnv }));
  }
  if (count !== LIST_COUNT) {
    throw new Error(`stowage listed ${count} blobs, expected ${LIST_COUNT}`);
  }
  console.log(
    ratioLine(
      `ls ${LIST_COUNT} blobs (median of ${rounds})`,
      median(ourLs),
      "rclone lsf",
      median(rcLs),
    ),
  );
  const whole = await timeCommand(Deno.execPath(), [
    "run",
    "-A",
    new URL("./_transfer.ts", import.meta.url).pathname,
    "list",
    "azure://bench-ls",
  ], { env: ourEnv });
  console.log(
    `ls ${LIST_COUNT} blobs as a whole stowage process (start included): ${whole.toFixed(2)} s`,
  );

  // 1,000 small files, one put at a time (each validated, as the CLI does).
  const smallDir = join(dir, "small");
  await Deno.mkdir(smallDir);
  for (let i = 0; i < SMALL_COUNT; i++) {
    const name = `duplicity-full.vol${String(i).padStart(4, "0")}.difftar.gpg`;
    await Deno.writeFile(join(smallDir, name), crypto.getRandomValues(new Uint8Array(4096)));
  }
  const smallEnv = await rcloneEnv("bench-small");
  const ourSmall: number[] = [];
  const ourSmallWhole: number[] = [];
  const rcSmall: number[] = [];
  for (let i = 0; i < rounds; i++) {
    const t0 = performance.now();
    const r = await runChild(["puts", `azure://bench-small/ours${i}`, smallDir], ourEnv);
    ourSmallWhole.push((performance.now() - t0) / 1000);
    ourSmall.push(r.seconds!);
    if (r.count !== SMALL_COUNT) throw new Error(`stowage put ${r.count} files`);
    rcSmall.push(
      await timeCommand("rclone", [
        "copy",
        smallDir,
        `a:bench-small/rclone${i}`,
        ...ONE_AT_A_TIME,
        ...rcloneArgs,
      ], { env: smallEnv }),
    );
  }
  console.log(
    ratioLine(
      `${SMALL_COUNT} x 4 KiB sequential puts (median of ${rounds})`,
      median(ourSmall),
      "rclone copy --transfers 1",
      median(rcSmall),
    ),
  );
  console.log(
    `${SMALL_COUNT} x 4 KiB puts as a whole stowage process (start included): ${
      median(ourSmallWhole).toFixed(2)
    } s; ${(median(ourSmall) * 1000 / SMALL_COUNT).toFixed(2)} ms per file in the process`,
  );
} finally {
  await az.stop();
  await Deno.remove(dir, { recursive: true }).catch(() => {});
}
