import assert from "node:assert/strict";
import { join } from "node:path";
import { getBackend, ParsedUrl } from "../mod.ts";
import { isTempName } from "../kit.ts";
import { expectCode } from "./_helpers.ts";
import { FileBackend } from "../backends/file.ts";
import { MemoryBackend } from "../backends/memory.ts";
import { runConformance, testConformance } from "../testing/mod.ts";

Deno.test("file:// passes the conformance suite", async (t) => {
  const dir = await Deno.makeTempDir();
  await testConformance(t, `file://${dir}/store`);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("memory:// passes the conformance suite", async (t) => {
  await testConformance(t, "memory://conformance", { clean: true });
  MemoryBackend.reset();
});

Deno.test("the conformance suite refuses a non-empty location unless told to clean", async () => {
  const dir = await Deno.makeTempDir();
  await Deno.writeTextFile(join(dir, "precious"), "keep");
  const err = await runConformance(`file://${dir}`).catch((e) => e);
  assert.equal(err.code, 23);
  assert.match(err.message, /Refusing to test/);
  assert.equal(await Deno.readTextFile(join(dir, "precious")), "keep");
  const report = await runConformance(`file://${dir}`, { clean: true, only: ["list shows"] });
  assert.equal(report.passed, 1);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("file:// relative URLs resolve against the working folder", () => {
  const b = new FileBackend(new ParsedUrl("file://some/rel"));
  assert.equal(b.dir, join(Deno.cwd(), "some/rel"));
  assert.equal(new FileBackend(new ParsedUrl("file:///abs/dir")).dir, "/abs/dir");
});

Deno.test("file:// lists a missing folder as 52 naming it, and creates it on the first put", async () => {
  const dir = await Deno.makeTempDir();
  const src = join(dir, "src");
  await Deno.writeTextFile(src, "hello");
  await using store = await getBackend(`file://${dir}/a/b/c`, { maxAttempts: 1 });
  const err = await expectCode(store.list(), 52);
  assert.match(err.message, /no such folder ".*\/a\/b\/c"/);
  await store.put(src, "hello");
  assert.deepEqual(await store.list(), ["hello"]);
  assert.equal(await Deno.readTextFile(join(dir, "a/b/c/hello")), "hello");
  await Deno.remove(dir, { recursive: true });
});

Deno.test("file:// put leaves no temporary file when the copy fails", async () => {
  const dir = await Deno.makeTempDir();
  const store = await getBackend(`file://${dir}/store`, { maxAttempts: 1 });
  const src = join(dir, "src");
  await Deno.writeTextFile(src, "x");
  await store.put(src, "first");
  // A directory in place of the final name makes the rename fail after the copy.
  await Deno.mkdir(join(dir, "store", "blocked"));
  await Deno.writeTextFile(join(dir, "store", "blocked", "inside"), "x");
  await assert.rejects(store.put(src, "blocked"));
  const names = [...Deno.readDirSync(join(dir, "store"))].map((e) => e.name);
  assert.deepEqual(names.filter(isTempName), []);
  await store.close();
  await Deno.remove(dir, { recursive: true });
});

Deno.test("file:// move renames without copying", async () => {
  const dir = await Deno.makeTempDir();
  const src = join(dir, "src");
  await Deno.writeTextFile(src, "payload");
  const ino = (await Deno.stat(src)).ino;
  await using store = await getBackend(`file://${dir}/store`);
  await store.move(src, "moved");
  assert.equal((await Deno.stat(join(dir, "store", "moved"))).ino, ino);
  await assert.rejects(Deno.stat(src));
  await Deno.remove(dir, { recursive: true });
});

Deno.test("file:// list skips sub-folders", async () => {
  const dir = await Deno.makeTempDir();
  await Deno.mkdir(join(dir, "sub"));
  await Deno.writeTextFile(join(dir, "f"), "x");
  await using store = await getBackend(`file://${dir}`);
  assert.deepEqual(await store.list(), ["f"]);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("file:// permission denied maps to code 51", async () => {
  if (Deno.uid() === 0) {
    // root ignores permission bits; a read-only bind is not available in tests.
    const store = await getBackend("file:///proc/stowage-cannot-write", { maxAttempts: 1 });
    const src = await Deno.makeTempFile();
    const err = await store.put(src, "x").catch((e) => e);
    assert.ok([51, 52].includes(err.code), `code ${err.code}: ${err.message}`);
    await Deno.remove(src);
    return;
  }
  const dir = await Deno.makeTempDir();
  await Deno.chmod(dir, 0o500);
  const store = await getBackend(`file://${dir}`, { maxAttempts: 1 });
  const src = await Deno.makeTempFile();
  assert.equal((await store.put(src, "x").catch((e) => e)).code, 51);
  await Deno.chmod(dir, 0o700);
  await Deno.remove(dir, { recursive: true });
  await Deno.remove(src);
});

Deno.test("stowage ls of a forgotten-slash file URL exits 52 instead of listing nothing", async () => {
  const { main } = await import("../cli.ts");
  let stderr = "";
  const code = await main(["ls", "file://tmp/stowage-no-such-dir-x1"], {
    stdout: () => {},
    stderr: (t) => stderr += t,
    isTerminal: false,
  });
  assert.equal(code, 52);
  assert.match(
    stderr,
    /^stowage: Cannot list "file:\/\/tmp\/stowage-no-such-dir-x1": no such folder/,
  );
});
