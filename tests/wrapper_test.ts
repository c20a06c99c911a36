import assert from "node:assert/strict";
import { join } from "node:path";
import {
  BackendError,
  BackendWrapper,
  type DeclaredCapabilities,
  ErrorCode,
  type WrapperOptions,
} from "../mod.ts";
import { tempName } from "../kit.ts";
import { ScriptedBackend, ScriptedListBackend, ScriptedQueryBackend } from "./scripted_backend.ts";

/** Waits recorded instead of slept, and a fixed jitter. */
function instant(extra: WrapperOptions = {}): { options: WrapperOptions; waits: number[] } {
  const waits: number[] = [];
  return {
    waits,
    options: {
      sleep: (ms) => {
        waits.push(ms);
        return Promise.resolve();
      },
      random: () => 0,
      timeout: 0,
      ...extra,
    },
  };
}

async function localFile(text = "data"): Promise<string> {
  const dir = await Deno.makeTempDir();
  const p = join(dir, "local.txt");
  await Deno.writeTextFile(p, text);
  return p;
}

Deno.test("an always-failing _put is called maxAttempts times with _retryCleanup between attempts only", async () => {
  const b = new ScriptedBackend();
  for (let i = 0; i < 5; i++) b.on("_put", new Error("network down"));
  const { options } = instant({ maxAttempts: 5 });
  const store = new BackendWrapper(b, options);
  const err = await store.put(await localFile(), "a").catch((e) => e);
  assert.ok(err instanceof BackendError);
  assert.equal(b.calls._put, 5);
  assert.equal(b.calls._retryCleanup, 4);
  assert.equal(err.attempts, 5);
  assert.equal(err.code, ErrorCode.backend_error);
  assert.equal(err.operation, "put");
  assert.match(
    err.message,
    /^Cannot put "a" to "scripted:\/\/x": network down \(after 5 attempts\)$/,
  );
});

Deno.test("a flaky _put succeeds on a later attempt", async () => {
  const b = new ScriptedBackend().on("_put", new Error("reset"), new Error("reset"));
  const store = new BackendWrapper(b, instant().options);
  await store.put(await localFile("xyz"), "a");
  assert.equal(b.calls._put, 3);
  assert.equal(b.calls._retryCleanup, 2);
  assert.deepEqual([...b.files.keys()], ["a"]);
});

Deno.test("a not-found on get is tried once and leaves no local file", async () => {
  const b = new ScriptedBackend();
  const store = new BackendWrapper(b, instant().options);
  const dir = await Deno.makeTempDir();
  const err = await store.get("missing", join(dir, "out")).catch((e) => e);
  assert.ok(err instanceof BackendError);
  assert.equal(err.code, ErrorCode.backend_not_found);
  assert.equal(b.calls._get, 1);
  assert.equal(b.calls._retryCleanup, undefined);
  assert.deepEqual([...Deno.readDirSync(dir)], []);
});

Deno.test("a permanent error from _errorCode is tried once", async () => {
  const b = new ScriptedBackend();
  b.codes["auth failed"] = ErrorCode.backend_permission_denied;
  b.on("_list", new Error("auth failed"));
  const store = new BackendWrapper(b, instant().options);
  const err = await store.list().catch((e) => e);
  assert.equal(err.code, 51);
  assert.equal(b.calls._list, 1);
  assert.equal(err.attempts, 1);
  assert.match(err.message, /^Cannot list "scripted:\/\/x": auth failed$/);
});

