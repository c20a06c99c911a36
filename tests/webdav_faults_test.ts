/**
 * webdav:// failures, each in its class and bounded in time, against real
 * servers on 127.0.0.1 (Apache mod_dav, `rclone serve webdav`) and tiny
 * listeners started here: a server that speaks another protocol, one that
 * never answers, TLS spoken to a plain port, names too long for the server,
 * Ctrl-C mid-upload; plus ranged reads from a server that ignores `Range`
 * and the requests a put costs.
 *
 * @module
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { ErrorCode, getBackend, type GetBackendOptions } from "../mod.ts";
import { isTempName } from "../core/names.ts";
import {
  expectCode,
  expectCodeTimed,
  fakeListener,
  greetingListener,
  randomBytes,
  startHttpServer,
  withTempFile,
} from "./_helpers.ts";
import { withServer } from "./servers/common.ts";
import {
  type DavServer,
  davUrl,
  haveApache,
  haveRclone,
  proxiedUrl,
  seenCount,
  startApache,
  startRcloneWebdav,
  withProxiedApache,
} from "./servers/webdav.ts";

const APACHE = haveApache();
const RCLONE = haveRclone();

/** One attempt, no waiting between attempts. */
const ONCE: GetBackendOptions = { maxAttempts: 1, minTimeout: 10, maxTimeout: 50 };

const PREFIX = "stowage-webdav-faults-";

/** Run `fn` with a new temporary file holding `content`, removed afterwards. */
function withFile(
  content: Uint8Array | string,
  fn: (path: string) => Promise<void>,
): Promise<void> {
  return withTempFile(content, fn, PREFIX);
}

/** The temporary files left in a folder on the server's disk. */
async function tempsOnDisk(server: DavServer, folder: string): Promise<string[]> {
  const out: string[] = [];
  try {
    for await (const e of Deno.readDir(join(server.root, folder))) {
      if (isTempName(e.name)) out.push(e.name);
    }
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound)) throw err;
  }
  return out;
}

Deno.test("a server that speaks another protocol fails at once with code 38 saying what it said", async () => {
  await using ssh = greetingListener("SSH-2.0-OpenSSH_9.2\r\n");
  await withFile("x", async (file) => {
    const back = `${file}.back`;
    await using store = await getBackend(`webdav://u:p@127.0.0.1:${ssh.port}/x`, ONCE);
    const calls: [string, () => Promise<unknown>][] = [
      ["list", () => store.list()],
      ["get", () => store.get("a", back)],
      ["put", () => store.put(file, "a")],
      ["read", () => store.readBytes("a", { offset: 5, length: 10 })],
      ["write", () => store.write("a", "hello")],
    ];
    for (const [what, call] of calls) {
      const [err, ms] = await expectCodeTimed(call, ErrorCode.connection_failed);
      assert.match(err.message, /does not speak HTTP.*SSH-2\.0-OpenSSH_9\.2/, what);
      assert.ok(ms < 2000, `${what} took ${ms} ms`);
    }
  });
});

Deno.test("a server that never answers: every operation gives up within the timeout plus at most a second of clean-up", async () => {
  // A silent TCP listener, and an HTTP server that answers PROPFIND (the folder
  // exists) but never answers an upload nor the DELETE that cleans it up.
  await using silent = fakeListener();
  await using stuck = await startHttpServer((req, res) => {
    if (req.method === "PROPFIND") {
      req.resume();
      res.writeHead(207, { "Content-Type": "application/xml", "Content-Length": "0" });
      res.end();
    } else req.resume(); // never answered
  });
  const opts = { ...ONCE, timeout: 300 };
  await withFile(randomBytes(200_000), async (file) => {
    await using quiet = await getBackend(`webdav://u:p@127.0.0.1:${silent.port}/x`, opts);
    await using slow = await getBackend(`webdav://u:p@127.0.0.1:${stuck.port}/x`, opts);
    const calls: [string, () => Promise<unknown>][] = [
      ["list", () => quiet.list()],
      ["get", () => quiet.get("a", `${file}.back`)],
      ["read", () => quiet.readBytes("a")],
      ["put (the upload stalls)", () => slow.put(file, "a")],
      ["write (the upload stalls)", () => slow.write("a", randomBytes(100_000))],
    ];
    for (const [what, call] of calls) {
      const [, ms] = await expectCodeTimed(call, ErrorCode.backend_timeout);
      assert.ok(ms < 300 + 1000 + 400, `${what} took ${ms} ms`);
    }
  });
});

Deno.test({
  name: "TLS to a plain HTTP port fails with code 60 after one attempt",
  ignore: !APACHE,
  async fn() {
    await withServer(startApache, (server) =>
      withFile("x", async (file) => {
        const url = davUrl(server, "plain").replace(/^webdav:/, "webdavs:");
        await using store = await getBackend(url, {
          maxAttempts: 3,
          minTimeout: 10,
          maxTimeout: 50,
        });
        const calls: [string, () => Promise<unknown>][] = [
          ["list", () => store.list()],
          ["get", () => store.get("a", `${file}.back`)],
          ["read", () => store.readBytes("a", { offset: 1 })],
          ["put", () => store.put(file, "a")],
        ];
        for (const [what, call] of calls) {
          const err = await expectCode(call, ErrorCode.backend_untrusted_host);
          assert.equal(err.attempts, 1, what);
          assert.match(err.message, /does not speak TLS/, what);
        }
      }));
  },
});

