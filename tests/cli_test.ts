import assert from "node:assert/strict";
import { join } from "node:path";
import { main } from "../cli.ts";

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

async function cli(...args: string[]): Promise<Run> {
  let stdout = "";
  let stderr = "";
  const code = await main(["--retry-delay", "0.001", ...args], {
    stdout: (t) => stdout += t,
    stderr: (t) => stderr += t,
    isTerminal: false,
  });
  return { code, stdout, stderr };
}

async function fixture(): Promise<{ dir: string; url: string; file: string }> {
  const dir = await Deno.makeTempDir();
  const file = join(dir, "hello.txt");
  await Deno.writeTextFile(file, "hello world");
  return { dir, url: `file://${dir}/store`, file };
}

Deno.test("stowage put, ls, ls -l, ls --json, stat, get and rm work on file://", async () => {
  const { dir, url, file } = await fixture();
  assert.equal((await cli("put", file, url)).code, 0);
  assert.equal((await cli("put", "--name", "renamed.txt", file, url)).code, 0);
  const ls = await cli("ls", url);
  assert.equal(ls.stdout, "hello.txt\nrenamed.txt\n");
  assert.match((await cli("ls", "-l", url)).stdout, /^11 {2}hello\.txt\n11 {2}renamed\.txt\n$/);
  assert.deepEqual(JSON.parse((await cli("ls", "-l", "--json", url)).stdout), [
    { name: "hello.txt", size: 11 },
    { name: "renamed.txt", size: 11 },
  ]);
  assert.equal((await cli("stat", url, "hello.txt")).stdout, "11\thello.txt\n");
  const dest = join(dir, "back.txt");
  assert.equal((await cli("get", url, "hello.txt", dest)).code, 0);
  assert.equal(await Deno.readTextFile(dest), "hello world");
  await Deno.mkdir(join(dir, "into"));
  assert.equal((await cli("get", url, "renamed.txt", join(dir, "into"))).code, 0);
  assert.equal(await Deno.readTextFile(join(dir, "into", "renamed.txt")), "hello world");
  assert.equal((await cli("rm", url, "hello.txt", "not-there")).code, 0);
  assert.equal((await cli("ls", url)).stdout, "renamed.txt\n");
  await Deno.remove(dir, { recursive: true });
});

Deno.test("stowage mv moves a file in and removes the local copy", async () => {
  const { dir, url, file } = await fixture();
  const r = await cli("mv", file, url);
  assert.equal(r.code, 0, r.stderr);
  await assert.rejects(Deno.stat(file));
  assert.equal((await cli("ls", url)).stdout, "hello.txt\n");
  await Deno.remove(dir, { recursive: true });
});

Deno.test("stowage stat --json reports missing names and exits 52", async () => {
  const { dir, url, file } = await fixture();
  await cli("put", file, url);
  const r = await cli("stat", "--json", url, "hello.txt", "nope");
  assert.equal(r.code, 52);
  assert.deepEqual(JSON.parse(r.stdout), { "hello.txt": { size: 11 }, nope: { size: -1 } });
  await Deno.remove(dir, { recursive: true });
});

Deno.test("stowage test passes on memory:// and prints a per-case report", async () => {
  const r = await cli("test", "--many", "30", "memory://cli-test");
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /^PASS {2}put then get returns the same bytes/m);
  assert.match(r.stdout, /16 passed, 0 failed, 0 skipped \(memory:\/\/cli-test\)/);
});

Deno.test("stowage test refuses a non-empty location without --clean", async () => {
  const { dir, url, file } = await fixture();
  await cli("put", file, url);
  const r = await cli("test", url);
  assert.equal(r.code, 23);
  assert.match(r.stderr, /Refusing to test/);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("stowage backends lists the built-in schemes", async () => {
  const r = await cli("backends", "--json");
  assert.equal(r.code, 0, r.stderr);
  const rows = JSON.parse(r.stdout) as {
    scheme: string;
    methods: string[];
    atomicOverwrite?: boolean;
    chunkSize?: number;
  }[];
  const file = rows.find((x) => x.scheme === "file");
  assert.ok(file);
  assert.ok(file.methods.includes("deleteList"));
  for (const s of ["sftp", "ftp", "webdav", "s3", "azure", "memory"]) {
    const row = rows.find((x) => x.scheme === s);
    assert.ok(row, s);
    assert.equal(row.atomicOverwrite, true, `${s} declares atomic overwrite`);
  }
  assert.equal(rows.find((x) => x.scheme === "s3")?.chunkSize, 16 * 1024 * 1024);
});

Deno.test("an unknown scheme exits 23 with one line naming it", async () => {
  const r = await cli("ls", "nosuch://x/y");
  assert.equal(r.code, 23);
  assert.match(
    r.stderr,
    /^stowage: Unknown backend scheme "nosuch" in "nosuch:\/\/x\/y"; known schemes: .*\n$/,
  );
});

Deno.test("a bad URL exits 23 without the password", async () => {
  const r = await cli("ls", "sftp://alice:s3cr3t@host:port/x");
  assert.equal(r.code, 23);
  assert.ok(!r.stderr.includes("s3cr3t"));
  assert.equal((await cli("ls", "file:relative")).code, 23);
});

Deno.test("a missing file exits 52 and leaves no local file", async () => {
  const { dir, url, file } = await fixture();
  await cli("put", file, url);
  const dest = join(dir, "out.txt");
  const r = await cli("get", url, "no-such-file", dest);
  assert.equal(r.code, 52);
  assert.match(r.stderr, /Cannot get "no-such-file" from ".*": not found/);
  await assert.rejects(Deno.stat(dest));
  assert.equal((await cli("put", join(dir, "no-local"), url)).code, 52);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("a bad option exits 2 with a one-line message", async () => {
  const a = await cli("ls", "--bogus", "file:///tmp");
  assert.equal(a.code, 2);
  assert.equal(a.stderr, 'stowage: unknown option --bogus; run "stowage --help"\n');
  assert.equal((await cli("put", "--json", "a", "file:///tmp")).code, 2);
  assert.equal((await cli("--num-retries", "zero", "ls", "file:///tmp")).code, 2);
  assert.equal((await cli("ls")).code, 2);
  assert.equal((await cli("frobnicate")).code, 2);
  assert.equal((await cli("-o", "novalue", "ls", "file:///tmp")).code, 2);
});

Deno.test("a bad backend option exits 23 naming the option", async () => {
  const r = await cli("-o", "dirMode=rwx", "ls", "file:///tmp");
  assert.equal(r.code, 23);
  assert.match(r.stderr, /Invalid option "dirMode"/);
});

Deno.test("--help and --version print and exit 0", async () => {
  const h = await cli("--help");
  assert.equal(h.code, 0);
  assert.match(h.stdout, /Commands:/);
  const ch = await cli("get", "--help");
  assert.match(ch.stdout, /Usage: stowage get URL NAME \[DEST\]/);
  assert.match((await cli("--version")).stdout, /^stowage \d+\.\d+\.\d+\n$/);
});

Deno.test("the stowage process prints one line and the exit code, never a stack trace", async () => {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", new URL("../cli.ts", import.meta.url).pathname, "get", "nosuch://x", "a"],
    env: { NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const stderr = new TextDecoder().decode(out.stderr);
  assert.equal(out.code, 23);
  assert.equal(stderr.trim().split("\n").length, 1, stderr);
  assert.doesNotMatch(stderr, /\bat .*\.ts:\d+/);
});
