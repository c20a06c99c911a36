/**
 * chaos+ in front of real stores (file://, memory://, par2+file:// with the
 * real par2): deterministic faults by seed, retries that carry puts through,
 * truncated puts caught by validation, and the conformance suite.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { getBackend, type GetBackendOptions, ParsedUrl } from "../mod.ts";
import { ChaosBackend, withoutChaosKeys } from "../backends/chaos.ts";
import { testConformance } from "../testing/mod.ts";
import { expectCode, randomFile } from "./_helpers.ts";
import { haveProgram } from "./servers/common.ts";

/** A no-op sleep: retries and latency never wait real time. */
const noSleep = (): Promise<void> => Promise.resolve();

Deno.test("chaos+file:// passes the conformance suite with failures, latency and retries", async (t) => {
  const dir = await Deno.makeTempDir();
  // Faults on put and get (the wrapper retries them); the suite also calls
  // some raw methods (no retries), which stay undisturbed.
  const url = `chaos+file://${dir}/store?fail=0.2&seed=11&ops=put,get&latency=5ms`;
  await testConformance(t, url, {
    manyFiles: 300,
    storeOptions: { maxAttempts: 10, sleep: noSleep },
  });
  await Deno.remove(dir, { recursive: true });
});

Deno.test("with the default retries, puts through fail=0.3 land intact", async () => {
  const dir = await Deno.makeTempDir();
  await using store = await getBackend(`chaos+file://${dir}/store?fail=0.3&seed=7`, {
    sleep: noSleep,
  });
  const sent = new Map<string, Uint8Array>();
  // The faults are fixed by the seed, so this outcome is the same on every run.
  for (let i = 0; i < 20; i++) {
    const src = join(dir, `src-${i}`);
    sent.set(`file-${i}`, await randomFile(src, 1000 + i * 777));
    await store.put(src, `file-${i}`);
  }
  const stats = (store.backend as ChaosBackend).stats;
  assert.ok(stats.failedBefore > 0 && stats.failedAfter > 0, JSON.stringify(stats));
  // Read back through a plain store: every file is there, whole.
  await using plain = await getBackend(`file://${dir}/store`);
  assert.deepEqual((await plain.list()).sort(), [...sent.keys()].sort());
  for (const [name, data] of sent) {
    await plain.get(name, join(dir, "dst"));
    assert.deepEqual(await Deno.readFile(join(dir, "dst")), data, name);
  }
  await Deno.remove(dir, { recursive: true });
});

Deno.test("the same seed gives the same faults; another seed gives others", async () => {
  async function pattern(seed: number): Promise<string[]> {
    const log: string[] = [];
    await using store = await getBackend(
      `chaos+memory://chaos-seed-${seed}?fail=0.4&seed=${seed}`,
      {
        sleep: noSleep,
        maxAttempts: 10,
        log: (_l, m) => log.push(m.replace(/retrying in .*/, "")),
      },
    );
    const src = await Deno.makeTempFile();
    for (let i = 0; i < 20; i++) await store.put(src, `f${i}`);
    await store.list();
    await Deno.remove(src);
    return log;
  }
  const a = await pattern(5);
  assert.ok(a.length > 0);
  assert.deepEqual(await pattern(5), a);
  assert.notDeepEqual(await pattern(6), a);
});

