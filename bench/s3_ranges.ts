/**
 * s3:// streamed reads and writes against s3rver on 127.0.0.1 (started here,
 * stopped at the end): reading the last 1 MiB of a 1 GiB object with a
 * ranged `read` against a `get` of a 1 MiB object (about equal: a ranged
 * read fetches only its range), and the peak RSS of a process that streams
 * 1 GiB into the store with `write` (parts of 16 MiB, at most two in
 * flight: bounded, < 150 MiB) and of one that streams it back with `read`.
 *
 * Usage: deno run -A bench/s3_ranges.ts [rounds=5] [sizeMiB=1024]
 *
 * @module
 */

import { join } from "node:path";
import { makeFile, median, runScript } from "./_util.ts";
import { peakRssMiB, timeTailReads } from "./_ranges.ts";
import { s3rverOptions, startS3rver } from "../tests/servers/s3rver.ts";
import { ensureNpmServers } from "../tests/servers/npm_servers.ts";

const MiB = 1024 * 1024;

if (Deno.args[0] === "--write" || Deno.args[0] === "--read") {
  await streamChild(Deno.args[0], Deno.args[1]!, Number(Deno.args[2]), Deno.args[3]!);
}

/** Child mode: stream `sizeMiB` MiB into the store (or read it back); print seconds and peak RSS. */
async function streamChild(
  mode: string,
  url: string,
  sizeMiB: number,
  optionsJson: string,
): Promise<never> {
  const { getBackend } = await import("../mod.ts");
  const store = await getBackend(url, { maxAttempts: 1, ...JSON.parse(optionsJson) });
  const t0 = performance.now();
  let bytes = 0;
  if (mode === "--write") {
    const chunk = new Uint8Array(MiB);
    crypto.getRandomValues(chunk.subarray(0, 65536));
    await store.write("streamed.bin", async function* () {
      for (let i = 0; i < sizeMiB; i++) {
        chunk[0] = i & 0xff;
        yield chunk;
      }
    });
    bytes = sizeMiB * MiB;
  } else {
    for await (const piece of await store.read("streamed.bin")) bytes += piece.byteLength;
  }
  const seconds = (performance.now() - t0) / 1000;
  await store.close();
  console.log(JSON.stringify({ seconds, bytes, peakRssMiB: peakRssMiB() }));
  Deno.exit(0);
}

const rounds = Number(Deno.args[0] ?? 5);
const sizeMiB = Number(Deno.args[1] ?? 1024);

if (!await ensureNpmServers()) throw new Error("npm is needed to install the emulator");
const server = await startS3rver(["bench"]);
const dir = await Deno.makeTempDir({ prefix: "stowage-bench-s3-ranges-" });
const options = s3rverOptions(server.endpoint);
const url = "s3://bench/ranges";

/** Run this file as a child streaming in (`--write`) or out (`--read`); its JSON line. */
function child(mode: string): Promise<{ seconds: number; bytes: number; peakRssMiB: number }> {
  return runScript(import.meta.url, [mode, url, String(sizeMiB), JSON.stringify(options)]);
}

try {
  console.log(`s3:// ranges bench: ${sizeMiB} MiB, ${rounds} rounds, s3rver at ${server.endpoint}`);
  const write = await child("--write");
  console.log(
    `streamed write of ${sizeMiB} MiB: ${
      write.seconds.toFixed(2)
    } s, peak RSS ${write.peakRssMiB} MiB`,
  );
  const read = await child("--read");
  if (read.bytes !== sizeMiB * MiB) throw new Error(`read gave ${read.bytes} bytes`);
  console.log(
    `streamed read of ${sizeMiB} MiB: ${
      read.seconds.toFixed(2)
    } s, peak RSS ${read.peakRssMiB} MiB`,
  );

  const { getBackend } = await import("../mod.ts");
  await using store = await getBackend(url, { maxAttempts: 1, ...options });
  const one = join(dir, "one.bin");
  await makeFile(one, MiB);
  await store.put(one, "one.bin");
  const times = await timeTailReads(store, {
    big: "streamed.bin",
    bigSize: sizeMiB * MiB,
    small: "one.bin",
    local: join(dir, "got.bin"),
    rounds,
  });
  const tail = median(times.tail) * 1000;
  const whole = median(times.get) * 1000;
  console.log(
    `last 1 MiB of the ${sizeMiB} MiB object (read): ${tail.toFixed(1)} ms; ` +
      `get of a 1 MiB object: ${whole.toFixed(1)} ms (ratio ${
        (tail / whole).toFixed(2)
      }x, medians of ${rounds})`,
  );
} finally {
  await server.stop();
  await Deno.remove(dir, { recursive: true });
}
