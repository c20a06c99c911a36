/**
 * `stowage cp` and `stowage sync` on real file:// stores (and memory://
 * between them): what is copied, skipped, deleted and refused, what a
 * failing file does to the run and the exit code, and the --json lines.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { cli } from "./_cli.ts";
import { MemoryBackend } from "../backends/memory.ts";
import { type OperationContext, registerBackend } from "../mod.ts";

function lines(stdout: string): Record<string, unknown>[] {
  return stdout.trim().split("\n").filter(Boolean).map((l) => JSON.parse(l));
}

/** A local source folder: a.txt (5 bytes), b.txt (6), sub/c.txt (7), sub/deep/d.txt (8). */
async function tree(): Promise<{ root: string; src: string }> {
  const root = await Deno.makeTempDir({ prefix: "stowage-cli-cp-" });
  const src = join(root, "src");
  await Deno.mkdir(join(src, "sub", "deep"), { recursive: true });
  await Deno.writeTextFile(join(src, "a.txt"), "aaaaa");
  await Deno.writeTextFile(join(src, "b.txt"), "bbbbbb");
  await Deno.writeTextFile(join(src, "sub", "c.txt"), "ccccccc");
  await Deno.writeTextFile(join(src, "sub", "deep", "d.txt"), "dddddddd");
  return { root, src };
}

const fileUrl = (path: string) => `file://${path}`;

Deno.test("cp copies every file of a local folder to a file:// store and skips same-size files next time", async () => {
  const { root, src } = await tree();
  const dst = fileUrl(join(root, "dst"));
  const first = await cli("cp", "--json", src, dst);
  assert.equal(first.code, 0, first.stderr);
  const ev = lines(first.stdout);
  assert.deepEqual(
    ev.filter((e) => e.type === "file").map((e) => [e.name, e.status, e.size]).sort(),
    [["a.txt", "done", 5], ["b.txt", "done", 6]],
  );
  const summary = ev.at(-1)!;
  assert.equal(summary.type, "summary");
  assert.equal(summary.command, "cp");
  assert.equal(summary.done, 2);
  assert.equal(summary.bytes, 11);
  assert.equal(summary.exitCode, 0);
  assert.equal(await Deno.readTextFile(join(root, "dst", "b.txt")), "bbbbbb");

  // Same size: skipped, even when the content differs (no --checksum).
  await Deno.writeTextFile(join(src, "a.txt"), "AAAAA");
  const again = lines((await cli("cp", "--json", src, dst)).stdout);
  assert.deepEqual(
    again.filter((e) => e.type === "file").map((e) => [e.name, e.status, e.reason]),
    [["a.txt", "skipped", "same size"], ["b.txt", "skipped", "same size"]],
  );
  assert.equal(await Deno.readTextFile(join(root, "dst", "a.txt")), "aaaaa");

  // --checksum sees the difference and copies only that file.
  const sum = lines((await cli("cp", "--json", "--checksum", src, dst)).stdout);
  const a = sum.find((e) => e.name === "a.txt")!;
  assert.equal(a.status, "done");
  assert.equal(a.algorithm, "md5");
  assert.equal(a.hash, "f6a6263167c92de8644ac998b3c4e4d1"); // md5 of "AAAAA"
  assert.equal(sum.find((e) => e.name === "b.txt")!.reason, "same checksum");
  assert.equal(await Deno.readTextFile(join(root, "dst", "a.txt")), "AAAAA");

  // --force copies everything again.
  const forced = lines((await cli("cp", "--json", "--force", src, dst)).stdout);
  assert.equal(forced.filter((e) => e.status === "done").length, 2);
  await Deno.remove(root, { recursive: true });
});

Deno.test("cp -r opens one store per sub-folder; a changed size is copied again", async () => {
  const { root, src } = await tree();
  const dst = fileUrl(join(root, "dst"));
  const r = await cli("cp", "-r", "--json", src, dst);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(
    lines(r.stdout).filter((e) => e.type === "file").map((e) => e.name).sort(),
    ["a.txt", "b.txt", "sub/c.txt", "sub/deep/d.txt"],
  );
  assert.equal(await Deno.readTextFile(join(root, "dst", "sub", "deep", "d.txt")), "dddddddd");
  await Deno.writeTextFile(join(src, "sub", "c.txt"), "longer now");
  const again = lines((await cli("cp", "-r", "--json", src, dst)).stdout);
  assert.deepEqual(
    again.filter((e) => e.status === "done").map((e) => e.name),
    ["sub/c.txt"],
  );
  await Deno.remove(root, { recursive: true });
});

