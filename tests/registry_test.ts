import assert from "node:assert/strict";
import {
  Backend,
  BackendError,
  getBackend,
  getBackendObject,
  knownSchemes,
  ParsedUrl,
  registerBackend,
  registerBackendPrefix,
} from "../mod.ts";
import { FileBackend } from "../backends/file.ts";
import { MemoryBackend } from "../backends/memory.ts";

class Dummy extends Backend {
  override _get(): Promise<void> {
    return Promise.resolve();
  }
  override _put(): Promise<void> {
    return Promise.resolve();
  }
  override _list(): Promise<string[]> {
    return Promise.resolve(["dummy"]);
  }
  override _delete(): Promise<void> {
    return Promise.resolve();
  }
}

/** A meta backend that reaches its inner store through the registry. */
class Upper extends Backend {
  #inner?: Promise<Backend>;
  inner(): Promise<Backend> {
    return this.#inner ??= getBackendObject(this.url);
  }
  override async _get(name: string, p: string): Promise<void> {
    await (await this.inner())._get(name, p);
  }
  override async _put(p: string, name: string): Promise<void> {
    await (await this.inner())._put(p, name);
  }
  override async _list(): Promise<string[]> {
    return (await (await this.inner())._list()).map((n) => n.toUpperCase());
  }
  override async _delete(name: string): Promise<void> {
    await (await this.inner())._delete(name);
  }
}

Deno.test("registerBackend makes foo:// work and is idempotent for the same class", async () => {
  registerBackend("dummy", Dummy);
  registerBackend("dummy", Dummy);
  const b = await getBackendObject("dummy://host/path");
  assert.ok(b instanceof Dummy);
  assert.equal(b.url.path, "//host/path");
  assert.ok(knownSchemes().includes("dummy"));
});

Deno.test("registering a taken scheme with another class throws", () => {
  class Other extends Dummy {}
  registerBackend("taken", Dummy);
  assert.throws(() => registerBackend("taken", Other), BackendError);
  assert.throws(() => registerBackend("file", Other), /already taken/);
  assert.throws(() => registerBackend("bad scheme!", Other), /not a valid URL scheme/);
});

Deno.test("a prefix backend receives the inner URL and reaches the inner store", async () => {
  registerBackendPrefix("upper", Upper);
  const dir = await Deno.makeTempDir();
  await Deno.writeTextFile(`${dir}/a.txt`, "x");
  const store = await getBackend(`upper+file://${dir}`);
  assert.ok(store.backend instanceof Upper);
  assert.equal(store.backend.url.scheme, "file");
  assert.deepEqual(await store.list(), ["A.TXT"]);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("an unknown scheme fails with code 23 and lists the known ones", async () => {
  const err = await getBackend("nosuch://x/y").catch((e) => e);
  assert.ok(err instanceof BackendError);
  assert.equal(err.code, 23);
  assert.match(err.message, /Unknown backend scheme "nosuch"/);
  assert.match(err.message, /file, /);
  const prefixErr = await getBackend("nosuch+file:///tmp").catch((e) => e);
  assert.equal(prefixErr.code, 23);
  assert.match(prefixErr.message, /Unknown backend prefix "nosuch"/);
});

Deno.test("built-in schemes load lazily to their classes", async () => {
  assert.ok((await getBackendObject("file:///tmp/x")) instanceof FileBackend);
  assert.ok((await getBackendObject(new ParsedUrl("memory://m"))) instanceof MemoryBackend);
});

Deno.test("a malformed URL fails with code 23 and no password in the message", async () => {
  const err = await getBackend("sftp://bob:pa55word@host:nope/x").catch((e) => e);
  assert.equal(err.code, 23);
  assert.ok(!err.message.includes("pa55word"));
});

Deno.test("capabilities reflect the optional methods a backend defines", () => {
  const d = new Dummy(new ParsedUrl("dummy://x"));
  assert.equal(d.capabilities.deleteList, false);
  assert.equal(d.capabilities.query, false);
  const f = new FileBackend(new ParsedUrl("file:///tmp/x"));
  assert.equal(f.capabilities.deleteList, true);
  assert.equal(f.capabilities.queryList, true);
  assert.equal(f.capabilities.move, true);
  assert.equal(f.capabilities.atomicOverwrite, true);
});