Deno.test("error codes come from the error, then _errorCode, then errno, then 50", async () => {
  const cases: [Error, number][] = [
    [new BackendError("own", { code: ErrorCode.backend_no_space }), 53],
    [Object.assign(new Error("mapped"), { code: "EACCES" }), 51],
    [Object.assign(new Error("full"), { code: "ENOSPC" }), 53],
    [new Deno.errors.PermissionDenied("deno denied"), 51],
    [new Error("plain"), 50],
  ];
  for (const [error, code] of cases) {
    const b = new ScriptedBackend().on("_list", error, error, error);
    const got = await new BackendWrapper(b, instant({ maxAttempts: 3 }).options).list().catch((e) =>
      e
    );
    assert.equal(got.code, code, error.message);
  }
  // _errorCode wins over errno.
  const b = new ScriptedBackend();
  const e = Object.assign(new Error("quota"), { code: "EACCES" });
  b.codes["quota"] = ErrorCode.backend_no_space;
  b.on("_list", e, e, e, e, e);
  assert.equal((await new BackendWrapper(b, instant().options).list().catch((x) => x)).code, 53);
});

Deno.test("the delays follow the backoff formula and honour a larger retryAfter", async () => {
  const b = new ScriptedBackend().on(
    "_list",
    new Error("a"),
    new Error("b"),
    new BackendError("slow down", { code: ErrorCode.backend_rate_limited, retryAfter: 9000 }),
    new Error("d"),
  );
  const { options, waits } = instant({
    minTimeout: 1000,
    maxTimeout: 60000,
    multiplier: 2,
    jitter: 1,
  });
  await new BackendWrapper(b, { ...options, random: () => 0 }).list();
  // jitter 1 with random 0 → the full exponential wait; the third asks for 9 s.
  assert.deepEqual(waits, [1000, 2000, 9000, 8000]);
});

Deno.test("full jitter keeps every wait between 0 and the exponential bound", async () => {
  const b = new ScriptedBackend();
  for (let i = 0; i < 4; i++) b.on("_list", new Error("x"));
  const { options, waits } = instant();
  await new BackendWrapper(b, { ...options, random: () => 0.75 }).list();
  assert.deepEqual(waits, [250, 500, 1000, 2000]);
});

Deno.test("an aborted signal stops at once without further attempts", async () => {
  const ac = new AbortController();
  ac.abort();
  const b = new ScriptedBackend();
  const err = await new BackendWrapper(b, instant({ signal: ac.signal }).options).list().catch((
    e,
  ) => e);
  assert.equal(err.code, ErrorCode.backend_aborted);
  assert.equal(b.calls._list, undefined);
});

Deno.test("aborting during an attempt stops the attempt and does not retry", async () => {
  const ac = new AbortController();
  const b = new ScriptedBackend().on("_list", (ctx) => {
    ac.abort();
    return new Promise((_r, reject) =>
      ctx!.signal.addEventListener("abort", () => reject(ctx!.signal.reason))
    );
  });
  const err = await new BackendWrapper(b, instant({ signal: ac.signal }).options).list().catch((
    e,
  ) => e);
  assert.equal(err.code, ErrorCode.backend_aborted);
  assert.equal(b.calls._list, 1);
  assert.equal(b.calls._retryCleanup, undefined);
});

Deno.test("a hung call hits the no-progress timeout, is aborted, and is retried", async () => {
  let aborted = 0;
  const hang = (ctx?: { signal: AbortSignal }) =>
    new Promise((_r, reject) =>
      ctx!.signal.addEventListener("abort", () => {
        aborted++;
        reject(ctx!.signal.reason);
      })
    );
  const b = new ScriptedBackend().on("_list", hang, hang);
  const store = new BackendWrapper(b, instant({ timeout: 20, maxAttempts: 3 }).options);
  const names = await store.list();
  assert.deepEqual(names, []);
  assert.equal(b.calls._list, 3);
  assert.equal(aborted, 2);
  assert.equal(b.calls._retryCleanup, 2);
});

Deno.test("a hung call that never ends fails with the timeout code after every attempt", async () => {
  const never = () => new Promise(() => {});
  const b = new ScriptedBackend().on("_list", never, never);
  const err = await new BackendWrapper(
    b,
    instant({ timeout: 10, maxAttempts: 2, abortGrace: 5 }).options,
  )
    .list().catch((e) => e);
  assert.equal(err.code, ErrorCode.backend_timeout);
  assert.match(err.message, /no progress for 0\.01 s; timed out \(after 2 attempts\)/);
});