Deno.test("cp --dry-run prints what would happen and changes nothing", async () => {
  const { root, src } = await tree();
  const dstDir = join(root, "dst");
  const r = await cli("cp", "-r", "--dry-run", src, fileUrl(dstDir));
  assert.equal(r.code, 0, r.stderr);
  assert.equal(
    r.stdout,
    "would copy a.txt (5 B)\nwould copy b.txt (6 B)\nwould copy sub/c.txt (7 B)\n" +
      "would copy sub/deep/d.txt (8 B)\nwould copy 4 file(s) (26 B), skip 0\n",
  );
  await assert.rejects(Deno.stat(dstDir));
  const json = lines((await cli("cp", "--dry-run", "--json", src, fileUrl(dstDir))).stdout);
  assert.deepEqual(json.map((e) => e.status ?? e.type), ["planned", "planned", "summary"]);
  assert.equal(json.at(-1)!.dryRun, true);
  await Deno.remove(root, { recursive: true });
});

Deno.test("cp with NAMEs copies only those, and a missing NAME fails with 52 while the rest lands", async () => {
  const { root, src } = await tree();
  const dstDir = join(root, "dst");
  const r = await cli("cp", "--json", src, fileUrl(dstDir), "b.txt", "sub/c.txt", "nope");
  assert.equal(r.code, 52);
  const ev = lines(r.stdout);
  assert.deepEqual(
    ev.filter((e) => e.type === "file").map((e) => [e.name, e.status]).sort(),
    [["b.txt", "done"], ["nope", "failed"], ["sub/c.txt", "done"]],
  );
  assert.equal(ev.find((e) => e.name === "nope")!.code, 52);
  assert.match(r.stderr, /Cannot copy "nope" from ".*src": not found/);
  assert.equal(await Deno.readTextFile(join(dstDir, "sub", "c.txt")), "ccccccc");
  await assert.rejects(Deno.stat(join(dstDir, "a.txt")));
  await Deno.remove(root, { recursive: true });
});

Deno.test("cp between two stores goes through a temporary file, and back to a local folder", async () => {
  const { root, src } = await tree();
  const m1 = `memory://cli-cp-${crypto.randomUUID()}`;
  const m2 = `memory://cli-cp-${crypto.randomUUID()}`;
  assert.equal((await cli("cp", src, m1)).code, 0);
  const relay = await cli("cp", "--json", "--checksum", "--algorithm", "sha256", m1, m2);
  assert.equal(relay.code, 0, relay.stderr);
  const a = lines(relay.stdout).find((e) => e.name === "a.txt")!;
  // sha256 of "aaaaa"
  assert.equal(a.hash, "ed968e840d10d2d313a870bc131a4e2c311d7ad09bdf32b3418147221f51a6e2");
  assert.equal(a.algorithm, "sha256");
  const back = join(root, "back");
  assert.equal((await cli("cp", m2, back)).code, 0);
  assert.equal(await Deno.readTextFile(join(back, "a.txt")), "aaaaa");
  assert.equal(await Deno.readTextFile(join(back, "b.txt")), "bbbbbb");
  // Nothing is left in the temporary folders of this process's runs.
  assert.equal((await cli("ls", "--all", m2)).stdout, "a.txt\nb.txt\n");
  await Deno.remove(root, { recursive: true });
});

Deno.test("cp -r from a store that cannot list sub-folders copies its top folder and warns", async () => {
  const m = `memory://cli-cp-${crypto.randomUUID()}`;
  const root = await Deno.makeTempDir();
  const f = join(root, "x");
  await Deno.writeTextFile(f, "x");
  await cli("put", f, m);
  const r = await cli("cp", "-r", m, join(root, "out"));
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /-r: sub-folders of "memory:\/\/.*" cannot be discovered/);
  assert.equal(await Deno.readTextFile(join(root, "out", "x")), "x");
  await Deno.remove(root, { recursive: true });
});

