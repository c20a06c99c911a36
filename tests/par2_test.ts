/**
 * par2+ against the real par2 program (Debian package par2): the
 * conformance suite over file:// and memory:// (sftp below, over a real
 * sshd), repair of damaged files, failures beyond repair, and a missing par2.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { getBackend, type GetBackendOptions, ParsedUrl } from "../mod.ts";
import { Par2Backend } from "../backends/par2/mod.ts";
import { testConformance } from "../testing/mod.ts";
import { expectCode, randomFile } from "./_helpers.ts";
import { requireProgram, run } from "./servers/common.ts";
import { haveSshd, startSshd } from "./servers/sftp.ts";

const PAR2 = requireProgram("par2", "par2");
const SSHD = PAR2 && haveSshd();

/** Fast retries: no real backoff waits. */
const FAST: GetBackendOptions = { maxAttempts: 3, sleep: () => Promise.resolve() };

/** Overwrite `count` bytes at `offset` of a file with a fixed pattern. */
async function damage(path: string, offset: number, count: number): Promise<void> {
  const f = await Deno.open(path, { write: true });
  try {
    await f.seek(offset, Deno.SeekMode.Start);
    await f.write(new Uint8Array(count).fill(0x5a));
  } finally {
    f.close();
  }
}

function names(dir: string): string[] {
  return [...Deno.readDirSync(dir)].map((e) => e.name).sort();
}

Deno.test({
  name: "par2+file:// passes the conformance suite with the real par2",
  ignore: !PAR2,
  async fn(t) {
    const dir = await Deno.makeTempDir();
    await testConformance(t, `par2+file://${dir}/store`, { manyFiles: 300 });
    assert.deepEqual(names(join(dir, "store")), [], "recovery files were left behind");
    await Deno.remove(dir, { recursive: true });
  },
});

Deno.test({
  name: "par2+memory:// passes the conformance suite with the real par2",
  ignore: !PAR2,
  async fn(t) {
    await testConformance(t, "par2+memory://par2-conformance", { manyFiles: 100 });
    const raw = await getBackend("memory://par2-conformance");
    assert.deepEqual(await raw.list(), [], "recovery files were left behind");
  },
});

Deno.test({
  name:
    "par2+ stores recovery files beside the file, hides them from list and deletes them with it",
  ignore: !PAR2,
  async fn() {
    const dir = await Deno.makeTempDir();
    const src = join(dir, "src");
    await randomFile(src, 200_000);
    await using store = await getBackend(`par2+file://${dir}/store`, FAST);
    await store.put(src, "vol1.difftar.gpg");
    const stored = names(join(dir, "store"));
    assert.deepEqual(stored.filter((n) => !n.endsWith(".par2")), ["vol1.difftar.gpg"]);
    assert.ok(stored.includes("vol1.difftar.gpg.par2"), stored.join(", "));
    assert.equal(stored.filter((n) => /^vol1\.difftar\.gpg\.vol\d+\+\d+\.par2$/.test(n)).length, 1);
    assert.deepEqual(await store.list(), ["vol1.difftar.gpg"]);
    assert.equal((await store.queryInfo("vol1.difftar.gpg"))["vol1.difftar.gpg"]?.size, 200_000);
    await store.delete("vol1.difftar.gpg");
    assert.deepEqual(names(join(dir, "store")), []);
    // A delete where the folder does not exist is fine too.
    await using fresh = await getBackend(`par2+file://${dir}/never-made`, FAST);
    await fresh.delete("nothing");
    await Deno.remove(dir, { recursive: true });
  },
});

Deno.test({
  name:
    "par2+ repairs bytes overwritten in the middle of a stored file and hands back the original",
  ignore: !PAR2,
  async fn() {
    const dir = await Deno.makeTempDir();
    const src = join(dir, "src");
    const data = await randomFile(src, 1_000_000);
    const logs: string[] = [];
    await using store = await getBackend(`par2+file://${dir}/store`, {
      ...FAST,
      log: (_level, message) => logs.push(message),
    });
    await store.put(src, "backup.bin");
    await damage(join(dir, "store", "backup.bin"), 500_000, 4096);
    const dst = join(dir, "dst");
    await store.get("backup.bin", dst);
    assert.deepEqual(await Deno.readFile(dst), data);
    assert.ok(logs.some((m) => /repaired/.test(m)), logs.join("\n"));
    // No backup copy (.1) or temporary folder is left anywhere.
    assert.deepEqual(names(dir), ["dst", "src", "store"]);
    const stored = names(join(dir, "store"));
    assert.equal(stored.length, 3, stored.join(", "));
    await Deno.remove(dir, { recursive: true });
  },
});

