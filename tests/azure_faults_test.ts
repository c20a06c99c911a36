/**
 * azure:// failures, each in its class and bounded in time, against a real
 * Azurite on 127.0.0.1 and tiny listeners started here: a server that never
 * answers, one that speaks SSH, TLS spoken to Azurite's plain port, names
 * too long, Ctrl-C mid-transfer; plus what a put, a streamed write and a
 * ranged read cost in requests (counted by a recording proxy).
 *
 * @module
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { BlobServiceClient } from "@azure/storage-blob";
import { ErrorCode, getBackend, type GetBackendOptions } from "../mod.ts";
import {
  expectCode,
  expectCodeTimed,
  fakeListener,
  greetingListener,
  randomFile,
  withTempDir,
} from "./_helpers.ts";
import { accountAt, haveAzurite, withAzurite } from "./servers/azurite.ts";

const AZURITE = haveAzurite();

/** No waiting between attempts. */
const FAST: GetBackendOptions = { minTimeout: 1, maxTimeout: 5, sleep: () => Promise.resolve() };

/** Credentials for an endpoint on 127.0.0.1 (the development account). */
function at(port: number, scheme = "http", extra: GetBackendOptions = {}): GetBackendOptions {
  return { ...FAST, ...accountAt(port, scheme), ...extra };
}

/** Run `fn` with a scratch folder holding `small`, a one-byte file. */
function withSmallFile(fn: (tmp: string, small: string) => Promise<void>): Promise<void> {
  return withTempDir(async (tmp) => {
    const small = join(tmp, "small");
    await Deno.writeTextFile(small, "x");
    await fn(tmp, small);
  }, "stowage-azure-faults-");
}

/** The operations of a store, each on a fresh name, as calls. */
function everyOperation(
  store: Awaited<ReturnType<typeof getBackend>>,
  small: string,
  big: string,
  tmp: string,
): [string, () => Promise<unknown>][] {
  return [
    ["list", () => store.list()],
    ["get", () => store.get("g", join(tmp, "got"))],
    ["put", () => store.put(small, "p")],
    ["put in blocks", () => store.put(big, "pb")],
    ["query", () => store.queryInfo("q")],
    ["delete", () => store.delete("d")],
    ["delete several", () => store.delete(["d1", "d2"])],
    ["read", () => store.read("r")],
    ["write", () => store.write("w", "hello")],
    ["write in blocks", () => store.write("wb", new Uint8Array(200_000))],
  ];
}

Deno.test("a server that never answers: every operation gives up with 57 within timeout + 1 s", async () => {
  await using hole = fakeListener(); // accepts, reads nothing, answers nothing
  await withSmallFile(async (tmp, small) => {
    const big = join(tmp, "big");
    await randomFile(big, 200_000);
    await using store = await getBackend(
      "azure://blackhole/dir",
      at(hole.port, "http", { timeout: 300, maxAttempts: 1, blockSize: "64K" }),
    );
    for (const [what, call] of everyOperation(store, small, big, tmp)) {
      const [err, ms] = await expectCodeTimed(call, ErrorCode.backend_timeout);
      assert.ok(ms < 1300, `${what} gave up after ${ms.toFixed(0)} ms: ${err.message}`);
    }
  });
});

Deno.test("a server that speaks SSH fails at once with 38 quoting its greeting", async () => {
  await using ssh = greetingListener("SSH-2.0-OpenSSH_9.2\r\n");
  await withSmallFile(async (tmp, small) => {
    await using store = await getBackend(
      "azure://wrongproto",
      at(ssh.port, "http", { maxAttempts: 2 }),
    );
    const calls: [string, () => Promise<unknown>][] = [
      ["list", () => store.list()],
      ["get", () => store.get("g", join(tmp, "got"))],
      ["put", () => store.put(small, "p")],
      ["query", () => store.queryInfo("q")],
      ["read", () => store.read("r")],
      ["write", () => store.write("w", "hello")],
      ["delete", () => store.delete("d")],
    ];
    for (const [what, call] of calls) {
      const [err, ms] = await expectCodeTimed(call, ErrorCode.connection_failed);
      assert.match(err.message, /does not speak HTTP.*SSH-2\.0-OpenSSH_9\.2/, what);
      assert.ok(ms < 3000, `${what} took ${ms.toFixed(0)} ms`);
    }
  });
});

Deno.test({
  name: "TLS spoken to Azurite's plain port fails with 60 after one attempt, on every path",
  ignore: !AZURITE,
  async fn() {
    await withAzurite(async (az, tmp) => {
      const small = join(tmp, "small");
      const big = join(tmp, "big");
      await Deno.writeTextFile(small, "x");
      await randomFile(big, 200_000);
      await using store = await getBackend(
        "azure://plain",
        at(az.port, "https", { maxAttempts: 4, blockSize: "64K" }),
      );
      for (const [what, call] of everyOperation(store, small, big, tmp)) {
        const err = await expectCode(call, ErrorCode.backend_untrusted_host);
        assert.equal(err.attempts ?? 1, 1, what);
        assert.match(err.message, /does not speak TLS/, what);
      }
    });
  },
});