Deno.test("sync deletes what the source lacks, but refuses an empty source without --force", async () => {
  const { root, src } = await tree();
  const dstDir = join(root, "dst");
  const dst = fileUrl(dstDir);
  assert.equal((await cli("cp", "-r", src, dst)).code, 0);
  await Deno.writeTextFile(join(dstDir, "extra.txt"), "extra");
  await Deno.writeTextFile(join(dstDir, "sub", "old.txt"), "old");

  // Delete 1 of 3 top files, 1 of 2 in sub: within 50 % overall (2 of 6 files).
  const r = await cli("sync", "-r", "--json", src, dst);
  assert.equal(r.code, 0, r.stderr);
  const ev = lines(r.stdout);
  assert.deepEqual(
    ev.filter((e) => e.op === "delete").map((e) => [e.name, e.status]).sort(),
    [["extra.txt", "done"], ["sub/old.txt", "done"]],
  );
  assert.equal(ev.at(-1)!.deleted, 2);
  assert.equal(ev.at(-1)!.skipped, 4);
  await assert.rejects(Deno.stat(join(dstDir, "extra.txt")));

  // An empty source would delete everything: refused before any change.
  const empty = join(root, "empty");
  await Deno.mkdir(empty);
  const refused = await cli("sync", empty, dst);
  assert.equal(refused.code, 23);
  assert.match(
    refused.stderr,
    /Refusing to sync to ".*dst": it would delete 2 of 2 files \(100 %\)/,
  );
  assert.match(refused.stderr, /--force/);
  assert.ok(await Deno.stat(join(dstDir, "a.txt")));
  const dry = await cli("sync", "--dry-run", "--force", empty, dst);
  assert.equal(
    dry.stdout,
    "would delete a.txt\nwould delete b.txt\nwould sync 0 file(s) (0 B), skip 0, delete 2\n",
  );
  assert.ok(await Deno.stat(join(dstDir, "a.txt")));
  assert.equal((await cli("sync", "--force", empty, dst)).code, 0);
  await assert.rejects(Deno.stat(join(dstDir, "a.txt")));
  await Deno.remove(root, { recursive: true });
});

Deno.test("sync's file limit: more than --max-delete files is refused even under 50 %", async () => {
  const root = await Deno.makeTempDir();
  const src = join(root, "src");
  const dst = join(root, "dst");
  await Deno.mkdir(src);
  await Deno.mkdir(dst);
  for (let i = 0; i < 10; i++) {
    await Deno.writeTextFile(join(src, `keep${i}`), "k");
    await Deno.writeTextFile(join(dst, `keep${i}`), "k");
  }
  for (let i = 0; i < 4; i++) await Deno.writeTextFile(join(dst, `drop${i}`), "d");
  const r = await cli("sync", "--max-delete", "3", src, dst);
  assert.equal(r.code, 23);
  assert.match(r.stderr, /it would delete 4 files, more than the limit of 3/); // 4 of 14: 29 %
  assert.equal((await cli("sync", "--max-delete", "4", src, dst)).code, 0);
  assert.equal([...Deno.readDirSync(dst)].length, 10);
  await Deno.remove(root, { recursive: true });
});

/** A memory store whose puts of names starting with "bad" fail with the errno in the name. */
class FailingBackend extends MemoryBackend {
  static failures = 0;
  override async _put(localPath: string, name: string, ctx?: OperationContext): Promise<void> {
    if (name.startsWith("bad")) {
      FailingBackend.failures++;
      const errno = name.includes("space") ? "ENOSPC" : "EACCES";
      throw Object.assign(new Error(`simulated ${errno}`), { code: errno });
    }
    return await super._put(localPath, name, ctx);
  }
}
registerBackend("failing", FailingBackend);