Deno.test("progress keeps a slow transfer alive past the timeout", async () => {
  const b = new ScriptedBackend().on("_put", async (ctx) => {
    for (let i = 0; i < 6; i++) {
      await new Promise((r) => setTimeout(r, 10));
      ctx!.progress(1);
    }
  });
  const seen: number[] = [];
  const totals: (number | undefined)[] = [];
  const store = new BackendWrapper(b, {
    ...instant({ timeout: 25, maxAttempts: 1 }).options,
    onProgress: (e) => (e.bytes ? seen.push(e.bytes) : totals.push(e.total)),
  });
  const file = await localFile();
  await store.put(file, "slow");
  assert.equal(b.calls._put, 1);
  assert.equal(seen.length, 6);
  // The first event announces the size, read once and handed to the backend.
  assert.deepEqual(totals, [(await Deno.stat(file)).size]);
});

Deno.test("delete prefers _deleteList in chunks of 100", async () => {
  const b = new ScriptedListBackend();
  const names = Array.from({ length: 250 }, (_, i) => `f${i}`);
  await new BackendWrapper(b, instant().options).delete(names);
  assert.equal(b.calls._deleteList, 3);
  assert.deepEqual(b.args._deleteList!.map((a) => (a[0] as string[]).length), [100, 100, 50]);
  assert.equal(b.calls._delete, undefined);
});

Deno.test("delete falls back to _delete per name", async () => {
  const b = new ScriptedBackend();
  await new BackendWrapper(b, instant().options).delete(["a", "b", "c"]);
  assert.equal(b.calls._delete, 3);
});

Deno.test("queryInfo prefers _queryList and answers every name asked", async () => {
  const b = new ScriptedListBackend().on(
    "_queryList",
    () => ({ a: { size: 3 }, extra: { size: 9 } }),
  );
  const info = await new BackendWrapper(b, instant().options).queryInfo(["a", "b"]);
  assert.deepEqual({ ...info }, { a: { size: 3 }, b: { size: null } });
  assert.equal(b.calls._query, undefined);
});

Deno.test("queryInfo falls back to _query per name, and to null when neither exists", async () => {
  const q = new ScriptedQueryBackend();
  q.files.set("a", new Uint8Array(4));
  const info = await new BackendWrapper(q, instant().options).queryInfo(["a", "missing"]);
  assert.deepEqual({ ...info }, { a: { size: 4 }, missing: { size: -1 } });
  assert.equal(q.calls._query, 2);
  const plain = await new BackendWrapper(new ScriptedBackend(), instant().options).queryInfo(["a"]);
  assert.deepEqual({ ...plain }, { a: { size: null } });
});

Deno.test("move uses _move when it accepts", async () => {
  const b = new ScriptedListBackend();
  const p = await localFile("moved");
  await new BackendWrapper(b, instant().options).move(p, "m");
  assert.equal(b.calls._move, 1);
  assert.equal(b.calls._put, undefined);
  await assert.rejects(Deno.stat(p));
});

Deno.test("move falls back to put and then deletes the local file", async () => {
  const b = new ScriptedListBackend().on("_move", () => false);
  const p = await localFile("moved");
  await new BackendWrapper(b, instant().options).move(p, "m");
  assert.equal(b.calls._move, 1);
  assert.equal(b.calls._put, 1);
  assert.ok(b.files.has("m"));
  await assert.rejects(Deno.stat(p));
});

Deno.test("move keeps the local file when the put fails", async () => {
  const b = new ScriptedBackend().on("_put", new BackendError("denied", { code: 51 }));
  const p = await localFile("keep me");
  await assert.rejects(new BackendWrapper(b, instant().options).move(p, "m"));
  assert.equal(await Deno.readTextFile(p), "keep me");
});

