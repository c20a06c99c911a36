import assert from "node:assert/strict";
import { join } from "node:path";
import { cli } from "./_cli.ts";
import { tempName } from "../kit.ts";

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
  assert.match(r.stdout, /\d+ passed, 0 failed, 0 skipped \(memory:\/\/cli-test\)/);
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
  assert.equal((await cli("put", "--long", "a", "file:///tmp")).code, 2); // --json is global now
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

Deno.test("ls escapes control characters in names on a terminal's lines; --json stays exact", async () => {
  const { dir, url, file } = await fixture();
  const hostile = "evil\x1b[2J\nfake line";
  assert.equal((await cli("put", "--name", hostile, file, url)).code, 0);
  const ls = await cli("ls", url);
  assert.equal(ls.stdout, "evil\\x1b[2J\\nfake line\n");
  assert.deepEqual(JSON.parse((await cli("ls", "--json", url)).stdout), [{ name: hostile }]);
  const stat = await cli("stat", url, hostile);
  assert.equal(stat.stdout, "11\tevil\\x1b[2J\\nfake line\n");
  await Deno.remove(dir, { recursive: true });
});

Deno.test("ls hides temporary uploads unless --all; cleanup removes the stale ones", async () => {
  const { dir, url, file } = await fixture();
  assert.equal((await cli("put", file, url)).code, 0);
  const store = join(dir, "store");
  const stale = tempName("big.tar", Date.now() - 2 * 3_600_000);
  const fresh = tempName("other.tar");
  await Deno.writeTextFile(join(store, stale), "debris");
  await Deno.writeTextFile(join(store, fresh), "being written");
  assert.equal((await cli("ls", url)).stdout, "hello.txt\n");
  assert.equal((await cli("ls", "--all", url)).stdout.split("\n").filter(Boolean).length, 3);
  const dry = await cli("cleanup", "--dry-run", url);
  assert.equal(dry.code, 0, dry.stderr);
  assert.equal(dry.stdout, `would remove ${stale}\n`);
  assert.ok(await Deno.stat(join(store, stale)));
  const real = await cli("cleanup", url);
  assert.equal(real.stdout, `removed ${stale}\n`);
  await assert.rejects(Deno.stat(join(store, stale)));
  assert.ok(await Deno.stat(join(store, fresh)), "a fresh temporary is never removed");
  assert.equal((await cli("cleanup", "--older-than", "soon", url)).code, 2);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("an unknown backend option exits 23 with a suggestion", async () => {
  const r = await cli("-o", "dirmod=700", "ls", "file:///tmp");
  assert.equal(r.code, 23);
  assert.equal(
    r.stderr,
    'stowage: Unknown option "dirmod" for file://; did you mean "dirMode"?\n',
  );
});

Deno.test("stowage backends -l lists each backend's options with type, default and meaning", async () => {
  const r = await cli("backends", "-l", "file");
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /dirMode — integer 0\.\.4095 \(default 493\): Permission bits/);
  const rows = JSON.parse((await cli("backends", "--json")).stdout) as {
    scheme: string;
    options: { name: string }[];
  }[];
  for (const s of ["sftp", "ftp", "webdav", "s3", "azure"]) {
    assert.ok(rows.find((x) => x.scheme === s)!.options.length > 0, s);
  }
});

Deno.test("stowage ls | head -1 exits quietly when the reader goes away", async () => {
  const { dir, url, file } = await fixture();
  for (let i = 0; i < 3; i++) await cli("put", "--name", `f${i}`, file, url);
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", new URL("../cli.ts", import.meta.url).pathname, "ls", url],
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  // Read nothing and close stdout at once, as `head -0` would.
  await child.stdout.cancel();
  const res = await child.output().catch(() => undefined);
  const status = await child.status;
  const stderr = res ? new TextDecoder().decode(res.stderr) : "";
  assert.ok(status.code === 0 || status.code === 141, `exit ${status.code}`);
  assert.doesNotMatch(stderr, /unexpected error|Broken pipe/);
  await Deno.remove(dir, { recursive: true });
});