Deno.test("a name too long for Azure is code 59 before any request, naming only that name", async () => {
  let connections = 0;
  await using nobody = fakeListener((c) => {
    connections++;
    c.close();
  });
  await withSmallFile(async (tmp, small) => {
    await using store = await getBackend("azure://names/some/folder", at(nobody.port));
    const long = "n".repeat(1020); // 1,032 characters with "some/folder/"
    for (
      const call of [
        () => store.put(small, long),
        () => store.get(long, join(tmp, "got")),
        () => store.queryInfo(long),
        () => store.read(long),
        () => store.write(long, "x"),
        () => store.delete(long),
      ]
    ) {
      const err = await expectCode(call, ErrorCode.backend_unsupported);
      assert.equal(err.attempts ?? 1, 1);
      assert.match(err.message, /too long for Azure: 1032 characters/);
      assert.doesNotMatch(err.message, /some\/folder\/n/);
    }
    assert.equal(connections, 0);
  });
});

Deno.test("a server that refuses a name as out of range (400) is code 59, not retried", async () => {
  await using server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    async (req) => {
      await req.body?.cancel();
      return new Response(
        '<?xml version="1.0"?><Error><Code>OutOfRangeInput</Code>' +
          "<Message>One of the request inputs is out of range.</Message></Error>",
        { status: 400, headers: { "x-ms-error-code": "OutOfRangeInput" } },
      );
    },
  );
  await withSmallFile(async (tmp, small) => {
    await using store = await getBackend(
      "azure://ranges/dir",
      at(server.addr.port, "http", { maxAttempts: 5 }),
    );
    for (
      const call of [
        () => store.put(small, "long-name"),
        () => store.get("long-name", join(tmp, "got")),
        () => store.queryInfo("long-name"),
        () => store.read("long-name"),
        () => store.delete("long-name"),
      ]
    ) {
      const err = await expectCode(call, ErrorCode.backend_unsupported);
      assert.equal(err.attempts ?? 1, 1, err.message);
      assert.match(err.message, /"long-name"/);
      assert.match(err.message, /out of range/);
    }
  });
});

Deno.test({
  name: "Ctrl-C during a put, a get or a streamed write settles within a second and leaves nothing",
  ignore: !AZURITE,
  async fn() {
    await withAzurite(async (az, tmp) => {
      const opts = { ...FAST, connectionString: az.connectionString, blockSize: "64K" };
      const big = join(tmp, "big");
      await randomFile(big, 2 * 1024 * 1024);
      await using store = await getBackend("azure://ctrlc", opts);
      await store.put(big, "stored");
      const container = BlobServiceClient.fromConnectionString(az.connectionString)
        .getContainerClient("ctrlc");
      const cancelled = async (run: (s: typeof store) => Promise<unknown>) => {
        const ac = new AbortController();
        let abortedAt = 0;
        await using s = await getBackend("azure://ctrlc", {
          ...opts,
          maxAttempts: 1,
          signal: ac.signal,
          onProgress: (e) => {
            if (e.bytes > 0 && !abortedAt) {
              abortedAt = performance.now();
              ac.abort();
            }
          },
        });
        await expectCode(() => run(s), ErrorCode.backend_aborted);
        const ms = performance.now() - abortedAt;
        assert.ok(abortedAt > 0 && ms < 1000, `settled ${ms.toFixed(0)} ms after the abort`);
      };
      await cancelled((s) => s.put(big, "put-cancelled"));
      await cancelled((s) => s.get("stored", join(tmp, "got")));
      await cancelled((s) =>
        s.write(
          "write-cancelled",
          (async function* () {
            for (let i = 0; i < 64; i++) yield new Uint8Array(64 * 1024).fill(i);
          })(),
        )
      );
      assert.deepEqual(await store.list({ all: true }), ["stored"]);
      for (const n of ["put-cancelled", "write-cancelled"]) {
        assert.equal(await container.getBlobClient(n).exists(), false, n);
      }
      assert.deepEqual((await Array.fromAsync(Deno.readDir(tmp))).map((e) => e.name), ["big"]);
    });
  },
});

/**
 * A proxy in front of Azurite that records each request as
 * `METHOD comp` (`PUT block`, `GET list`, `HEAD`) and its Range header.
 */
