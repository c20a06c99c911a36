/**
 * azure:// streamed reads and writes against Azurite on 127.0.0.1 (data in
 * /dev/shm when it exists): the time to read the last 1 MiB of a 1 GiB blob
 * (one ranged GET) against a 1 MiB get (about equal when reads are truly
 * ranged), and the peak RSS of a process streaming a 1 GiB write (staged
 * blocks, flat memory). Each measure runs in a fresh process.
 *
 * Usage: deno run -A bench/azure_ranges.ts [bigMiB=1024] [rounds=5]
 *
 * The same file is the child those processes run (`child read|write|puts
 * ...`, with the connection string in AZURE_CONNECTION_STRING);
 * bench/azure.ts uses `child puts` for its many-small-files figure.
 *
 * @module
 */

import { join } from "node:path";
import { getBackend } from "../mod.ts";
import { makeFile, median, runScript } from "./_util.ts";
import { peakRssMiB, timeTailReads } from "./_ranges.ts";

const MiB = 1024 * 1024;

/**
 * `size` bytes, 1 MiB at a time: `fresh` makes a new chunk each time (as a
 * file's or a socket's stream does: garbage the runtime collects lazily);
 * otherwise one buffer is refilled once the previous chunk was taken, as a
 * reader filling one buffer does (so the figure is the store's own memory).
 */
function generated(size: number, fresh: boolean): () => AsyncIterable<Uint8Array> {
  const pattern = crypto.getRandomValues(new Uint8Array(65536));
  return async function* () {
    const reused = new Uint8Array(MiB);
    for (let at = 0, k = 0; at < size; at += MiB, k++) {
      const n = Math.min(MiB, size - at);
      const chunk = fresh ? new Uint8Array(n) : reused.subarray(0, n);
      for (let i = 0; i < n; i += pattern.length) chunk.set(pattern.subarray(0, n - i), i);
      chunk[0] = k & 0xff;
      yield chunk;
    }
  };
}

/** A child process: one measure, printed as a JSON line. */
async function child(args: string[]): Promise<void> {
  const [mode, url, ...rest] = args;
  await using store = await getBackend(url!, { maxAttempts: 1 });
  if (mode === "read") {
    // rest: BIG_NAME SMALL_NAME LOCAL_DIR ROUNDS
    const [big, small, dir, rounds] = rest;
    const size = (await store.queryInfo(big!))[big!]!.size!;
    await store.list(); // connect first
    const times = await timeTailReads(store, {
      big: big!,
      bigSize: size,
      small: small!,
      local: join(dir!, "small.bin"),
      rounds: Number(rounds),
      head: true,
    });
    const medianMs = (xs: number[]) => median(xs) * 1000;
    console.log(JSON.stringify({
      tailMs: medianMs(times.tail),
      headMs: medianMs(times.head),
      getMs: medianMs(times.get),
    }));
  } else if (mode === "write") {
    // rest: NAME SIZE fresh|reused
    const size = Number(rest[1]);
    const t0 = performance.now();
    await store.write(rest[0]!, generated(size, rest[2] === "fresh"), { size });
    const seconds = (performance.now() - t0) / 1000;
    console.log(JSON.stringify({ seconds, peakRssMiB: peakRssMiB() }));
  } else if (mode === "puts") {
    // rest: LOCAL_DIR: every file in it, one put at a time, each validated
    const files = [];
    for await (const e of Deno.readDir(rest[0]!)) if (e.isFile) files.push(e.name);
    files.sort();
    const t0 = performance.now();
    for (const f of files) await store.put(join(rest[0]!, f), f, { validate: true });
    const seconds = (performance.now() - t0) / 1000;
    console.log(JSON.stringify({ seconds, count: files.length, peakRssMiB: peakRssMiB() }));
  } else throw new Error(`unknown child mode ${mode}`);
}

/** Run this file as a child with `args`; its JSON line. */
export function runChild(
  args: string[],
  env: Record<string, string>,
): Promise<Record<string, number>> {
  return runScript(import.meta.url, ["child", ...args], { env, label: `child ${args[0]}` });
}

async function main(): Promise<void> {
  const { startAzurite } = await import("../tests/servers/azurite.ts");
  const { ensureNpmServers } = await import("../tests/servers/npm_servers.ts");
  const bigMiB = Number(Deno.args[0] ?? 1024);
  const rounds = Number(Deno.args[1] ?? 5);
  const shm = await Deno.stat("/dev/shm").then((s) => s.isDirectory, () => false);
  const dir = await Deno.makeTempDir({
    prefix: "stowage-bench-azure-ranges-",
    ...(shm ? { dir: "/dev/shm" } : {}),
  });
  if (!await ensureNpmServers()) throw new Error("npm is needed to install the emulator");
  const az = await startAzurite({ location: join(dir, "azurite") });
  const env = { AZURE_CONNECTION_STRING: az.connectionString };
  try {
    await using store = await getBackend("azure://ranges", {
      connectionString: az.connectionString,
    });
    const big = join(dir, "big.bin");
    await makeFile(big, bigMiB * MiB);
    await store.put(big, "big.bin");
    await Deno.remove(big);
    await makeFile(join(dir, "small.bin"), MiB);
    await store.put(join(dir, "small.bin"), "small.bin");
    await Deno.remove(join(dir, "small.bin"));
    const r = await runChild(
      ["read", "azure://ranges", "big.bin", "small.bin", dir, String(rounds)],
      env,
    );
    console.log(
      `read the last 1 MiB of a ${bigMiB} MiB blob: ${r.tailMs!.toFixed(1)} ms (its first ` +
        `1 MiB: ${r.headMs!.toFixed(1)} ms); get of a 1 MiB blob: ${r.getMs!.toFixed(1)} ms ` +
        `(medians of ${rounds}, one process; a whole get of the big blob takes seconds)`,
    );
    for (const source of ["reused", "fresh"]) {
      const w = await runChild(
        ["write", "azure://ranges", "streamed.bin", String(bigMiB * MiB), source],
        env,
      );
      console.log(
        `streamed write of ${bigMiB} MiB (store.write, blockSize 8 MiB, concurrency 4), ` +
          `source ${
            source === "fresh" ? "making a new 1 MiB chunk each time" : "refilling one 1 MiB buffer"
          }: ${w.seconds!.toFixed(1)} s, peak RSS ${w.peakRssMiB} MiB`,
      );
    }
    const size = (await store.queryInfo("streamed.bin"))["streamed.bin"]?.size;
    if (size !== bigMiB * MiB) throw new Error(`the streamed write stored ${size} bytes`);
  } finally {
    await az.stop();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

if (import.meta.main) {
  if (Deno.args[0] === "child") await child(Deno.args.slice(1));
  else await main();
}