Deno.test("get fails when the backend wrote no local file", async () => {
  const b = new ScriptedBackend().on("_get", () => "skip-write", () => "skip-write");
  b.files.set("a", new Uint8Array(1));
  const dir = await Deno.makeTempDir();
  const err = await new BackendWrapper(b, instant({ maxAttempts: 2 }).options).get(
    "a",
    join(dir, "o"),
  )
    .catch((e) => e);
  assert.match(err.message, /not found locally after the download/);
  assert.deepEqual([...Deno.readDirSync(dir)], []);
});

Deno.test("validate passes on a match, re-checks with growing waits, and fails with 56", async () => {
  const b = new ScriptedQueryBackend().on("_query", () => ({ size: 1 }), () => ({ size: 1 }));
  b.files.set("a", new Uint8Array(5));
  const { options, waits } = instant({ maxAttempts: 4 });
  await new BackendWrapper(b, options).validate("a", 5);
  assert.deepEqual(waits, [1000, 2000]);

  const wrong = new ScriptedQueryBackend();
  wrong.files.set("a", new Uint8Array(3));
  const err = await new BackendWrapper(wrong, instant({ maxAttempts: 3 }).options).validate("a", 5)
    .catch((e) => e);
  assert.equal(err.code, ErrorCode.backend_validation_failed);
  assert.match(err.message, /remote size 3 does not match local size 5/);
});

Deno.test("validate passes when the backend cannot tell sizes", async () => {
  await new BackendWrapper(new ScriptedBackend(), instant().options).validate("anything", 5);
});

Deno.test("bad names are refused with code 23 before the backend is called", async () => {
  const b = new ScriptedListBackend();
  const store = new BackendWrapper(b, instant().options);
  const p = await localFile();
  for (const name of ["", ".", "..", "a/b", "nul\0"]) {
    assert.equal((await store.put(p, name).catch((e) => e)).code, 23);
    assert.equal((await store.delete([name]).catch((e) => e)).code, 23);
  }
  assert.deepEqual(b.calls, {});
});

Deno.test("put of a missing local file fails with 52 before any I/O", async () => {
  const b = new ScriptedBackend();
  const err = await new BackendWrapper(b, instant().options).put("/nonexistent/file", "x").catch((
    e,
  ) => e);
  assert.equal(err.code, 52);
  assert.match(err.message, /no such local file/);
  assert.deepEqual(b.calls, {});
});

Deno.test("messages never contain the URL's password", async () => {
  const b = new ScriptedBackend("scripted://alice:hunter2@host/x");
  const leak = new Error("login as alice:hunter2 to scripted://alice:hunter2@host/x failed");
  b.on("_list", leak, leak);
  const logs: string[] = [];
  const err = await new BackendWrapper(
    b,
    instant({ maxAttempts: 2, log: (_l, m) => logs.push(m) }).options,
  )
    .list().catch((e) => e);
  assert.ok(!err.message.includes("hunter2"), err.message);
  assert.ok(logs.length > 0 && logs.every((l) => !l.includes("hunter2")), logs.join("\n"));
});

Deno.test("close calls _close once and await using disposes the store", async () => {
  let closed = 0;
  class Closing extends ScriptedBackend {
    override _close(): Promise<void> {
      closed++;
      return Promise.resolve();
    }
  }
  {
    await using store = new BackendWrapper(new Closing(), instant().options);
    await store.close();
  }
  assert.equal(closed, 1);
  const store = new BackendWrapper(new Closing(), instant().options);
  await store.close();
  assert.equal((await store.list().catch((e) => e)).code, 23);
});

Deno.test("a failing _retryCleanup does not stop the retries", async () => {
  const b = new ScriptedBackend().on("_put", new Error("x")).on(
    "_retryCleanup",
    new Error("cleanup broke"),
  );
  await new BackendWrapper(b, instant().options).put(await localFile(), "a");
  assert.equal(b.calls._put, 2);
});

Deno.test("get into a missing local folder fails with 52 before any I/O", async () => {
  const b = new ScriptedBackend();
  b.files.set("a", new Uint8Array(1));
  const err = await new BackendWrapper(b, instant().options).get("a", "/nonexistent-dir/x/out")
    .catch((e) => e);
  assert.equal(err.code, 52);
  assert.match(err.message, /local folder "\/nonexistent-dir\/x" does not exist/);
  assert.deepEqual(b.calls, {});
});