Deno.test("a file that still fails after retries is reported, the run goes on, the first failure's code is the exit code", async () => {
  const root = await Deno.makeTempDir();
  for (const n of ["a", "bad-space", "bad-perm", "z"]) await Deno.writeTextFile(join(root, n), n);
  const url = `failing://cli-fail-${crypto.randomUUID()}`;
  FailingBackend.failures = 0;
  const r = await cli("--num-retries", "3", "cp", "--transfers", "1", "--json", root, url);
  assert.equal(r.code, 51, "bad-perm (EACCES, 51) fails before bad-space (ENOSPC, 53)");
  const ev = lines(r.stdout);
  const byName = Object.fromEntries(ev.filter((e) => e.type === "file").map((e) => [e.name, e]));
  assert.equal(byName["a"]!.status, "done");
  assert.equal(byName["z"]!.status, "done");
  assert.equal(byName["bad-perm"]!.code, 51);
  assert.equal(byName["bad-space"]!.code, 53);
  assert.equal(byName["bad-space"]!.status, "failed");
  assert.match(String(byName["bad-space"]!.error), /simulated ENOSPC/);
  assert.equal(ev.at(-1)!.failed, 2);
  assert.equal(ev.at(-1)!.exitCode, 51);
  assert.ok(FailingBackend.failures >= 2);
  assert.equal((await cli("ls", url)).stdout, "a\nz\n");
  // A sync with a failed copy deletes nothing.
  const s = await cli("sync", "--force", root, url);
  assert.equal(s.code, 51);
  assert.match(s.stderr, /not deleting|failed/);
  await Deno.remove(root, { recursive: true });
});

Deno.test("cp reports a missing local source folder with 52 and bad flags with 2", async () => {
  const root = await Deno.makeTempDir();
  const r = await cli("cp", join(root, "nope"), "memory://x");
  assert.equal(r.code, 52);
  assert.match(r.stderr, /no such folder/);
  assert.equal((await cli("cp", "--transfers", "0", root, "memory://x")).code, 2);
  assert.equal((await cli("sync", root, "memory://x", "extra")).code, 2);
  assert.equal((await cli("cp", "--checksum", "--algorithm", "crc", root, "memory://x")).code, 2);
  await Deno.remove(root, { recursive: true });
});

Deno.test("put and get move many files with --transfers and report each with --json", async () => {
  const { root, src } = await tree();
  const url = `memory://cli-pg-${crypto.randomUUID()}`;
  const files = ["a.txt", "b.txt"].map((n) => join(src, n));
  const put = await cli("put", "--json", "--transfers", "2", ...files, join(src, "nope"), url);
  assert.equal(put.code, 52);
  const ev = lines(put.stdout);
  assert.deepEqual(ev.filter((e) => e.type === "file").map((e) => [e.name, e.status]).sort(), [
    ["a.txt", "done"],
    ["b.txt", "done"],
    ["nope", "failed"],
  ]);
  assert.equal(ev.find((e) => e.name === "a.txt")!.path, join(src, "a.txt"));
  const out = join(root, "out");
  const get = await cli("get", "--json", "--checksum", url, "a.txt", "b.txt", out);
  assert.equal(get.code, 0, get.stderr);
  assert.equal(lines(get.stdout).at(-1)!.done, 2);
  assert.equal(await Deno.readTextFile(join(out, "b.txt")), "bbbbbb");
  await Deno.remove(root, { recursive: true });
});

/** A memory:// store that counts how many stores were opened (one per connection). */
class CountingBackend extends MemoryBackend {
  static opened = 0;
  constructor(...args: ConstructorParameters<typeof MemoryBackend>) {
    super(...args);
    CountingBackend.opened++;
  }
}
registerBackend("counting", CountingBackend);

Deno.test("--connections caps the stores the transfers share; a bad value is a usage error", async () => {
  const root = await Deno.makeTempDir();
  for (let i = 0; i < 12; i++) await Deno.writeTextFile(join(root, `f${i}`), "x".repeat(i));
  for (const [connections, most] of [["1", 1], ["2", 2], ["4", 4]] as const) {
    CountingBackend.opened = 0;
    const url = `counting://cli-conn-${crypto.randomUUID()}`;
    const r = await cli("cp", "--transfers", "4", "--connections", connections, root, url);
    assert.equal(r.code, 0, r.stderr);
    const opened = CountingBackend.opened;
    assert.ok(opened <= most && opened >= 1, `--connections ${connections}: ${opened} stores`);
    assert.equal((await cli("ls", url)).stdout.trim().split("\n").length, 12);
  }
  const bad = await cli("cp", "--connections", "0", root, "memory://x");
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /--connections must be a whole number/);
  await Deno.remove(root, { recursive: true });
});