function recorder(target: number): {
  port: number;
  seen: string[];
  ranges: string[];
  close(): Promise<void>;
} {
  const seen: string[] = [];
  const ranges: string[] = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    const url = new URL(req.url);
    const comp = url.searchParams.get("comp") ?? url.searchParams.get("restype") ?? "";
    seen.push(`${req.method}${comp ? ` ${comp}` : ""}`);
    const range = req.headers.get("range");
    if (range) ranges.push(range);
    const headers = new Headers(req.headers);
    for (const h of ["host", "connection", "content-length", "transfer-encoding"]) {
      headers.delete(h);
    }
    let body: Uint8Array<ArrayBuffer> | undefined;
    try {
      body = req.body ? new Uint8Array(await req.arrayBuffer()) : undefined;
    } catch {
      return new Response(null, { status: 400 }); // the client gave up mid-body (an abort)
    }
    const res = await fetch(`http://127.0.0.1:${target}${url.pathname}${url.search}`, {
      method: req.method,
      headers,
      ...(body ? { body } : {}),
    });
    const out = new Headers(res.headers);
    for (const h of ["connection", "transfer-encoding"]) out.delete(h);
    if (req.method !== "HEAD") out.delete("content-length");
    const data = req.method === "HEAD" ? null : new Uint8Array(await res.arrayBuffer());
    if (req.method === "HEAD") await res.body?.cancel();
    return new Response(data, { status: res.status, headers: out });
  });
  return { port: server.addr.port, seen, ranges, close: () => server.shutdown() };
}

Deno.test({
  name: "a small put with validation costs one request: the size check is answered by the put",
  ignore: !AZURITE,
  async fn() {
    await withAzurite(async (az, tmp) => {
      const rec = recorder(az.port);
      try {
        await using store = await getBackend("azure://cost/dir", at(rec.port));
        const src = join(tmp, "f");
        await randomFile(src, 4096);
        // The first put into a new container: refused, the container made, sent again
        // (no sweep for stale temporaries: block blobs use no temporary names).
        await store.put(src, "first", { validate: true });
        assert.deepEqual(rec.seen, ["PUT", "PUT container", "PUT"]);
        rec.seen.length = 0;
        for (let i = 0; i < 5; i++) await store.put(src, `f${i}`, { validate: true });
        assert.deepEqual(rec.seen, Array(5).fill("PUT"));
        // The size answers one query only: a second one asks the server.
        rec.seen.length = 0;
        await store.put(src, "again");
        assert.deepEqual({ ...await store.queryInfo("again") }, { again: { size: 4096 } });
        assert.deepEqual({ ...await store.queryInfo("again") }, { again: { size: 4096 } });
        assert.deepEqual(rec.seen, ["PUT", "HEAD"]);
        // A delete forgets it.
        await store.put(src, "gone");
        await store.delete("gone");
        assert.deepEqual({ ...await store.queryInfo("gone") }, { gone: { size: -1 } });
        // A blob changed behind our back after our own query is seen as it is.
        const other = BlobServiceClient.fromConnectionString(az.connectionString)
          .getContainerClient("cost").getBlockBlobClient("dir/again");
        await other.upload("xyz", 3);
        assert.deepEqual({ ...await store.queryInfo("again") }, { again: { size: 3 } });
      } finally {
        await rec.close();
      }
    });
  },
});

Deno.test({
  name: "a streamed write is one Put Blob when it fits a block, else staged blocks and one commit",
  ignore: !AZURITE,
  async fn() {
    await withAzurite(async (az) => {
      const rec = recorder(az.port);
      try {
        await using store = await getBackend(
          "azure://streams",
          at(rec.port, "http", { blockSize: "64K", concurrency: 2, staleAfter: 0 }),
        );
        await store.write("small", "hello");
        rec.seen.length = 0;
        await store.write("one", new Uint8Array(65536).fill(1));
        assert.deepEqual(rec.seen, ["PUT"]);
        rec.seen.length = 0;
        const data = new Uint8Array(300_000);
        crypto.getRandomValues(data.subarray(0, 65536));
        await store.write(
          "blocks",
          (async function* () {
            for (let i = 0; i < data.length; i += 7000) yield data.slice(i, i + 7000);
          })(),
        );
        assert.deepEqual(rec.seen, [...Array(5).fill("PUT block"), "PUT blocklist"]);
        assert.deepEqual(await store.readBytes("blocks"), data);
        // A stream that gives another size than announced commits nothing.
        const err = await expectCode(
          () => store.write("wrong-size", new Uint8Array(100_000), { size: 90_000 }),
          ErrorCode.user_error,
        );
        assert.match(err.message, /100000 bytes, not the 90000 announced/);
        assert.deepEqual((await store.list()).sort(), ["blocks", "one", "small"]);
        // A ranged read is one GET asking for exactly that range.
        rec.seen.length = 0;
        const tail = await store.readBytes("blocks", { offset: 299_000 });
        assert.deepEqual(tail, data.subarray(299_000));
        assert.deepEqual(rec.seen, ["GET"]);
        assert.equal(rec.ranges.at(-1), "bytes=299000-");
      } finally {
        await rec.close();
      }
    });
  },
});