Deno.test({
  name:
    "par2+ repairs a truncated file and one whose index file is missing, never hands back an emptied one",
  ignore: !PAR2,
  async fn() {
    const dir = await Deno.makeTempDir();
    const src = join(dir, "src");
    const data = await randomFile(src, 300_000);
    await using store = await getBackend(`par2+file://${dir}/store`, FAST);
    await store.put(src, "a.bin");
    await store.put(src, "b.bin");
    await store.put(src, "c.bin");
    await Deno.truncate(join(dir, "store", "a.bin"), 290_000);
    await Deno.truncate(join(dir, "store", "c.bin"), 0);
    await Deno.remove(join(dir, "store", "b.bin.par2"));
    await damage(join(dir, "store", "b.bin"), 1000, 100);
    for (const n of ["a.bin", "b.bin"]) {
      await store.get(n, join(dir, n));
      assert.deepEqual(await Deno.readFile(join(dir, n)), data, n);
    }
    // Cut to nothing is beyond 10 % of recovery data: never handed back empty.
    await expectCode(store.get("c.bin", join(dir, "c.bin")), 56);
    await Deno.remove(dir, { recursive: true });
  },
});

Deno.test({
  name: "par2+ fails with 56 and leaves no local file when the damage is beyond repair",
  ignore: !PAR2,
  async fn() {
    const dir = await Deno.makeTempDir();
    const src = join(dir, "src");
    await randomFile(src, 400_000);
    await using store = await getBackend(`par2+file://${dir}/store`, FAST);
    await store.put(src, "big.bin");
    await damage(join(dir, "store", "big.bin"), 10_000, 200_000);
    const err = await expectCode(store.get("big.bin", join(dir, "dst")), 56);
    assert.match(err.message, /damaged beyond repair/);
    assert.equal(err.attempts, 1, "a file beyond repair is not retried");
    assert.deepEqual(names(dir), ["src", "store"]);
    await Deno.remove(dir, { recursive: true });
  },
});

Deno.test({
  name: "par2+ with a missing par2 program fails with 54 and says what to install",
  async fn() {
    const dir = await Deno.makeTempDir();
    const src = join(dir, "src");
    await Deno.writeTextFile(src, "some data");
    await using store = await getBackend(`par2+file://${dir}/store`, {
      ...FAST,
      par2Path: "/nonexistent/par2",
    });
    const err = await expectCode(store.put(src, "file"), 54);
    assert.match(err.message, /par2.*not found.*Debian package par2/);
    assert.deepEqual(names(dir), ["src"], "nothing was uploaded");
    await Deno.remove(dir, { recursive: true });
  },
});

Deno.test({
  name: "par2+ keeps its own options and passes the others to the inner store",
  async fn() {
    const inner = new ParsedUrl("file:///tmp/stowage-par2-options");
    const b = new Par2Backend(inner, { par2Redundancy: "30", dirMode: 0o700 });
    assert.equal(b.url.geturl(), "par2+file:///tmp/stowage-par2-options");
    assert.equal(b.innerUrl, inner);
    await expectCode(
      getBackend("par2+file:///tmp/stowage-par2-options", { par2Redundancy: 0 }),
      23,
    );
    await expectCode(getBackend("par2+file:///tmp/x", { par2Args: "-p" }), 23);
    // A key neither par2 nor the inner store knows is refused at once, naming the key.
    const err = await expectCode(
      getBackend(
        "par2+file:///tmp/stowage-par2-options",
        { ...FAST, dirMod: 1 } as GetBackendOptions,
      ),
      23,
    );
    assert.match(err.message, /did you mean "dirMode"/);
    const store = await getBackend("par2+file:///tmp/stowage-par2-options", FAST);
    const src = await Deno.makeTempFile();
    await expectCode(store.put(src, "x.par2"), 23);
    await Deno.remove(src);
  },
});