Deno.test("put reads the local size once and hands it to the backend as ctx.size", async () => {
  const sizes: (number | undefined)[] = [];
  const b = new ScriptedBackend().on("_put", (ctx) => sizes.push(ctx?.size));
  const store = new BackendWrapper(b, instant().options);
  await store.put(await localFile("12345"), "a");
  assert.deepEqual(sizes, [5]);
});

Deno.test("put with validate checks the stored size after the upload (code 56 on a mismatch)", async () => {
  const b = new ScriptedQueryBackend();
  const store = new BackendWrapper(b, instant({ maxAttempts: 2 }).options);
  await store.put(await localFile("12345"), "good", { validate: true });
  // The upload "succeeds" but the store reports fewer bytes, on every re-check.
  b.on("_query", () => ({ size: 2 }), () => ({ size: 2 }));
  const err = await store.put(await localFile("12345"), "short", { validate: true }).catch((e) =>
    e
  );
  assert.ok(err instanceof BackendError);
  assert.equal(err.code, ErrorCode.backend_validation_failed);
});

Deno.test("get with a known size fails with 56 and leaves no local file when the download is short", async () => {
  const b = new ScriptedBackend();
  b.files.set("a", new Uint8Array(3));
  const store = new BackendWrapper(b, instant({ maxAttempts: 1 }).options);
  const dir = await Deno.makeTempDir();
  const dest = join(dir, "a");
  const err = await store.get("a", dest, { size: 10 }).catch((e) => e);
  assert.ok(err instanceof BackendError);
  assert.equal(err.code, ErrorCode.backend_validation_failed);
  assert.deepEqual([...Deno.readDirSync(dir)], []);
  await store.get("a", dest, { size: 3 });
  assert.equal((await Deno.stat(dest)).size, 3);
});

Deno.test("list hides stowage's temporary upload names unless asked for all", async () => {
  const b = new ScriptedBackend();
  const tmp = tempName("a", Date.now());
  b.files.set("a", new Uint8Array(1));
  b.files.set(tmp, new Uint8Array(1));
  const store = new BackendWrapper(b, instant().options);
  assert.deepEqual(await store.list(), ["a"]);
  assert.deepEqual((await store.list({ all: true })).sort(), ["a", tmp].sort());
});

Deno.test("cleanup removes stale temporaries only, never a fresh one another process may be writing", async () => {
  const now = 10_000_000_000;
  const b = new ScriptedListBackend();
  const stale = tempName("old", now - 2 * 3_600_000);
  const fresh = tempName("new", now - 60_000);
  for (const n of ["keep", stale, fresh]) b.files.set(n, new Uint8Array(1));
  const store = new BackendWrapper(b, { ...instant().options, now: () => now });
  assert.deepEqual(await store.cleanup({ dryRun: true }), [stale]);
  assert.equal(b.files.size, 3);
  assert.deepEqual(await store.cleanup(), [stale]);
  assert.deepEqual([...b.files.keys()].sort(), ["keep", fresh].sort());
  assert.deepEqual(await store.cleanup({ olderThan: 1000 }), [fresh]);
});

