/**
 * file:// against cp: put and get of a large file (default 1 GiB), each in a
 * fresh process, with the ratio to `cp` measured in the same run, and the
 * peak RSS at two file sizes to show memory stays flat.
 *
 * Usage: deno run -A bench/file.ts [sizeMiB=1024] [rounds=5] [parentDir=$TMPDIR]
 *
 * Run it on a disk folder and on /dev/shm (tmpfs): the disk figures carry the
 * disk's own variance, tmpfs shows the tools' overhead alone.
 *
 * @module
 */

import { join } from "node:path";
import { makeFile, median, stowageTransfer, timeCommand } from "./_util.ts";

/** Flush dirty pages so one measurement does not pay for the previous one's writeback. */
async function settle(): Promise<void> {
  await new Deno.Command("sync").output();
}

const sizeMiB = Number(Deno.args[0] ?? 1024);
const rounds = Number(Deno.args[1] ?? 5);
const base = Deno.args[2];
const dir = await Deno.makeTempDir({
  prefix: "stowage-bench-file-",
  ...(base ? { dir: base } : {}),
});

try {
  const src = join(dir, "src.bin");
  const small = join(dir, "small.bin");
  console.log(`file:// bench: ${sizeMiB} MiB, ${rounds} rounds, folder ${dir}`);
  await makeFile(src, sizeMiB * 1024 * 1024);
  await makeFile(small, 16 * 1024 * 1024);
  const store = `file://${join(dir, "store")}`;

  const cpPut: number[] = [];
  const ourPut: number[] = [];
  const ourPutProc: number[] = [];
  const cpGet: number[] = [];
  const ourGet: number[] = [];
  const ourGetIn: number[] = [];
  let rssBig = 0;
  // Alternate which runs first each round, so page-cache and writeback effects fall on both.
  for (let i = 0; i < rounds; i++) {
    const runCpPut = async () => {
      await settle();
      const t0 = performance.now();
      await timeCommand("cp", [src, join(dir, `cp-${i}.bin`)]);
      await settle();
      cpPut.push((performance.now() - t0) / 1000);
      await Deno.remove(join(dir, `cp-${i}.bin`));
    };
    const runOurPut = async () => {
      await settle();
      const t0 = performance.now();
      // A fresh name each round: renaming over an existing file makes ext4 flush
      // the new data at once (auto_da_alloc), which cp into a new file does not pay.
      const put = await stowageTransfer("put", store, `big-${i}.bin`, src);
      await settle();
      ourPutProc.push((performance.now() - t0) / 1000);
      ourPut.push(put.seconds);
      rssBig = Math.max(rssBig, put.peakRssMiB);
      if (i > 0) await Deno.remove(join(dir, "store", `big-${i}.bin`));
    };
    const runCpGet = async () => {
      await settle();
      const t0 = performance.now();
      await timeCommand("cp", [join(dir, "store", "big-0.bin"), join(dir, `cpget-${i}.bin`)]);
      await settle();
      cpGet.push((performance.now() - t0) / 1000);
      await Deno.remove(join(dir, `cpget-${i}.bin`));
    };
    const runOurGet = async () => {
      await settle();
      const t0 = performance.now();
      const get = await stowageTransfer("get", store, "big-0.bin", join(dir, `get-${i}.bin`));
      await settle();
      ourGet.push((performance.now() - t0) / 1000);
      ourGetIn.push(get.seconds);
      rssBig = Math.max(rssBig, get.peakRssMiB);
      await Deno.remove(join(dir, `get-${i}.bin`));
    };
    if (i % 2 === 0) {
      await runCpPut();
      await runOurPut();
      await runCpGet();
      await runOurGet();
    } else {
      await runOurPut();
      await runCpPut();
      await runOurGet();
      await runCpGet();
    }
  }
  const smallPut = await stowageTransfer("put", store, "small.bin", small);
  const smallGet = await stowageTransfer("get", store, "small.bin", join(dir, "small-back.bin"));

  const line = (label: string, ours: number, peer: number) =>
    console.log(
      `${label}: stowage ${ours.toFixed(3)} s, cp ${peer.toFixed(3)} s, ratio ${
        (ours / peer).toFixed(2)
      }x`,
    );
  console.log(
    "Times are whole processes (start, copy, exit) plus sync, so both pay for the data on disk.",
  );
  line(`put ${sizeMiB} MiB (median of ${rounds})`, median(ourPutProc), median(cpPut));
  line(`get ${sizeMiB} MiB (median of ${rounds})`, median(ourGet), median(cpGet));
  console.log(
    `inside the stowage process (no start-up, no sync): put ${median(ourPut).toFixed(3)} s, get ${
      median(ourGetIn).toFixed(3)
    } s`,
  );
  console.log(
    `peak RSS: ${rssBig} MiB at ${sizeMiB} MiB, ${
      Math.max(smallPut.peakRssMiB, smallGet.peakRssMiB)
    } MiB at 16 MiB (flat when these match)`,
  );
} finally {
  await Deno.remove(dir, { recursive: true });
}