for (
  const [label, ok, start] of [
    ["Apache", APACHE, startApache],
    ["rclone", RCLONE, startRcloneWebdav],
  ] as const
) {
  Deno.test({
    name:
      `${label}: a name too long for the server is code 59, not retried, with the store-relative name and no temporary left`,
    ignore: !ok,
    async fn() {
      await withServer(start, (server) =>
        withFile("long", async (file) => {
          const name = `${"n".repeat(290)}.bin`;
          await using store = await getBackend(davUrl(server, "long"), {
            maxAttempts: 3,
            minTimeout: 10,
            maxTimeout: 50,
          });
          // Apache refuses every request about the name (403); rclone only the MOVE onto it
          // (403), and finds no such file (404) when asked about it.
          const calls: (() => Promise<unknown>)[] = [() => store.put(file, name)];
          if (label === "Apache") {
            calls.push(() => store.queryInfo([name]), () => store.readBytes(name));
          }
          for (const call of calls) {
            const err = await expectCode(call, ErrorCode.backend_unsupported);
            assert.equal(err.attempts, 1);
            assert.match(err.message, /too long/);
            assert.ok(err.message.includes(name.slice(0, 40)), err.message);
            assert.ok(!err.message.includes(server.root), err.message);
          }
          assert.deepEqual(await tempsOnDisk(server, "long"), []);
          assert.deepEqual(await store.list({ all: true }), []);
        }));
    },
  });

  Deno.test({
    name:
      `${label}: Ctrl-C during a put or a streamed write removes the temporary upload before the call settles`,
    ignore: !ok,
    async fn() {
      await withServer(start, (server) =>
        withFile(randomBytes(64 << 20), async (file) => {
          let abortAt = Infinity;
          let ac = new AbortController();
          await using store = await getBackend(davUrl(server, "cancel"), {
            ...ONCE,
            onProgress: (p) => {
              if (p.bytes > 0 && (abortAt -= p.bytes) <= 0) ac.abort();
            },
          });
          await store.write("seed", "the folder exists"); // the folder is made before the clock starts
          const calls: [string, () => Promise<unknown>][] = [
            ["put", () => store.put(file, "big", { signal: ac.signal })],
            ["write", () =>
              store.write("big", async function* () {
                for (let i = 0; i < 64; i++) yield randomBytes(1 << 20);
              }, { signal: ac.signal })],
          ];
          for (const [what, call] of calls) {
            ac = new AbortController();
            abortAt = 4 << 20;
            let abortedAt = 0;
            ac.signal.addEventListener("abort", () => abortedAt = performance.now());
            await expectCode(call, ErrorCode.backend_aborted);
            const settle = performance.now() - abortedAt;
            assert.ok(abortedAt > 0, `${what}: the abort never fired`);
            assert.ok(settle < 1500, `${what} settled ${settle} ms after the abort`);
            assert.deepEqual(await tempsOnDisk(server, "cancel"), [], what);
            assert.deepEqual(await store.list({ all: true }), ["seed"], what);
          }
        }));
    },
  });
}

Deno.test({
  name: "a server that ignores Range still gives exactly the bytes asked",
  ignore: !APACHE,
  async fn() {
    await withProxiedApache({ stripRange: true }, async (server, proxy) => {
      const data = randomBytes(300_000);
      await using store = await getBackend(proxiedUrl(server, proxy, "norange"), ONCE);
      await store.write("f", data);
      assert.deepEqual(
        await store.readBytes("f", { offset: 1000, length: 5000 }),
        data.slice(1000, 6000),
      );
      assert.deepEqual(await store.readBytes("f", { offset: 299_990 }), data.slice(299_990));
      assert.deepEqual(
        await store.readBytes("f", { offset: 400_000, length: 10 }),
        new Uint8Array(),
      );
      assert.ok(seenCount(proxy, "GET") >= 3);
    });
  },
});

Deno.test({
  name: "a read whose connection drops mid-way resumes from the byte reached with identical bytes",
  ignore: !APACHE,
  async fn() {
    const rules = { cut: (m: string) => m === "GET", cutOnce: true };
    await withProxiedApache(rules, async (server, proxy) => {
      const data = randomBytes(4 << 20);
      await using store = await getBackend(proxiedUrl(server, proxy, "resume"), {
        ...ONCE,
        maxAttempts: 2,
      });
      await store.write("f", data);
      assert.deepEqual(await store.readBytes("f", { offset: 10 }), data.subarray(10));
      assert.equal(seenCount(proxy, "GET"), 2);
    });
  },
});

Deno.test({
  name:
    "sequential puts with the size check cost one PUT and one MOVE each, over reused connections",
  ignore: !APACHE,
  async fn() {
    await withProxiedApache({}, (server, proxy) =>
      withFile(randomBytes(4096), async (file) => {
        await using store = await getBackend(proxiedUrl(server, proxy, "a/b"), ONCE);
        for (let i = 0; i < 20; i++) await store.put(file, `f${i}`, { validate: true });
        const count = (method: string) => seenCount(proxy, method);
        assert.equal(count("PUT"), 20);
        assert.equal(count("MOVE"), 20);
        // Once per store: whether the folder exists (then MKCOL, parents first), and the
        // wrapper's sweep of stale temporaries after the first put.
        assert.equal(count("PROPFIND"), 2, proxy.seen.join("\n"));
        assert.equal(count("MKCOL"), 3, proxy.seen.join("\n"));
        assert.ok(proxy.connections <= 3, `${proxy.connections} connections`);
        // Any other request in between: the size is asked from the server again.
        await store.list();
        assert.equal((await store.queryInfo(["f19"]))["f19"]?.size, 4096);
        assert.equal(count("PROPFIND"), 4);
      }));
  },
});
