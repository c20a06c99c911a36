import assert from "node:assert/strict";
import { BackendError } from "../mod.ts";
import { BufferPool, eachLimited, writeStreamToFile, xmlText } from "../kit.ts";

Deno.test("xmlText decodes named entities, character references and CDATA", () => {
  assert.equal(xmlText("plain name"), "plain name");
  assert.equal(xmlText("a&amp;b &lt;c&gt; &quot;d&quot; &apos;e&apos;"), `a&b <c> "d" 'e'`);
  assert.equal(xmlText("cr&#13;x &#x1F600; &#233;"), "cr\rx 😀 é");
  assert.equal(xmlText("<![CDATA[a&b<c]]>"), "a&b<c");
});

Deno.test("xmlText refuses malformed text with code 55", () => {
  for (const bad of ["a & b", "&nosuch;", "&#0;", "&#xD800;", "&#x110000;", "a<b"]) {
    assert.throws(
      () => xmlText(bad),
      (err: unknown) => err instanceof BackendError && err.code === 55,
      bad,
    );
  }
});

Deno.test("eachLimited runs every item with at most `limit` in flight", async () => {
  let running = 0;
  let peak = 0;
  const seen: number[] = [];
  await eachLimited(Array.from({ length: 20 }, (_, i) => i), 3, async (item) => {
    running++;
    peak = Math.max(peak, running);
    await new Promise((r) => setTimeout(r, 1));
    seen.push(item);
    running--;
  });
  assert.equal(peak, 3);
  assert.deepEqual(seen.sort((a, b) => a - b), Array.from({ length: 20 }, (_, i) => i));
});

Deno.test("eachLimited stops taking items after the first failure and rethrows it", async () => {
  const started: number[] = [];
  const err = await eachLimited(Array.from({ length: 50 }, (_, i) => i), 2, async (item) => {
    started.push(item);
    await Promise.resolve();
    if (item === 3) throw new Error("item 3 failed");
  }).catch((e) => e);
  assert.equal((err as Error).message, "item 3 failed");
  assert.ok(started.length < 10, `started ${started.length} items`);
});

Deno.test("BufferPool hands back released buffers instead of allocating", () => {
  const pool = new BufferPool(1024, 2);
  const a = pool.take();
  assert.equal(a.length, 1024);
  pool.give(a);
  assert.equal(pool.take(), a);
});

Deno.test("writeStreamToFile writes at an offset and refuses a short body with code 38", async () => {
  const path = await Deno.makeTempFile();
  await Deno.writeTextFile(path, "xxxxxxxxxx");
  const seen: number[] = [];
  const n = await writeStreamToFile(new Response("hello").body!, path, {
    offset: 3,
    length: 5,
    progress: (b) => seen.push(b),
  });
  assert.equal(n, 5);
  assert.equal(await Deno.readTextFile(path), "xxxhelloxx");
  assert.equal(seen.reduce((a, b) => a + b, 0), 5);
  const err = await writeStreamToFile(new Response("abc").body!, path, { length: 10 }).catch((e) =>
    e
  );
  assert.ok(err instanceof BackendError);
  assert.equal(err.code, 38);
  await Deno.remove(path);
});

Deno.test("writeStreamToFile stops when the signal aborts", async () => {
  const path = await Deno.makeTempFile();
  const ac = new AbortController();
  ac.abort(new Error("stop"));
  const body = new ReadableStream<Uint8Array>({ pull: (c) => c.enqueue(new Uint8Array(8)) });
  await assert.rejects(writeStreamToFile(body, path, { signal: ac.signal }), /stop/);
  await Deno.remove(path);
});
