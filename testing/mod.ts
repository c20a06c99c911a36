/**
 * The conformance suite (duplicity's `backendtest`): every behaviour the
 * contract promises, runnable against any URL. `stowage test URL` runs it,
 * and the integration tests run it against real servers.
 *
 * @example
 * ```ts
 * import { runConformance } from "@stowage/backends/testing";
 * const report = await runConformance("memory://conformance-example", { manyFiles: 50 });
 * console.log(`${report.passed} passed, ${report.failed} failed`);
 * ```
 *
 * @module
 */

import { join } from "node:path";
import type { Backend } from "../core/backend.ts";
import { BackendError, ErrorCode, reasonOf } from "../core/errors.ts";
import { isTempName, nameProblem } from "../core/names.ts";
import { getBackend, type GetBackendOptions } from "../core/registry.ts";
import type { ParsedUrl } from "../core/url.ts";
import { BackendWrapper } from "../core/wrapper.ts";

/** Options for {@linkcode runConformance}. */
export interface ConformanceOptions {
  /** Delete what is already at the location first; default `false` (a non-empty location is refused). */
  clean?: boolean;
  /** How many files the pagination case puts and lists; default 1500. */
  manyFiles?: number;
  /** Size of the large-file case in bytes; default twice the backend's chunk size (or 1 MiB) plus 12,345. */
  largeFileSize?: number;
  /** Parallel puts in the pagination case; default 8. */
  concurrency?: number;
  /** Run only the cases whose names contain one of these strings. */
  only?: string[];
  /** Options for the store (wrapper and backend); default 3 attempts, 100 ms first backoff. */
  storeOptions?: GetBackendOptions;
  /** Called after each case, for live reports. */
  onResult?: (result: CaseResult) => void;
}

/** The outcome of one case. */
export interface CaseResult {
  /** The case's name, a sentence about the behaviour. */
  name: string;
  /** What happened. */
  status: "passed" | "failed" | "skipped";
  /** Why it failed or was skipped. */
  reason?: string;
  /** Milliseconds it took. */
  ms: number;
}

/** The outcome of a whole run. */
export interface ConformanceReport {
  /** The URL tested, without credentials. */
  url: string;
  /** One entry per case, in order. */
  results: CaseResult[];
  /** Cases that passed. */
  passed: number;
  /** Cases that failed. */
  failed: number;
  /** Cases skipped (the backend lacks the optional method they test). */
  skipped: number;
}

/** What a case gets to work with. */
interface CaseContext {
  store: BackendWrapper;
  backend: Backend;
  tmp: string;
  options: ConformanceOptions;
  storeOptions: GetBackendOptions;
  url: string | ParsedUrl;
}

/** Thrown by a case to mark itself skipped. */
class Skip extends Error {}

interface Case {
  name: string;
  run(c: CaseContext): Promise<void>;
}

/** The hostile and unicode names every backend must round-trip (unless it declares otherwise). */
export const HOSTILE_NAMES: readonly string[] = [
  "name with inner space",
  " leading-space",
  "trailing-space ",
  "quote'single",
  'quote"double',
  "hash#tag",
  "percent%sign",
  "percent%20encoded",
  "question?mark",
  "amp&ersand",
  "plus+sign",
  "equals=sign",
  "semi;colon",
  "co:lon",
  "at@sign",
  "bang!",
  "dollar$",
  "paren(",
  "bracket[",
  "brace{",
  "tilde~",
  "caf\u00e9-nfc",
  "cafe\u0301-nfd",
  "日本語",
  "emoji-😀",
  "duplicity-full.20261126T000000Z.vol1.difftar.gpg",
  "file:with.:colons_-and::etc",
];

/** Names that must be refused with code 23 before any I/O. */
export const INVALID_NAMES: readonly string[] = ["a/b", "", ".", ".."];

const enc = new TextEncoder();

function assert(cond: unknown, message: string): asserts cond {
  if (!cond) throw new Error(message);
}

function expectCode(err: unknown, code: number, what: string): void {
  if (!(err instanceof BackendError)) {
    throw new Error(`${what}: expected a BackendError with code ${code}, got ${reasonOf(err)}`);
  }
  if (err.code !== code) {
    throw new Error(`${what}: expected code ${code}, got ${err.code} (${err.message})`);
  }
}

async function rejects(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (err) {
    return err;
  }
  throw new Error("expected the call to fail, but it succeeded");
}