Deno.test("a truncated put reports success and the wrapper's validate catches it (56)", async () => {
  const dir = await Deno.makeTempDir();
  const src = join(dir, "src");
  await randomFile(src, 10_000);
  await using store = await getBackend(`chaos+file://${dir}/store?truncate=1&seed=1`, {
    sleep: noSleep,
  });
  await store.put(src, "vol1");
  assert.equal((store.backend as ChaosBackend).stats.truncated, 1);
  assert.ok(Deno.statSync(join(dir, "store", "vol1")).size < 10_000);
  const err = await expectCode(store.validate("vol1", 10_000), 56);
  assert.match(err.message, /does not match local size 10000/);
  await expectCode(store.put(src, "vol2", { validate: true }), 56);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("a failure after the call leaves its effect; a failure before does not", async () => {
  const dir = await Deno.makeTempDir();
  const src = join(dir, "src");
  await Deno.writeTextFile(src, "data");
  for (const when of ["before", "after"]) {
    await using store = await getBackend(`chaos+file://${dir}/${when}?fail=1&when=${when}`, {
      maxAttempts: 1,
    });
    const err = await expectCode(store.put(src, "f"), 50);
    assert.match(err.message, new RegExp(`injected failure ${when} put "f"`));
    const landed = await Deno.stat(join(dir, when, "f")).then(() => true, () => false);
    assert.equal(landed, when === "after", when);
  }
  await Deno.remove(dir, { recursive: true });
});

Deno.test("match= limits faults to matching names and spares list", async () => {
  const dir = await Deno.makeTempDir();
  const src = join(dir, "src");
  await Deno.writeTextFile(src, "data");
  await using store = await getBackend(`chaos+file://${dir}/store?fail=1&when=before&match=vol`, {
    maxAttempts: 2,
    sleep: noSleep,
  });
  await store.put(src, "duplicity-full.manifest");
  const err = await expectCode(store.put(src, "duplicity-full.vol1.difftar"), 50);
  assert.equal(err.attempts, 2);
  assert.deepEqual(await store.list(), ["duplicity-full.manifest"]);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("latency waits through the injected sleep before every affected call", async () => {
  const waits: number[] = [];
  await using store = await getBackend("chaos+memory://chaos-latency?latency=50ms&ops=put,list", {
    sleep: (ms: number) => {
      waits.push(ms);
      return Promise.resolve();
    },
  });
  const src = await Deno.makeTempFile();
  await store.put(src, "a");
  const puts = waits.length; // the put (memory:// uses no temporary names: no sweep)
  await store.list();
  await store.queryInfo("a");
  assert.equal(puts, 1);
  assert.deepEqual(waits, Array(puts + 1).fill(50));
  await Deno.remove(src);
});

Deno.test("chaos keys are stripped from the inner URL; bad or repeated ones are code 23", async () => {
  assert.equal(
    withoutChaosKeys("s3://bucket/p?endpoint=http%3A%2F%2Fx&fail=0.2&seed=7#frag"),
    "s3://bucket/p?endpoint=http%3A%2F%2Fx#frag",
  );
  assert.equal(withoutChaosKeys("file:///d?fail=0.2&latency=5ms"), "file:///d");
  const b = new ChaosBackend(new ParsedUrl("memory://x?fail=0.1&seed=2&keep=1"));
  assert.equal(b.innerUrl.geturl(), "memory://x?keep=1");
  assert.equal(b.url.geturl(), "chaos+memory://x?fail=0.1&seed=2&keep=1");
  assert.equal(b.seed, 2);
  for (const bad of ["fail=2", "fail=0.1&fail=0.2", "ops=put,fly", "latency=soon", "when=never"]) {
    await expectCode(getBackend(`chaos+memory://x?${bad}`), 23);
  }
  // Options work too and win over the query.
  const o = new ChaosBackend(new ParsedUrl("memory://x?seed=2"), { chaosSeed: 9 });
  assert.equal(o.seed, 9);
  // An option neither chaos nor the inner store knows is refused at once, before any I/O.
  const err = await expectCode(
    getBackend("chaos+file:///tmp/stowage-chaos-opts", { dirMod: 1 } as GetBackendOptions),
    23,
  );
  assert.match(err.message, /did you mean "dirMode"/);
});

Deno.test({
  name: "chaos+par2+file:// carries puts through failures and still repairs damage",
  ignore: !haveProgram("par2"),
  async fn() {
    const dir = await Deno.makeTempDir();
    const src = join(dir, "src");
    const data = await randomFile(src, 200_000);
    await using store = await getBackend(`chaos+par2+file://${dir}/store?fail=0.3&seed=3`, {
      sleep: noSleep,
      maxAttempts: 10,
    });
    await store.put(src, "vol1");
    const f = await Deno.open(join(dir, "store", "vol1"), { write: true });
    await f.seek(100_000, Deno.SeekMode.Start);
    await f.write(new Uint8Array(500));
    f.close();
    await store.get("vol1", join(dir, "dst"));
    assert.deepEqual(await Deno.readFile(join(dir, "dst")), data);
    assert.deepEqual(await store.list(), ["vol1"]);
    await Deno.remove(dir, { recursive: true });
  },
});
