// deno-lint-ignore-file no-control-regex -- terminal escapes are what these tests check

/**
 * The progress arithmetic and drawing, with an injected clock: the rate is
 * over a sliding 5 s window (not an average since the start), the ETA
 * follows from it, several transfers show together, and a summary line
 * stays at the end. No test sleeps.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { main } from "../cli.ts";
import { drawStats, formatDuration, summaryLine, TransferStats } from "../cli/progress.ts";
import { Output } from "../cli/output.ts";

const MiB = 1 << 20;

function clock(): { now: () => number; advance: (ms: number) => void } {
  let t = 1000;
  return { now: () => t, advance: (ms) => (t += ms) };
}

Deno.test("the rate is bytes over the last 5 s window, not an average since the start", () => {
  const c = clock();
  const s = new TransferStats(c.now);
  s.plan(1, 100 * MiB);
  s.begin("f", "f", 100 * MiB);
  // 10 s at 1 MiB/s ...
  for (let i = 0; i < 10; i++) {
    c.advance(1000);
    s.add("f", MiB);
  }
  assert.equal(s.rate(), MiB);
  // ... then 5 s at 4 MiB/s: the window sees only the fast part.
  for (let i = 0; i < 5; i++) {
    c.advance(1000);
    s.add("f", 4 * MiB);
  }
  assert.equal(s.rate(), 4 * MiB);
  const snap = s.snapshot();
  assert.equal(snap.bytes, 30 * MiB);
  assert.equal(snap.elapsed, 15);
  // ETA: 70 MiB left at 4 MiB/s.
  assert.equal(snap.eta, 70 / 4);
  // A stall: after 5 s without bytes the rate is 0 and the ETA unknown.
  c.advance(5000);
  assert.equal(s.rate(), 0);
  assert.equal(s.snapshot().eta, undefined);
});

Deno.test("early on, the rate divides by the time since the start, not the whole window", () => {
  const c = clock();
  const s = new TransferStats(c.now);
  s.plan(1, 10 * MiB);
  s.begin("f", "f", 10 * MiB);
  c.advance(2000);
  s.add("f", 2 * MiB);
  assert.equal(s.rate(), MiB);
  assert.equal(s.snapshot().eta, 8);
});

Deno.test("bytes of one file never count past its size (retries), and a landed file counts in full", () => {
  const c = clock();
  const s = new TransferStats(c.now);
  s.plan(2, 300);
  s.begin("a", "a", 100);
  s.begin("b", "b", 200);
  s.add("a", 80);
  s.add("a", 80); // a retry sends the bytes again
  assert.equal(s.snapshot().bytes, 100);
  s.end("a", "done");
  s.add("b", 50);
  s.end("b", "done"); // the backend reported fewer bytes than it moved
  const snap = s.snapshot();
  assert.equal(snap.bytes, 300);
  assert.equal(snap.files, 2);
  assert.equal(snap.eta, 0);
});

Deno.test("the block shows totals, rate, ETA, files, elapsed and each transfer in flight", () => {
  const c = clock();
  const s = new TransferStats(c.now);
  s.plan(3, 30 * MiB);
  s.skip(2);
  s.begin("x", "x.bin", 10 * MiB);
  s.begin("y", "y.bin", 20 * MiB);
  c.advance(2000);
  s.add("x", 5 * MiB);
  s.add("y", 5 * MiB);
  const lines = drawStats(s.snapshot());
  assert.deepEqual(lines, [
    "Transferred:  10.0 MiB / 30.0 MiB, 33%, 5.0 MiB/s, ETA 4.0s",
    "Files:        0 / 3, 2 skipped",
    "Elapsed:      2.0s",
    " * x.bin: 50% of 10.0 MiB",
    " * y.bin: 25% of 20.0 MiB",
  ]);
  assert.equal(
    summaryLine(s.snapshot()),
    "Transferred 10.0 MiB in 0 files, 2 skipped, 2.0s, 5.0 MiB/s average",
  );
  const colored = drawStats(s.snapshot(), { color: true, width: 30 });
  assert.ok(colored[0]!.startsWith("\x1b[1mTransferred:\x1b[22m"));
  assert.ok(colored.every((l) => l.replace(/\x1b\[[0-9;]*m/g, "").length <= 29));
});

Deno.test("durations read as people expect", () => {
  assert.equal(formatDuration(0), "0s");
  assert.equal(formatDuration(0.25), "250ms");
  assert.equal(formatDuration(4.24), "4.2s");
  assert.equal(formatDuration(185), "3m05s");
  assert.equal(formatDuration(3725), "1h02m");
  assert.equal(formatDuration(NaN), "-");
});

Deno.test("on a terminal the block is redrawn in place at most every 200 ms and ends as one summary line", () => {
  const c = clock();
  let err = "";
  const out = new Output({
    stdout: () => {},
    stderr: (t) => (err += t),
    isTerminal: true,
    now: c.now,
    columns: () => 80,
  }, 1);
  out.stats.plan(1, 1000);
  out.stats.begin("f", "f", 1000);
  out.tick();
  const first = err;
  assert.match(first, /^Transferred: {2}0 B \/ 1000 B, 0%/);
  out.stats.add("f", 100);
  c.advance(50);
  out.tick();
  assert.equal(err, first, "no redraw within 200 ms");
  c.advance(200);
  out.tick();
  // Up 3 lines (4 drawn), to column 0, clear, then the new block.
  assert.ok(err.slice(first.length).startsWith("\x1b[3A\r\x1b[J"), JSON.stringify(err));
  out.stats.end("f", "done");
  out.finish();
  assert.match(
    err,
    /\r\x1b\[J(\x1b\[\dA)?.*Transferred 1000 B in 1 file, 250ms, 3\.9 KiB\/s average\n$/s,
  );
});

Deno.test("--no-progress, a pipe, -q and NO_COLOR keep the block off or plain", async () => {
  const root = await Deno.makeTempDir();
  await Deno.writeTextFile(join(root, "f"), "data");
  const run = async (isTerminal: boolean, ...args: string[]) => {
    let err = "";
    const code = await main(args, {
      stdout: () => {},
      stderr: (t) => (err += t),
      isTerminal,
      color: false,
    });
    return { code, err };
  };
  const url = `memory://cli-progress-${crypto.randomUUID()}`;
  const tty = await run(true, "cp", root, url);
  assert.equal(tty.code, 0);
  assert.match(tty.err, /Transferred 4 B in 1 file/);
  assert.doesNotMatch(tty.err, /\x1b\[1m/, "no bold without colour");
  assert.equal((await run(true, "cp", "--no-progress", "--force", root, url)).err, "");
  assert.equal((await run(false, "cp", "--force", root, url)).err, "");
  assert.equal((await run(true, "-q", "cp", "--force", root, url)).err, "");
  assert.match((await run(false, "-P", "cp", "--force", root, url)).err, /Transferred/);
  await Deno.remove(root, { recursive: true });
});