Deno.test("the first put removes stale temporaries left by a killed process", async () => {
  const now = 10_000_000_000;
  class RenamingBackend extends ScriptedListBackend {
    protected override declareCapabilities(): DeclaredCapabilities {
      return { serverSideRename: true };
    }
  }
  const b = new RenamingBackend("scripted://stale-sweep");
  const stale = tempName("old", now - 2 * 3_600_000);
  b.files.set(stale, new Uint8Array(1));
  const store = new BackendWrapper(b, { ...instant().options, now: () => now });
  await store.put(await localFile(), "a");
  assert.deepEqual([...b.files.keys()], ["a"]);
  // Once per location in a process: another store of it does not list again.
  b.files.set(stale, new Uint8Array(1));
  const again = new BackendWrapper(b, { ...instant().options, now: () => now });
  await again.put(await localFile(), "b");
  assert.ok(b.files.has(stale));
  // Turned off with staleAfter: 0.
  const c = new RenamingBackend("scripted://stale-sweep-off");
  c.files.set(stale, new Uint8Array(1));
  const off = new BackendWrapper(c, { ...instant().options, now: () => now, staleAfter: 0 });
  await off.put(await localFile(), "b");
  assert.ok(c.files.has(stale));
  // A store whose puts use no temporary name holds none: no listing at all.
  const plain = new ScriptedListBackend("scripted://stale-sweep-plain");
  plain.files.set(stale, new Uint8Array(1));
  await new BackendWrapper(plain, { ...instant().options, now: () => now }).put(
    await localFile(),
    "a",
  );
  assert.equal(plain.calls._list, undefined);
});

Deno.test("a get removes stale partial downloads a killed get left in its folder", async () => {
  const dir = await Deno.makeTempDir();
  const old = join(dir, ".x.stowage-part-deadbeef");
  const young = join(dir, ".y.stowage-part-cafebabe");
  await Deno.writeTextFile(old, "partial");
  await Deno.writeTextFile(young, "partial");
  const past = new Date(Date.now() - 2 * 3_600_000);
  await Deno.utime(old, past, past);
  const b = new ScriptedBackend();
  b.files.set("a", new Uint8Array(2));
  await new BackendWrapper(b, instant().options).get("a", join(dir, "a"));
  const left = [...Deno.readDirSync(dir)].map((e) => e.name).sort();
  assert.deepEqual(left, [".y.stowage-part-cafebabe", "a"]);
});

Deno.test("a get cut off by a cancel leaves no partial file, even when the backend is still writing", async () => {
  const dir = await Deno.makeTempDir();
  const ac = new AbortController();
  const b = new ScriptedBackend().on("_get", async (ctx) => {
    const tmp = (b.args._get!.at(-1)![1]) as string;
    await Deno.writeTextFile(tmp, "half");
    ac.abort();
    // Ignores the signal for a while, as a stuck library would.
    await new Promise((r) => setTimeout(r, 30));
    void ctx;
    return "skip-write";
  });
  const store = new BackendWrapper(b, { ...instant().options, signal: ac.signal, abortGrace: 5 });
  const err = await store.get("a", join(dir, "a")).catch((e) => e);
  assert.equal(err.code, ErrorCode.backend_aborted);
  await new Promise((r) => setTimeout(r, 40));
  assert.deepEqual([...Deno.readDirSync(dir)], []);
});

/** A backend with native streams over scripted bytes; `breaks` cuts reads after N bytes, once each. */
class StreamingBackend extends ScriptedBackend {
  breaks: number[] = [];
  ranges: { offset: number; length?: number }[] = [];
  writes = 0;
  override _openRead(
    name: string,
    range: { offset: number; length?: number },
  ): Promise<ReadableStream<Uint8Array>> {
    this.ranges.push(range);
    const data = this.files.get(name);
    if (!data) {
      return Promise.reject(new BackendError("not found", { code: ErrorCode.backend_not_found }));
    }
    const end = range.length === undefined ? data.length : range.offset + range.length;
    const part = data.slice(range.offset, Math.min(end, data.length));
    const cut = this.breaks.shift();
    let pulls = 0;
    return Promise.resolve(
      new ReadableStream<Uint8Array>({
        pull(c) {
          pulls++;
          if (cut === undefined) return pulls === 1 ? c.enqueue(part) : c.close();
          // The bytes before the cut arrive; the next pull finds the connection gone.
          if (pulls === 1) return c.enqueue(part.slice(0, cut));
          c.error(new Error("connection reset"));
        },
      }, { highWaterMark: 0 }),
    );
  }
  override _openWrite(name: string): Promise<WritableStream<Uint8Array>> {
    this.writes++;
    const chunks: number[] = [];
    const fail = this.script["_openWrite"]?.shift();
    return Promise.resolve(
      new WritableStream<Uint8Array>({
        write: (c) => {
          chunks.push(...c);
          if (fail instanceof Error && chunks.length > 4) throw fail;
        },
        close: () => void this.files.set(name, new Uint8Array(chunks)),
      }),
    );
  }
}

