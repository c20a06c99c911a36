/**
 * Conformance cases for streamed reads and writes (`read`/`write`), which
 * every backend supports: natively through `_openRead`/`_openWrite`, or
 * through the wrapper's temporary-file fallback.
 *
 * @module
 */

import { join } from "node:path";
import type { Backend, OperationContext } from "../core/backend.ts";
import { BackendError, ErrorCode } from "../core/errors.ts";
import { isTempName } from "../core/names.ts";
import type { ReadRange } from "../core/streams.ts";
import { BackendWrapper } from "../core/wrapper.ts";
import {
  assert,
  type Case,
  type CaseContext,
  expectCode,
  expectListed,
  rejects,
  writeData,
} from "./util.ts";

/** Put a pseudo-random file of `size` bytes under `name`; returns its bytes. */
async function stored(
  c: CaseContext,
  name: string,
  size: number,
  seed: number,
): Promise<Uint8Array> {
  const src = join(c.tmp, `stream-src-${seed}`);
  await writeData(src, size, seed);
  await c.store.put(src, name);
  const bytes = await Deno.readFile(src);
  await Deno.remove(src);
  return bytes;
}

function same(a: Uint8Array, b: Uint8Array): boolean {
  if (a.byteLength !== b.byteLength) return false;
  for (let i = 0; i < a.byteLength; i++) if (a[i] !== b[i]) return false;
  return true;
}

async function checkRange(
  c: CaseContext,
  name: string,
  all: Uint8Array,
  offset: number,
  length: number | undefined,
): Promise<void> {
  const got = await c.store.readBytes(name, length === undefined ? { offset } : { offset, length });
  const want = all.subarray(
    Math.min(offset, all.byteLength),
    length === undefined ? undefined : Math.min(all.byteLength, offset + length),
  );
  assert(
    same(got, want),
    `read(offset ${offset}, length ${length}) gave ${got.byteLength} bytes, expected ${want.byteLength} (or different bytes)`,
  );
}

/**
 * A backend proxy whose `_openRead` stream breaks once after `breakAt`
 * bytes, recording each range asked: proves a broken read resumes from the
 * byte reached. The breaking is done here, between the wrapper and the real
 * backend; the bytes come from the real store.
 */
function breakingReads(backend: Backend, breakAt: number, ranges: ReadRange[]): Backend {
  let broken = false;
  const open = backend._openRead!.bind(backend);
  return new Proxy(backend, {
    get(target, prop) {
      if (prop !== "_openRead") {
        const v = Reflect.get(target, prop, target);
        return typeof v === "function" ? v.bind(target) : v;
      }
      return async (name: string, range: ReadRange, ctx?: OperationContext) => {
        ranges.push(range);
        const inner = (await open(name, range, ctx)).getReader();
        let sent = 0;
        let cut = false;
        return new ReadableStream<Uint8Array>({
          async pull(controller) {
            if (cut) {
              // The bytes before the cut were delivered; now the "connection" is gone.
              await inner.cancel();
              return controller.error(new Error("connection reset by the test"));
            }
            const r = await inner.read();
            if (r.done) return controller.close();
            let chunk = r.value;
            if (!broken && sent + chunk.byteLength > breakAt) {
              broken = true;
              cut = true;
              chunk = chunk.subarray(0, breakAt - sent);
            }
            sent += chunk.byteLength;
            controller.enqueue(chunk);
          },
          cancel: (reason) => inner.cancel(reason),
        }, { highWaterMark: 0 });
      };
    },
  });
}