Deno.test({
  name: "par2+ overwrite replaces the recovery data and removes the old version's volumes",
  ignore: !PAR2,
  async fn() {
    const dir = await Deno.makeTempDir();
    const src = join(dir, "src");
    await using store = await getBackend(`par2+file://${dir}/store`, {
      ...FAST,
      par2Volumes: 3,
      par2Redundancy: 20,
    });
    await randomFile(src, 2_000_000);
    await store.put(src, "f.bin");
    const before = names(join(dir, "store"));
    const small = await randomFile(src, 5000);
    await store.put(src, "f.bin");
    const after = names(join(dir, "store"));
    // What par2 makes for the new version, and nothing else, is left.
    const ref = join(dir, "ref");
    await Deno.mkdir(ref);
    await Deno.copyFile(src, join(ref, "f.bin"));
    await run("par2", ["c", "-r20", "-n3", "-q", "-q", "f.bin.par2", "f.bin"], { cwd: ref });
    assert.deepEqual(after, names(ref));
    assert.ok(before.some((n) => !after.includes(n)), "the old version had other volume names");
    await damage(join(dir, "store", "f.bin"), 100, 50);
    await store.get("f.bin", join(dir, "dst"));
    assert.deepEqual(await Deno.readFile(join(dir, "dst")), small);
    await Deno.remove(dir, { recursive: true });
  },
});

Deno.test({
  name: "par2+ repairs files whose names par2 cannot take (wildcards, one character)",
  ignore: !PAR2,
  async fn() {
    const dir = await Deno.makeTempDir();
    const src = join(dir, "src");
    const data = await randomFile(src, 100_000);
    await using store = await getBackend(`par2+file://${dir}/store`, FAST);
    for (const n of ["question?mark", "star*", "x", " leading", "日本語"]) {
      await store.put(src, n);
      assert.ok(names(join(dir, "store")).includes(`${n}.par2`), n);
      await damage(join(dir, "store", n), 50_000, 300);
      await store.get(n, join(dir, "dst"));
      assert.deepEqual(await Deno.readFile(join(dir, "dst")), data, n);
    }
    await Deno.remove(dir, { recursive: true });
  },
});

Deno.test({
  name: "par2+ repairs with recovery files made the way duplicity makes them",
  ignore: !PAR2,
  async fn() {
    const dir = await Deno.makeTempDir();
    const store = join(dir, "store");
    await Deno.mkdir(store);
    const name = "duplicity-full.20260101T000000Z.vol1.difftar.gpg";
    const data = await randomFile(join(store, name), 250_000);
    await run("par2", ["c", "-r10", "-n1", "-q", "-q", `${name}.par2`, name], { cwd: store });
    await damage(join(store, name), 1234, 777);
    await using s = await getBackend(`par2+file://${store}`, FAST);
    assert.deepEqual(await s.list(), [name]);
    await s.get(name, join(dir, "dst"));
    assert.deepEqual(await Deno.readFile(join(dir, "dst")), data);
    await Deno.remove(dir, { recursive: true });
  },
});

Deno.test({
  name:
    "par2+sftp:// passes the conformance suite against OpenSSH and repairs damage on the server",
  ignore: !SSHD,
  async fn(t) {
    const srv = await startSshd();
    try {
      const knownHostsFile = join(srv.dir, "known_hosts");
      await Deno.writeTextFile(knownHostsFile, `${srv.knownHostsLine}\n`);
      const url = `par2+sftp://${srv.user}@127.0.0.1:${srv.port}/par2`;
      await testConformance(t, url, {
        clean: true,
        manyFiles: 150,
        storeOptions: {
          knownHostsFile,
          identityFile: srv.clientKey,
          agent: "none",
          sshConfig: "none",
          maxAttempts: 3,
          minTimeout: 10,
          maxTimeout: 50,
        },
      });
      assert.deepEqual(names(join(srv.root, "par2")), [], "recovery files were left behind");
      // Damage on the server is repaired on the way back.
      await using store = await getBackend(url, {
        knownHostsFile,
        identityFile: srv.clientKey,
        agent: "none",
        sshConfig: "none",
        ...FAST,
      });
      const src = await Deno.makeTempFile();
      const data = await randomFile(src, 500_000);
      await store.put(src, "remote.bin");
      await damage(join(srv.root, "par2", "remote.bin"), 250_000, 2000);
      await store.get("remote.bin", `${src}.back`);
      assert.deepEqual(await Deno.readFile(`${src}.back`), data);
      await Deno.remove(src);
      await Deno.remove(`${src}.back`);
    } finally {
      await srv.stop();
    }
  },
});