Deno.test("read resumes a broken stream from the byte reached, within the attempts", async () => {
  const b = new StreamingBackend();
  b.files.set("f", new Uint8Array(Array.from({ length: 100 }, (_, i) => i)));
  b.breaks = [30, 20];
  const store = new BackendWrapper(b, instant({ maxAttempts: 3 }).options);
  const got = await store.readBytes("f", { offset: 10 });
  assert.deepEqual([...got], Array.from({ length: 90 }, (_, i) => i + 10));
  assert.deepEqual(b.ranges.map((r) => r.offset), [10, 40, 60]);
  // One break more than the budget allows fails with the wrapper's message.
  b.breaks = [5, 5, 5];
  const err = await store.readBytes("f").catch((e) => e);
  assert.ok(err instanceof BackendError);
  assert.match(err.message, /^Cannot read "f" from "scripted:\/\/x": connection reset/);
});

Deno.test("read of a range keeps the length across a resume", async () => {
  const b = new StreamingBackend();
  b.files.set("f", new Uint8Array(Array.from({ length: 100 }, (_, i) => i)));
  b.breaks = [3];
  const store = new BackendWrapper(b, instant().options);
  assert.deepEqual([...await store.readBytes("f", { offset: 50, length: 10 })], [
    50,
    51,
    52,
    53,
    54,
    55,
    56,
    57,
    58,
    59,
  ]);
  assert.deepEqual(b.ranges.at(-1), { offset: 53, length: 7 });
});

Deno.test("read without _openRead falls back to a temporary copy and removes it", async () => {
  const b = new ScriptedBackend();
  b.files.set("f", new TextEncoder().encode("hello, world"));
  const store = new BackendWrapper(b, instant().options);
  assert.equal(await store.readText("f", { offset: 7, length: 3 }), "wor");
  await assert.rejects(store.read("missing"), (e) => e instanceof BackendError && e.code === 52);
});

Deno.test("a write replays a one-shot stream only while it fits the replay buffer", async () => {
  const b = new StreamingBackend();
  b.on("_openWrite", new Error("reset"));
  const store = new BackendWrapper(b, instant({ maxAttempts: 3 }).options);
  const source = () =>
    (async function* () {
      for (let i = 0; i < 4; i++) yield new Uint8Array([i, i, i]);
    })();
  await store.write("small", source(), { replayBuffer: 1024 });
  assert.equal(b.files.get("small")?.length, 12);
  assert.equal(b.writes, 2);
  b.on("_openWrite", new Error("reset"));
  const err = await store.write("big", source(), { replayBuffer: 4 }).catch((e) => e);
  assert.ok(err instanceof BackendError);
  assert.equal(err.code, ErrorCode.backend_unsupported);
  assert.match(err.message, /cannot retry/);
  assert.ok(!b.files.has("big"));
  // A function source reopens, so it always replays.
  b.on("_openWrite", new Error("reset"));
  await store.write("fn", source, { replayBuffer: 0 });
  assert.equal(b.files.get("fn")?.length, 12);
});

Deno.test("an error marked permanent is not retried whatever its code", async () => {
  const b = new ScriptedBackend().on(
    "_list",
    new BackendError("no program", { code: ErrorCode.backend_command_error, permanent: true }),
  );
  const err = await new BackendWrapper(b, instant({ maxAttempts: 5 }).options).list().catch((e) =>
    e
  );
  assert.equal(err.code, ErrorCode.backend_command_error);
  assert.equal(err.attempts, 1);
  assert.equal(err.permanent, true);
  assert.equal(b.calls._list, 1);
});
