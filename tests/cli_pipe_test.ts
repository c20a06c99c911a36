/**
 * Pipes through real `stowage` processes (`rcat`, `put -`, `cat`, and
 * `cat | rcat` between two of them) on file:// stores, and `hash` values
 * checked against known digests.
 */

import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { main } from "../cli.ts";

const CLI = fileURLToPath(new URL("../cli.ts", import.meta.url));

function stowage(args: string[], stdin: "piped" | "null" = "null") {
  return new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--no-check", CLI, ...args],
    stdin,
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).spawn();
}

async function feed(child: Deno.ChildProcess, data: Uint8Array): Promise<Deno.CommandOutput> {
  const w = child.stdin.getWriter();
  // In pieces, as a pipe delivers them.
  for (let i = 0; i < data.length; i += 100_000) await w.write(data.subarray(i, i + 100_000));
  await w.close();
  return await child.output();
}

function random(size: number): Uint8Array {
  const data = new Uint8Array(size);
  for (let i = 0; i < size; i += 65536) {
    crypto.getRandomValues(data.subarray(i, Math.min(size, i + 65536)));
  }
  return data;
}

const text = (b: Uint8Array) => new TextDecoder().decode(b);

Deno.test("rcat stores stdin, cat writes it back to stdout, byte for byte, through real pipes", async () => {
  const root = await Deno.makeTempDir();
  const url = `file://${root}/store`;
  const data = random(3 * 1024 * 1024 + 17);
  const put = await feed(stowage(["rcat", url, "blob.bin"], "piped"), data);
  assert.equal(put.code, 0, text(put.stderr));
  assert.deepEqual(await Deno.readFile(join(root, "store", "blob.bin")), data);
  const got = await stowage(["cat", url, "blob.bin"]).output();
  assert.equal(got.code, 0, text(got.stderr));
  assert.equal(got.stdout.length, data.length);
  assert.deepEqual(got.stdout, data);
  // No temporary spool or download is left behind in the store.
  assert.deepEqual([...Deno.readDirSync(join(root, "store"))].map((e) => e.name), ["blob.bin"]);
  await Deno.remove(root, { recursive: true });
});

Deno.test("stowage cat | stowage put --name N - copies between two stores with a pipe", async () => {
  const root = await Deno.makeTempDir();
  const a = `file://${root}/a`;
  const b = `file://${root}/b`;
  const data = random(1_500_000);
  await Deno.mkdir(join(root, "a"));
  await Deno.writeFile(join(root, "a", "x"), data);
  const reader = stowage(["cat", a, "x"]);
  const writer = stowage(["put", "--json", "--name", "y", "-", b], "piped");
  await reader.stdout.pipeTo(writer.stdin);
  const [r, w] = await Promise.all([reader.status, writer.output()]);
  assert.equal(r.code, 0);
  assert.equal(w.code, 0, text(w.stderr));
  const events = text(w.stdout).trim().split("\n").map((l) => JSON.parse(l));
  assert.equal(events[0].name, "y");
  assert.equal(events[0].size, data.length);
  assert.equal(events[0].status, "done");
  assert.deepEqual(await Deno.readFile(join(root, "b", "y")), data);
  await reader.stderr.cancel();
  await Deno.remove(root, { recursive: true });
});

Deno.test("cat of a missing file exits 52 and writes nothing to stdout; put - needs --name", async () => {
  const root = await Deno.makeTempDir();
  const got = await stowage(["cat", `file://${root}`, "nope"]).output();
  assert.equal(got.code, 52);
  assert.equal(got.stdout.length, 0);
  assert.match(text(got.stderr), /not found/);
  const bad = await feed(stowage(["put", "-", `file://${root}`], "piped"), new Uint8Array(3));
  assert.equal(bad.code, 2);
  assert.match(text(bad.stderr), /needs --name/);
  await Deno.remove(root, { recursive: true });
});

Deno.test("hash prints md5 and sha256 of stored files in md5sum format, and --json lines", async () => {
  const root = await Deno.makeTempDir();
  await Deno.mkdir(join(root, "s"));
  await Deno.writeTextFile(join(root, "s", "abc"), "abc");
  await Deno.writeFile(join(root, "s", "empty"), new Uint8Array());
  const url = `memory://cli-hash-${crypto.randomUUID()}`;
  let stdout = "";
  let stderr = "";
  const run = async (...args: string[]) => {
    stdout = "";
    stderr = "";
    return await main(args, {
      stdout: (t) => (stdout += t),
      stderr: (t) => (stderr += t),
      isTerminal: false,
    });
  };
  assert.equal(await run("cp", join(root, "s"), url), 0);
  assert.equal(await run("hash", url), 0, stderr);
  assert.equal(
    stdout,
    "900150983cd24fb0d6963f7d28e17f72  abc\nd41d8cd98f00b204e9800998ecf8427e  empty\n",
  );
  assert.equal(await run("hash", "--algorithm", "sha256", "--json", url, "abc"), 0);
  assert.deepEqual(JSON.parse(stdout), {
    name: "abc",
    size: 3,
    algorithm: "sha256",
    hash: "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
  });
  // A local folder hashes the same, and a missing name is reported (52) while the rest prints.
  assert.equal(await run("hash", join(root, "s"), "abc", "missing"), 52);
  assert.equal(stdout, `${createHash("md5").update("abc").digest("hex")}  abc\n`);
  assert.match(stderr, /Cannot hash "missing"/);
  await Deno.remove(root, { recursive: true });
});

Deno.test("Ctrl-C while rcat reads a pipe exits 130 and leaves no spool file and no upload", async () => {
  const root = await Deno.makeTempDir();
  const tmp = join(root, "tmp");
  await Deno.mkdir(tmp);
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--no-check", CLI, "rcat", `file://${root}/store`, "never.bin"],
    stdin: "piped",
    stdout: "null",
    stderr: "piped",
    env: { TMPDIR: tmp, NO_COLOR: "1" },
  }).spawn();
  const w = child.stdin.getWriter();
  await w.write(random(200_000));
  // Wait (bounded, in 10 ms steps) until the spool holds data: the command is running.
  const spooled = () => {
    for (const d of Deno.readDirSync(tmp)) {
      try {
        if (Deno.statSync(join(tmp, d.name, "stdin")).size > 0) return true;
      } catch {
        // not yet
      }
    }
    return false;
  };
  for (let i = 0; i < 1000 && !spooled(); i++) await new Promise((r) => setTimeout(r, 10));
  assert.ok(spooled(), "the child never started spooling");
  child.kill("SIGINT");
  const status = await child.status;
  await w.close().catch(() => {});
  await child.stderr.cancel();
  assert.equal(status.code, 130);
  assert.deepEqual([...Deno.readDirSync(tmp)], [], "the spool folder is removed");
  await assert.rejects(Deno.stat(join(root, "store", "never.bin")));
  await Deno.remove(root, { recursive: true });
});