/** The streamed-read and streamed-write cases. */
export const STREAM_CASES: Case[] = [
  {
    name: "read streams the whole file and byte ranges at the start, middle and end",
    async run(c) {
      const size = 300_000;
      const all = await stored(c, "ranged", size, 21);
      await checkRange(c, "ranged", all, 0, undefined);
      await checkRange(c, "ranged", all, 0, 1000);
      await checkRange(c, "ranged", all, 123_456, 65_537);
      await checkRange(c, "ranged", all, size - 10, undefined);
      await checkRange(c, "ranged", all, size - 10, 10);
      await checkRange(c, "ranged", all, 5000, 0);
      await checkRange(c, "ranged", all, size - 5, 100); // past the end: what is there
      await checkRange(c, "ranged", all, size + 100, 10); // wholly past the end: nothing
      assert(
        (await c.store.readText("ranged", { offset: 0, length: 0 })) === "",
        "zero-length range",
      );
      await c.store.delete(["ranged"]);
      await expectListed(c, []);
    },
  },
  {
    name: "read of a missing name fails with code 52",
    async run(c) {
      expectCode(
        await rejects(c.store.read("no-such-stream")),
        ErrorCode.backend_not_found,
        "read",
      );
      expectCode(
        await rejects(c.store.read("no-such-stream", { offset: 10, length: 0 })),
        ErrorCode.backend_not_found,
        "zero-length read",
      );
    },
  },
  {
    name: "write stores bytes, text, a stream and an async iterable, invisible until complete",
    async run(c) {
      const data = new Uint8Array(200_000);
      for (let i = 0; i < data.byteLength; i += 65_536) {
        crypto.getRandomValues(data.subarray(i, i + 65_536));
      }
      await c.store.write("w-bytes", data);
      await c.store.write("w-text", "héllo");
      await c.store.write("w-stream", new Blob([data]).stream(), { size: data.byteLength });
      await c.store.write(
        "w-iter",
        (async function* () {
          for (let i = 0; i < data.byteLength; i += 50_000) yield data.slice(i, i + 50_000);
        })(),
      );
      assert(same(await c.store.readBytes("w-bytes"), data), "bytes came back different");
      assert((await c.store.readText("w-text")) === "héllo", "text came back different");
      assert(same(await c.store.readBytes("w-stream"), data), "stream came back different");
      assert(same(await c.store.readBytes("w-iter"), data), "iterable came back different");
      const sizes = await c.store.queryInfo(["w-bytes", "w-text"]);
      for (const [n, want] of [["w-bytes", data.byteLength], ["w-text", 6]] as const) {
        const got = sizes[n]?.size;
        assert(got === null || got === want, `${n}: size ${got}, expected ${want}`);
      }
      await c.store.delete(["w-bytes", "w-text", "w-stream", "w-iter"]);
      await expectListed(c, []);
    },
  },
  {
    name: "a write that fails mid-way leaves nothing under the name and no temporary file",
    async run(c) {
      const failing = (async function* () {
        yield new Uint8Array(100_000);
        yield new Uint8Array(100_000);
        throw new Error("the source broke");
      })();
      const store = new BackendWrapper(c.backend, { ...c.storeOptions, maxAttempts: 1 });
      const err = await rejects(store.write("w-broken", failing));
      assert(err instanceof BackendError, "the broken write did not fail with a BackendError");
      const listed = await c.store.list({ all: true });
      assert(!listed.includes("w-broken"), "the broken write is visible under its name");
      const temps = listed.filter(isTempName);
      assert(temps.length === 0, `temporary files left behind: ${temps.join(", ")}`);
      const ac = new AbortController();
      const aborted = store.write(
        "w-aborted",
        (async function* () {
          yield new Uint8Array(100_000);
          ac.abort();
          yield new Uint8Array(100_000);
        })(),
        { signal: ac.signal },
      );
      await rejects(aborted);
      const after = await c.store.list({ all: true });
      assert(!after.includes("w-aborted"), "the aborted write is visible under its name");
      assert(after.filter(isTempName).length === 0, "the aborted write left a temporary file");
    },
  },
  {
    name: "a read broken mid-way resumes from the byte reached and the bytes are identical",
    async run(c) {
      if (!c.backend._openRead) {
        // Served from a local temporary copy: nothing can break mid-way.
        const all = await stored(c, "resume", 100_000, 5);
        await checkRange(c, "resume", all, 0, undefined);
        await c.store.delete(["resume"]);
        return;
      }
      const all = await stored(c, "resume", 400_000, 7);
      const ranges: ReadRange[] = [];
      const store = new BackendWrapper(breakingReads(c.backend, 150_001, ranges), c.storeOptions);
      const got = await store.readBytes("resume", { offset: 1000 });
      assert(
        same(got, all.subarray(1000)),
        `resumed read gave ${got.byteLength} bytes, or other bytes`,
      );
      assert(ranges.length === 2, `expected 2 opens, got ${ranges.length}`);
      assert(
        ranges[1]!.offset === 1000 + 150_001,
        `resumed at ${ranges[1]!.offset}, expected ${1000 + 150_001} (not restarted)`,
      );
      await c.store.delete(["resume"]);
      await expectListed(c, []);
    },
  },
];
