/**
 * multi:// over real stores of different kinds (file://, memory://, and a
 * failing store made with chaos+): mirror, stripe, both onfail modes, prefix
 * affinity, the configuration's checks, and the conformance suite over a
 * mirror.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { getBackend, type GetBackendOptions } from "../mod.ts";
import { MultiBackend } from "../backends/multi/mod.ts";
import { testConformance } from "../testing/mod.ts";
import { expectCode } from "./_helpers.ts";
import { haveSshd, startSshd } from "./servers/sftp.ts";

/** No real backoff waits. */
const FAST: GetBackendOptions = { maxAttempts: 3, sleep: () => Promise.resolve() };

/** A scratch folder with a config file listing the stores `make` gives for it. */
async function setup(
  make: (dir: string) => unknown[],
): Promise<{ dir: string; config: string }> {
  const dir = await Deno.makeTempDir({ prefix: "stowage-multi-" });
  const config = join(dir, "config.json");
  await Deno.writeTextFile(config, JSON.stringify(make(dir), null, 2));
  return { dir, config };
}

function unique(label: string): string {
  return `memory://multi-${label}-${crypto.randomUUID().slice(0, 8)}`;
}

async function localFile(dir: string, name: string, text: string): Promise<string> {
  const path = join(dir, name);
  await Deno.writeTextFile(path, text);
  return path;
}

async function namesOf(url: string): Promise<string[]> {
  await using s = await getBackend(url);
  return (await s.list().catch(() => [])).sort();
}