/** Write `size` deterministic pseudo-random bytes (seeded) to `path`, 1 MiB at a time. */
async function writeData(path: string, size: number, seed: number): Promise<void> {
  const file = await Deno.open(path, { write: true, create: true, truncate: true });
  try {
    let x = (seed * 2654435761) >>> 0 || 1;
    let left = size;
    const chunk = new Uint8Array(Math.min(size, 1 << 20) || 1);
    while (left > 0) {
      const n = Math.min(left, chunk.length);
      for (let i = 0; i < n; i++) {
        x ^= x << 13;
        x ^= x >>> 17;
        x ^= x << 5;
        chunk[i] = x & 0xff;
      }
      let off = 0;
      while (off < n) off += await file.write(chunk.subarray(off, n));
      left -= n;
    }
  } finally {
    file.close();
  }
}

/** Whether two files have the same bytes (read 1 MiB at a time). */
async function sameFile(a: string, b: string): Promise<boolean> {
  const [sa, sb] = await Promise.all([Deno.stat(a), Deno.stat(b)]);
  if (sa.size !== sb.size) return false;
  const fa = await Deno.open(a);
  const fb = await Deno.open(b);
  try {
    const ba = new Uint8Array(1 << 20);
    const bb = new Uint8Array(1 << 20);
    while (true) {
      const na = await readFull(fa, ba);
      const nb = await readFull(fb, bb);
      if (na !== nb) return false;
      if (na === 0) return true;
      for (let i = 0; i < na; i++) if (ba[i] !== bb[i]) return false;
    }
  } finally {
    fa.close();
    fb.close();
  }
}

async function readFull(f: Deno.FsFile, buf: Uint8Array): Promise<number> {
  let off = 0;
  while (off < buf.length) {
    const n = await f.read(buf.subarray(off));
    if (n === null) break;
    off += n;
  }
  return off;
}

async function putText(c: CaseContext, name: string, text: string): Promise<string> {
  const local = join(c.tmp, `src-${crypto.randomUUID()}`);
  await Deno.writeFile(local, enc.encode(text));
  await c.store.put(local, name);
  return local;
}

async function getText(c: CaseContext, name: string): Promise<string> {
  const local = join(c.tmp, `dst-${crypto.randomUUID()}`);
  await c.store.get(name, local);
  const text = new TextDecoder().decode(await Deno.readFile(local));
  await Deno.remove(local);
  return text;
}

async function expectListed(c: CaseContext, expected: string[]): Promise<void> {
  const got = (await c.store.list()).sort();
  const want = [...expected].sort();
  assert(
    JSON.stringify(got) === JSON.stringify(want),
    `list() returned ${JSON.stringify(got.slice(0, 20))}${
      got.length > 20 ? "…" : ""
    } (${got.length}), expected ${JSON.stringify(want.slice(0, 20))}${
      want.length > 20 ? "…" : ""
    } (${want.length})`,
  );
}

async function roundTrip(c: CaseContext, name: string, size: number, seed: number): Promise<void> {
  const src = join(c.tmp, `rt-src-${seed}`);
  const dst = join(c.tmp, `rt-dst-${seed}`);
  await writeData(src, size, seed);
  await c.store.put(src, name);
  await c.store.get(name, dst);
  assert(await sameFile(src, dst), `"${name}" (${size} bytes) came back different`);
  const info = await c.store.queryInfo([name]);
  const got = info[name]?.size;
  assert(
    got === null || got === size,
    `queryInfo says ${got} bytes for "${name}", expected ${size}`,
  );
  await c.store.delete([name]);
  await Deno.remove(src);
  await Deno.remove(dst);
  await expectListed(c, []);
}

/** A backend proxy that records every underscore call, to prove "before any I/O". */
function spyBackend(backend: Backend, calls: string[]): Backend {
  return new Proxy(backend, {
    get(target, prop) {
      const v = Reflect.get(target, prop, target);
      if (typeof v !== "function") return v;
      if (typeof prop === "string" && prop.startsWith("_")) {
        return (...args: unknown[]) => {
          calls.push(prop);
          return (v as (...a: unknown[]) => unknown).apply(target, args);
        };
      }
      return (v as (...a: unknown[]) => unknown).bind(target);
    },
  });
}

