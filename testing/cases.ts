/**
 * The cases of the conformance suite: every behaviour the contract promises,
 * each a sentence.
 *
 * @module
 */

import { join } from "node:path";
import { BackendError, ErrorCode, reasonOf } from "../core/errors.ts";
import { isTempName, nameProblem } from "../core/names.ts";
import { getBackend } from "../registry.ts";
import { BackendWrapper } from "../core/wrapper.ts";
import {
  assert,
  type Case,
  enc,
  expectCode,
  expectListed,
  getText,
  putText,
  rejects,
  roundTrip,
  Skip,
  spyBackend,
  writeData,
} from "./util.ts";
import { STREAM_CASES } from "./stream_cases.ts";

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

/** Every case, in the order they run. */
export const CASES: Case[] = [
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
      const listed = await c.store.list({ all: true });
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
  {
    name: "listing a folder that does not exist is 52 on folder stores, empty on object stores",
    async run(c) {
      const raw = typeof c.url === "string" ? c.url : c.url.geturl();
      const q = raw.search(/[?#]/);
      const base = q === -1 ? raw : raw.slice(0, q);
      const sub = `${base.replace(/\/+$/, "")}/no-such-folder-${crypto.randomUUID().slice(0, 8)}${
        q === -1 ? "" : raw.slice(q)
      }`;
      const store = await getBackend(sub, { ...c.storeOptions, maxAttempts: 1 });
      try {
        if (c.backend.capabilities.folders) {
          const err = await rejects(store.list());
          expectCode(err, ErrorCode.backend_not_found, "list of a missing folder");
          assert(
            /no-such-folder/.test((err as Error).message),
            `the error does not name the folder: ${(err as Error).message}`,
          );
        } else {
          const names = await store.list();
          assert(names.length === 0, `a prefix that holds nothing listed ${names.length} names`);
        }
      } finally {
        await store.close();
      }
    },
  },
  {
    name: "list hides temporary upload names and cleanup removes only stale ones",
    async run(c) {
      await putText(c, "visible", "v");
      const listed = await c.store.list();
      assert(listed.length === 1 && listed[0] === "visible", `list gave ${JSON.stringify(listed)}`);
      assert(
        (await c.store.cleanup({ dryRun: true })).length === 0,
        "cleanup found debris in a clean store",
      );
      await c.store.delete(["visible"]);
      await expectListed(c, []);
    },
  },
  ...STREAM_CASES,
];