Deno.test("multi:// mirror over file:// and memory:// passes the conformance suite", async (t) => {
  const mem = unique("conf");
  const { dir, config } = await setup((d) => [
    { url: `file://${d}/disk`, description: "disk" },
    { url: mem, description: "memory" },
  ]);
  await testConformance(t, `multi://${config}?mode=mirror`, { manyFiles: 300 });
  assert.deepEqual(await namesOf(mem), []);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("mirror puts to every store, gets from the first that has it, deletes everywhere", async () => {
  const mem = unique("mirror");
  const { dir, config } = await setup((dir) => [{ url: `file://${dir}/disk` }, { url: mem }]);
  await using store = await getBackend(`multi://${config}?mode=mirror`, FAST);
  await store.put(await localFile(dir, "src", "hello"), "a");
  assert.deepEqual(await namesOf(`file://${dir}/disk`), ["a"]);
  assert.deepEqual(await namesOf(mem), ["a"]);
  // Gone from the first store: the second serves it.
  await Deno.remove(join(dir, "disk", "a"));
  await store.get("a", join(dir, "got"));
  assert.equal(await Deno.readTextFile(join(dir, "got")), "hello");
  assert.deepEqual(await store.list(), ["a"]);
  await store.delete("a");
  assert.deepEqual(await namesOf(mem), []);
  await expectCode(store.get("a", join(dir, "got2")), 52);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("mirror with onfail=continue goes on when a store gives up, and lists the others with a warning", async () => {
  const mem = unique("cont");
  // The failing store comes first: every call to it fails after its own 3 attempts.
  const { dir, config } = await setup(() => [
    { url: `chaos+${unique("broken")}?fail=1&when=before`, description: "broken" },
    { url: mem, description: "good" },
  ]);
  const logs: string[] = [];
  await using store = await getBackend(`multi://${config}?mode=mirror&onfail=continue`, {
    ...FAST,
    log: (level, m) => logs.push(`${level} ${m}`),
  });
  await store.put(await localFile(dir, "src", "data"), "f");
  assert.deepEqual(await namesOf(mem), ["f"]);
  assert.ok(logs.some((l) => /Attempt 3 of 3 to put|after 3 attempts/.test(l)), logs.join("\n"));
  assert.ok(
    logs.some((l) => /^warn Cannot put "f" on store 1 \(broken\)/.test(l)),
    logs.join("\n"),
  );
  logs.length = 0;
  assert.deepEqual(await store.list(), ["f"]);
  assert.ok(logs.some((l) => /^warn Cannot list store 1 \(broken\)/.test(l)), logs.join("\n"));
  await store.get("f", join(dir, "got"));
  assert.equal(await Deno.readTextFile(join(dir, "got")), "data");
  assert.equal((await store.queryInfo("f"))["f"]?.size, 4);
  await store.delete("f");
  assert.deepEqual(await namesOf(mem), []);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("mirror with onfail=abort fails at the first store that gives up and writes no further", async () => {
  const mem = unique("abort");
  const { dir, config } = await setup(() => [
    { url: `chaos+${unique("broken")}?fail=1&when=before&ops=put`, description: "broken" },
    { url: mem, description: "good" },
  ]);
  await using store = await getBackend(`multi://${config}?mode=mirror&onfail=abort`, {
    ...FAST,
    maxAttempts: 1,
  });
  const err = await expectCode(store.put(await localFile(dir, "src", "x"), "f"), 50);
  assert.match(err.message, /store 1 \(broken\).*injected failure.*onfail=abort/);
  assert.deepEqual(await namesOf(mem), []);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("mirror goes on when one store's folder is removed (replaced by a file)", async () => {
  const mem = unique("removed");
  const { dir, config } = await setup((dir) => [{ url: `file://${dir}/gone` }, { url: mem }]);
  await Deno.writeTextFile(join(dir, "gone"), "not a folder");
  const logs: string[] = [];
  await using store = await getBackend(`multi://${config}?mode=mirror`, {
    ...FAST,
    log: (level, m) => logs.push(`${level} ${m}`),
  });
  await store.put(await localFile(dir, "src", "x"), "f");
  assert.deepEqual(await store.list(), ["f"]);
  assert.ok(logs.some((l) => /^warn Cannot list store 1/.test(l)), logs.join("\n"));
  await Deno.remove(dir, { recursive: true });
});

Deno.test("stripe puts round-robin, moves on past a failing store, and reads each file back", async () => {
  const [a, c] = [unique("sa"), unique("sc")];
  const { dir, config } = await setup((
    dir,
  ) => [{ url: a }, { url: `file://${dir}/b` }, { url: c }]);
  await using store = await getBackend(`multi://${config}`, FAST); // stripe is the default
  assert.equal((store.backend as MultiBackend).settings.mode, "stripe");
  for (let i = 0; i < 6; i++) await store.put(await localFile(dir, "src", `v${i}`), `f${i}`);
  assert.deepEqual(await namesOf(a), ["f0", "f3"]);
  assert.deepEqual(await namesOf(`file://${dir}/b`), ["f1", "f4"]);
  assert.deepEqual(await namesOf(c), ["f2", "f5"]);
  assert.deepEqual((await store.list()).sort(), ["f0", "f1", "f2", "f3", "f4", "f5"]);
  for (let i = 0; i < 6; i++) {
    await store.get(`f${i}`, join(dir, "got"));
    assert.equal(await Deno.readTextFile(join(dir, "got")), `v${i}`);
  }
  // An overwrite lands where the turn is (store a) and removes the old copy from b.
  await store.put(await localFile(dir, "src", "new"), "f1");
  assert.deepEqual(await namesOf(a), ["f0", "f1", "f3"]);
  assert.deepEqual(await namesOf(`file://${dir}/b`), ["f4"]);
  await store.get("f1", join(dir, "got"));
  assert.equal(await Deno.readTextFile(join(dir, "got")), "new");
  await store.delete(["f0", "f1", "f2", "f3", "f4", "f5"]);
  assert.deepEqual(await store.list(), []);
  // b's folder becomes a file: its turn passes to the next store.
  await Deno.remove(join(dir, "b"), { recursive: true });
  await Deno.writeTextFile(join(dir, "b"), "blocked");
  for (let i = 0; i < 3; i++) await store.put(await localFile(dir, "src", "x"), `g${i}`);
  assert.deepEqual([...await namesOf(a), ...await namesOf(c)].sort(), ["g0", "g1", "g2"]);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("stripe with onfail=abort fails on the failing store's turn", async () => {
  const [a, c] = [unique("ta"), unique("tc")];
  const { dir, config } = await setup(() => [
    { url: a },
    { url: `chaos+${unique("tb")}?fail=1&when=before` },
    { url: c },
  ]);
  await using store = await getBackend(`multi://${config}?onfail=abort`, {
    ...FAST,
    maxAttempts: 1,
  });
  await store.put(await localFile(dir, "src", "x"), "first");
  await expectCode(store.put(await localFile(dir, "src", "x"), "second"), 50);
  assert.deepEqual([...await namesOf(a), ...await namesOf(c)], ["first"]);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("prefix affinity sends names to the stores that claim their prefix, others everywhere", async () => {
  const [full, inc, rest] = [unique("pf"), unique("pi"), unique("pr")];
  const { dir, config } = await setup(() => [
    { url: full, prefixes: ["duplicity-full"] },
    { url: inc, prefixes: ["duplicity-inc", "duplicity-new-signatures"] },
    { url: rest },
  ]);
  await using store = await getBackend(`multi://${config}?mode=mirror`, FAST);
  const src = await localFile(dir, "src", "x");
  await store.put(src, "duplicity-full.1.vol1");
  await store.put(src, "duplicity-inc.2.vol1");
  await store.put(src, "manifest");
  assert.deepEqual(await namesOf(full), ["duplicity-full.1.vol1", "manifest"]);
  assert.deepEqual(await namesOf(inc), ["duplicity-inc.2.vol1", "manifest"]);
  assert.deepEqual(await namesOf(rest), ["manifest"]);
  await store.get("duplicity-inc.2.vol1", join(dir, "got"));
  // Stripe mode refuses prefixes, as duplicity does.
  const err = await expectCode(getBackend(`multi://${config}`).then((s) => s.list()), 23);
  assert.match(err.message, /stripe/);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("unknown or repeated query keys and bad values are code 23", async () => {
  const { dir, config } = await setup(() => [{ url: unique("q") }]);
  let err = await expectCode(getBackend(`multi://${config}?mdoe=mirror`), 23);
  assert.match(err.message, /unknown query key "mdoe"; did you mean "mode"/);
  err = await expectCode(getBackend(`multi://${config}?mode=mirror&mode=stripe`), 23);
  assert.match(err.message, /more than once/);
  await expectCode(getBackend(`multi://${config}?mode=raid5`), 23);
  await expectCode(getBackend(`multi://${config}?onfail=ignore`), 23);
  await expectCode(getBackend(`multi://${config}`, { mood: "x" } as GetBackendOptions), 23);
  // Options of the same names work and win over the query.
  const b = new MultiBackend(
    (await getBackend(`multi://${config}?mode=stripe`)).backend.url,
    { mode: "mirror" },
  );
  assert.equal(b.settings.mode, "mirror");
  await Deno.remove(dir, { recursive: true });
});

Deno.test("a bad configuration is refused clearly at first use", async () => {
  const { dir, config } = await setup(() => []);
  const cases: [string, number, RegExp][] = [
    ["{not json", 23, /not valid JSON/],
    ["{}", 23, /JSON list of stores/],
    ["[]", 23, /names no stores/],
    [
      '[{"url": "memory://x", "prefix": ["a"]}]',
      23,
      /unknown key "prefix"; did you mean "prefixes"/,
    ],
    ['[{"description": "no url"}]', 23, /store 1 has no "url"/],
    ['[{"url": "nosuch://x"}]', 23, /Unknown backend scheme "nosuch"/],
    [
      '[{"url":"memory://a","env":[{"name":"V","value":"1"}]},{"url":"memory://b","env":[{"name":"V","value":"2"}]}]',
      23,
      /environment variable V/,
    ],
  ];
  for (const [text, code, re] of cases) {
    await Deno.writeTextFile(config, text);
    await using store = await getBackend(`multi://${config}`, FAST);
    const err = await expectCode(store.list(), code);
    assert.match(err.message, re, text);
  }
  await using missing = await getBackend(`multi://${dir}/nope.json`, FAST);
  const err = await expectCode(missing.list(), 52);
  assert.match(err.message, /nope\.json/);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("env entries are set before the store is built; subpath is appended to every URL", async () => {
  const name = `STOWAGE_MULTI_TEST_${crypto.randomUUID().slice(0, 8).toUpperCase()}`;
  const base = unique("sub");
  const { dir, config } = await setup((dir) => [
    { url: base, env: [{ name, value: "set" }] },
    { url: `file://${dir}/disk/` },
  ]);
  await using store = await getBackend(`multi://${config}?mode=mirror&subpath=host1`, FAST);
  await store.put(await localFile(dir, "src", "x"), "f");
  assert.equal(Deno.env.get(name), "set");
  Deno.env.delete(name);
  assert.deepEqual(await namesOf(`${base}host1`), ["f"]);
  assert.deepEqual(await namesOf(`file://${dir}/disk/host1`), ["f"]);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("instances share no state: stores, stripe turns and list failures are each their own", async () => {
  const [a1, b1, a2] = [unique("i-a1"), unique("i-b1"), unique("i-a2")];
  const one = await setup(() => [{ url: a1 }, { url: `chaos+${b1}?fail=1&when=before&ops=list` }]);
  const two = await setup(() => [{ url: a2 }]);
  const logs: string[] = [];
  const opts = { ...FAST, log: (l: string, m: string) => logs.push(`${l} ${m}`) };
  await using s1 = await getBackend(`multi://${one.config}`, opts);
  await using s2 = await getBackend(`multi://${two.config}`, opts);
  await s1.put(await localFile(one.dir, "src", "x"), "only-in-one");
  await s1.list(); // store 2 of the first instance fails to list: a warning there
  logs.length = 0;
  assert.deepEqual(await s2.list(), []);
  assert.deepEqual(logs.filter((l) => l.startsWith("warn")), [], "no warning leaked across");
  // Each instance starts its own round-robin at its own first store.
  await s2.put(await localFile(two.dir, "src", "y"), "two");
  assert.deepEqual(await namesOf(a2), ["two"]);
  assert.deepEqual(await namesOf(a1), ["only-in-one"]);
  await Deno.remove(one.dir, { recursive: true });
  await Deno.remove(two.dir, { recursive: true });
});

Deno.test({
  name: "mirror over file:// and sftp:// goes on with the disk when the SSH server goes away",
  ignore: !haveSshd(),
  async fn() {
    const srv = await startSshd();
    const knownHostsFile = join(srv.dir, "known_hosts");
    await Deno.writeTextFile(knownHostsFile, `${srv.knownHostsLine}\n`);
    const sftp = {
      url: `sftp://${srv.user}@127.0.0.1:${srv.port}/mirror`,
      description: "ssh",
      options: { knownHostsFile, identityFile: srv.clientKey, agent: "none", sshConfig: "none" },
    };
    const { dir, config } = await setup((d) => [{ url: `file://${d}/disk` }, sftp]);
    const logs: string[] = [];
    await using store = await getBackend(`multi://${config}?mode=mirror`, {
      ...FAST,
      log: (level, m) => logs.push(`${level} ${m}`),
    });
    try {
      await store.put(await localFile(dir, "src", "both"), "one");
      assert.deepEqual([...Deno.readDirSync(join(srv.root, "mirror"))].map((e) => e.name), ["one"]);
    } finally {
      await srv.stop();
    }
    await store.put(await localFile(dir, "src", "disk only"), "two");
    assert.ok(
      logs.some((l) => /^warn Cannot put "two" on store 2 \(ssh\)/.test(l)),
      logs.join("\n"),
    );
    assert.deepEqual((await store.list()).sort(), ["one", "two"]);
    assert.ok(logs.some((l) => /^warn Cannot list store 2 \(ssh\)/.test(l)), logs.join("\n"));
    await store.get("two", join(dir, "got"));
    assert.equal(await Deno.readTextFile(join(dir, "got")), "disk only");
    await Deno.remove(dir, { recursive: true });
  },
});