const CASES: Case[] = [
  {
    name: "put then get returns the same bytes",
    async run(c) {
      await roundTrip(c, "roundtrip.bin", 100_000, 1);
    },
  },
  {
    name: "list shows exactly the names put",
    async run(c) {
      await putText(c, "list-a", "a");
      await putText(c, "list-b", "bb");
      await expectListed(c, ["list-a", "list-b"]);
      await c.store.delete(["list-a", "list-b"]);
      await expectListed(c, []);
    },
  },
  {
    name: "delete removes one of two files and keeps the other",
    async run(c) {
      await putText(c, "del-keep", "keep");
      await putText(c, "del-gone", "gone");
      await c.store.delete("del-gone");
      await expectListed(c, ["del-keep"]);
      assert((await getText(c, "del-keep")) === "keep", "the kept file changed");
      await c.store.delete("del-keep");
    },
  },
  {
    name: "delete of a missing name succeeds",
    async run(c) {
      await c.store.delete("never-existed");
      await c.backend._delete("never-existed-raw");
    },
  },
  {
    name: "_deleteList tolerates a missing name in the middle",
    async run(c) {
      if (!c.backend._deleteList) throw new Skip("the backend has no _deleteList");
      await putText(c, "dl-1", "1");
      await putText(c, "dl-3", "3");
      await c.backend._deleteList(["dl-1", "dl-2-missing", "dl-3"]);
      await expectListed(c, []);
    },
  },
  {
    name: "move stores the file and removes the local copy",
    async run(c) {
      const local = join(c.tmp, "to-move");
      await Deno.writeTextFile(local, "moved content");
      await c.store.move(local, "moved");
      const gone = await Deno.stat(local).then(() => false, () => true);
      assert(gone, "the local file still exists after move()");
      assert((await getText(c, "moved")) === "moved content", "the moved file has other content");
      await c.store.delete("moved");
    },
  },
  {
    name: "query gives the size of an existing file and -1 for a missing one",
    async run(c) {
      if (!c.backend._query && !c.backend._queryList) {
        throw new Skip("the backend has neither _query nor _queryList");
      }
      await putText(c, "q-file", "12345");
      if (c.backend._query) {
        const a = await c.backend._query("q-file");
        const b = await c.backend._query("q-missing");
        assert(a.size === 5, `_query gave ${a.size} for a 5-byte file`);
        assert(b.size === -1, `_query gave ${b.size} for a missing file`);
      }
      const info = await c.store.queryInfo(["q-file", "q-missing"]);
      assert(
        info["q-file"]?.size === 5,
        `queryInfo gave ${info["q-file"]?.size} for a 5-byte file`,
      );
      assert(
        info["q-missing"]?.size === -1,
        `queryInfo gave ${info["q-missing"]?.size} for a missing file`,
      );
      await c.store.delete("q-file");
    },
  },
  {
    name: "_queryList answers only the names asked",
    async run(c) {
      if (!c.backend._queryList) throw new Skip("the backend has no _queryList");
      await putText(c, "ql-a", "a");
      await putText(c, "ql-b", "bb");
      await putText(c, "ql-c", "ccc");
      const got = await c.backend._queryList(["ql-a", "ql-c", "ql-missing"]);
      const keys = Object.keys(got).sort();
      assert(
        JSON.stringify(keys) === JSON.stringify(["ql-a", "ql-c", "ql-missing"]),
        `_queryList answered ${JSON.stringify(keys)}`,
      );
      assert(got["ql-a"]?.size === 1 && got["ql-c"]?.size === 3, "_queryList gave wrong sizes");
      assert(got["ql-missing"]?.size === -1, "_queryList did not give -1 for a missing name");
      await c.store.delete(["ql-a", "ql-b", "ql-c"]);
    },
  },
  {
    name: "a zero-byte file round-trips",
    async run(c) {
      await roundTrip(c, "empty-file", 0, 3);
    },
  },
  {
    name: "a file larger than the backend's chunk size round-trips",
    async run(c) {
      const chunk = c.backend.capabilities.chunkSize ?? (1 << 20);
      const size = c.options.largeFileSize ?? chunk * 2 + 12_345;
      await roundTrip(c, "large-file.bin", size, 4);
    },
  },
  {
    name: "put over an existing name replaces the content",
    async run(c) {
      await putText(c, "overwrite", "first version, longer");
      await putText(c, "overwrite", "second");
      assert((await getText(c, "overwrite")) === "second", "the old content is still there");
      await expectListed(c, ["overwrite"]);
      const info = await c.store.queryInfo("overwrite");
      const size = info["overwrite"]?.size;
      assert(size === null || size === 6, `queryInfo gave ${size} after overwrite, expected 6`);
      await c.store.delete("overwrite");
    },
  },
  {
    name: "many files are each listed exactly once (pagination)",
    async run(c) {
      const count = c.options.manyFiles ?? 1500;
      const local = join(c.tmp, "many");
      await Deno.writeTextFile(local, "x");
      const names = Array.from({ length: count }, (_, i) => `many-${String(i).padStart(5, "0")}`);
      let next = 0;
      const worker = async () => {
        while (next < names.length) {
          const name = names[next++]!;
          await c.store.put(local, name);
        }
      };
      await Promise.all(Array.from({ length: c.options.concurrency ?? 8 }, worker));
      const listed = await c.store.list();
      const seen = new Map<string, number>();
      for (const n of listed) seen.set(n, (seen.get(n) ?? 0) + 1);
      const twice = [...seen].filter(([, k]) => k > 1).map(([n]) => n);
      const missing = names.filter((n) => !seen.has(n));
      assert(twice.length === 0, `listed more than once: ${twice.slice(0, 5).join(", ")}`);
      assert(
        missing.length === 0,
        `${missing.length} files not listed, e.g. ${missing.slice(0, 5).join(", ")}`,
      );
      assert(listed.length === count, `listed ${listed.length} files, expected ${count}`);
      await c.store.delete(names);
      await expectListed(c, []);
    },
  },
  {
    name: "hostile and unicode names round-trip through put, list, get and delete",
    async run(c) {
      const limits = c.backend.capabilities.names;
      const names = HOSTILE_NAMES.filter((n) => !nameProblem(n, limits));
      for (const [i, name] of names.entries()) await putText(c, name, `content ${i} ${name}`);
      await expectListed(c, names);
      for (const [i, name] of names.entries()) {
        const text = await getText(c, name);
        assert(
          text === `content ${i} ${name}`,
          `${JSON.stringify(name)} came back as ${JSON.stringify(text)}`,
        );
      }
      if (c.backend._query || c.backend._queryList) {
        const info = await c.store.queryInfo(names);
        for (const [i, name] of names.entries()) {
          const want = enc.encode(`content ${i} ${name}`).length;
          const got = info[name]?.size;
          assert(
            got === want || got === null,
            `queryInfo gave ${got} for ${JSON.stringify(name)}, expected ${want}`,
          );
        }
      }
      for (const name of names.slice(0, 3)) await c.store.delete(name);
      await c.store.delete(names.slice(3));
      await expectListed(c, []);
    },
  },
  {
    name: "invalid names are refused with code 23 before any I/O",
    async run(c) {
      const calls: string[] = [];
      const spy = new BackendWrapper(spyBackend(c.backend, calls), { maxAttempts: 1 });
      const local = join(c.tmp, "invalid-src");
      await Deno.writeTextFile(local, "x");
      for (const name of INVALID_NAMES) {
        const label = JSON.stringify(name);
        expectCode(await rejects(spy.put(local, name)), ErrorCode.user_error, `put ${label}`);
        expectCode(
          await rejects(spy.get(name, join(c.tmp, "x"))),
          ErrorCode.user_error,
          `get ${label}`,
        );
        expectCode(await rejects(spy.delete([name])), ErrorCode.user_error, `delete ${label}`);
        expectCode(await rejects(spy.queryInfo([name])), ErrorCode.user_error, `query ${label}`);
      }
      assert(calls.length === 0, `the backend was called: ${calls.join(", ")}`);
    },
  },
  {
    name: "get of a missing name fails with code 52 and leaves no local file",
    async run(c) {
      const dest = join(c.tmp, "missing-dest");
      expectCode(
        await rejects(c.store.get("no-such-file", dest)),
        ErrorCode.backend_not_found,
        "get",
      );
      const left = [...Deno.readDirSync(c.tmp)].filter((e) => e.name.includes("missing-dest"));
      assert(left.length === 0, `local files left behind: ${left.map((e) => e.name).join(", ")}`);
    },
  },
  {
    name: "a put that fails mid-transfer leaves nothing visible under the name",
    async run(c) {
      const chunk = c.backend.capabilities.chunkSize ?? (1 << 20);
      const src = join(c.tmp, "abort-src");
      await writeData(src, chunk * 2 + 777, 9);
      const ac = new AbortController();
      const store = await getBackend(c.url, {
        ...c.storeOptions,
        maxAttempts: 1,
        signal: ac.signal,
        onProgress: () => ac.abort(),
      });
      try {
        const err = await rejects(store.put(src, "aborted-put")).catch((e) => e);
        if (!(err instanceof BackendError)) {
          throw new Error(`the aborted put did not fail as expected: ${reasonOf(err)}`);
        }
      } finally {
        await store.close();
      }
      const listed = await c.store.list();
      assert(!listed.includes("aborted-put"), "the aborted put is visible under its name");
      const temps = listed.filter(isTempName);
      assert(temps.length === 0, `temporary files left behind: ${temps.join(", ")}`);
      // A put of a missing local file fails before any I/O and also leaves nothing.
      expectCode(
        await rejects(c.store.put(join(c.tmp, "does-not-exist"), "missing-local")),
        ErrorCode.backend_not_found,
        "put of a missing local file",
      );
      await expectListed(c, []);
    },
  },
];

/** The names of every case, in the order they run. */
export const CASE_NAMES: readonly string[] = CASES.map((k) => k.name);

async function openContext(
  url: string | ParsedUrl,
  options: ConformanceOptions,
): Promise<CaseContext> {
  const storeOptions: GetBackendOptions = {
    maxAttempts: 3,
    minTimeout: 100,
    maxTimeout: 2000,
    ...options.storeOptions,
  };
  const store = await getBackend(url, storeOptions);
  const tmp = await Deno.makeTempDir({ prefix: "stowage-conformance-" });
  return { store, backend: store.backend, tmp, options, storeOptions, url };
}

/**
 * Run every case against `url` and report. Refuses (code 23) a location that
 * already holds files unless `clean` is set; leaves the location empty.
 *
 * @example
 * ```ts
 * import { runConformance } from "@stowage/backends/testing";
 * const report = await runConformance("memory://suite", { manyFiles: 20 });
 * for (const r of report.results) console.log(r.status, r.name);
 * ```
 */
export async function runConformance(
  url: string | ParsedUrl,
  options: ConformanceOptions = {},
): Promise<ConformanceReport> {
  const c = await openContext(url, options);
  const results: CaseResult[] = [];
  try {
    await prepare(c, options);
    for (const k of CASES) {
      if (options.only && !options.only.some((s) => k.name.includes(s))) continue;
      const r = await runCase(c, k);
      results.push(r);
      options.onResult?.(r);
    }
  } finally {
    await Deno.remove(c.tmp, { recursive: true }).catch(() => {});
    await c.store.close();
  }
  return {
    url: c.store.displayUrl,
    results,
    passed: results.filter((r) => r.status === "passed").length,
    failed: results.filter((r) => r.status === "failed").length,
    skipped: results.filter((r) => r.status === "skipped").length,
  };
}

async function prepare(c: CaseContext, options: ConformanceOptions): Promise<void> {
  const existing = await c.store.list();
  if (existing.length === 0) return;
  if (!options.clean) {
    throw new BackendError(
      `Refusing to test "${c.store.displayUrl}": it holds ${existing.length} files (pass clean to delete them)`,
      { code: ErrorCode.user_error },
    );
  }
  await c.store.delete(existing);
}

async function runCase(c: CaseContext, k: Case): Promise<CaseResult> {
  const t0 = performance.now();
  try {
    await k.run(c);
    return { name: k.name, status: "passed", ms: performance.now() - t0 };
  } catch (err) {
    const ms = performance.now() - t0;
    if (err instanceof Skip) return { name: k.name, status: "skipped", reason: err.message, ms };
    // Leave the location empty for the next case.
    try {
      const left = await c.store.list();
      if (left.length) await c.store.delete(left);
    } catch {
      // best effort
    }
    return { name: k.name, status: "failed", reason: reasonOf(err), ms };
  }
}

/**
 * Run the suite inside a `Deno.test`, one step per case, failing the test
 * when any case fails.
 *
 * @example
 * ```ts ignore
 * import { testConformance } from "@stowage/backends/testing";
 * Deno.test("memory:// passes the conformance suite", async (t) => {
 *   await testConformance(t, "memory://conformance", { clean: true });
 * });
 * ```
 */
export async function testConformance(
  t: Deno.TestContext,
  url: string | ParsedUrl,
  options: ConformanceOptions = {},
): Promise<void> {
  const c = await openContext(url, options);
  const failed: string[] = [];
  try {
    await prepare(c, options);
    for (const k of CASES) {
      if (options.only && !options.only.some((s) => k.name.includes(s))) continue;
      await t.step({
        name: k.name,
        fn: async (s) => {
          const r = await runCase(c, k);
          options.onResult?.(r);
          if (r.status === "skipped") {
            await s.step({ name: `skipped: ${r.reason}`, ignore: true, fn: () => {} });
          }
          if (r.status === "failed") {
            failed.push(k.name);
            throw new Error(r.reason);
          }
        },
        sanitizeOps: false,
        sanitizeResources: false,
      });
    }
  } finally {
    await Deno.remove(c.tmp, { recursive: true }).catch(() => {});
    await c.store.close();
  }
  if (failed.length) {
    throw new Error(`${failed.length} conformance cases failed: ${failed.join("; ")}`);
  }
}
