/**
 * webdav:// and webdavs:// against real servers on 127.0.0.1: Apache mod_dav
 * and `rclone serve webdav` (plain and TLS). Faults (503 with Retry-After,
 * dropped connections) come from a small loopback proxy in front of the real
 * server, never from a mock of the protocol.
 *
 * @module
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { BackendError, ErrorCode, getBackend, ParsedUrl } from "../mod.ts";
import { testConformance } from "../testing/mod.ts";
import { WebdavBackend } from "../backends/webdav/mod.ts";
import { MultistatusParser } from "../backends/webdav/multistatus.ts";
import {
  expectCode,
  randomBytes,
  rejection,
  startHttpServer,
  tempFile as makeTempFile,
} from "./_helpers.ts";
import { freePort, waitFor, withServer } from "./servers/common.ts";
import {
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

/** Options that make the wrapper's waits instant and record them. */
function instant(delays: number[] = []) {
  return {
    minTimeout: 10,
    maxTimeout: 50,
    random: () => 0,
    sleep: (ms: number) => {
      delays.push(ms);
      return Promise.resolve();
    },
  };
}

/** A new temporary file holding `content`. */
function tempFile(content: string | Uint8Array): Promise<string> {
  return makeTempFile(content, "stowage-webdav-test-");
}

// ---- no server needed ----

Deno.test("webdav, webdavs, http and https URLs map to the right HTTP base with encoded segments", () => {
  const cases: [string, string][] = [
    ["webdav://u:p@example.com/a b/c%23d/", "http://example.com/a%20b/c%23d/"],
    ["webdavs://u@example.com:8443/backups", "https://example.com:8443/backups/"],
    ["http://example.com:8080", "http://example.com:8080/"],
    ["https://example.com:443/x/%C3%A9t%C3%A9/", "https://example.com/x/%C3%A9t%C3%A9/"],
    ["webdav://[::1]:8080/dav", "http://[::1]:8080/dav/"],
  ];
  for (const [url, base] of cases) {
    assert.equal(new WebdavBackend(new ParsedUrl(url)).baseUrl, base, url);
  }
});

Deno.test("a multistatus answer decodes entities and keeps a careless server's stray & as it is", () => {
  const xml = '<?xml version="1.0"?><D:multistatus xmlns:D="DAV:">' +
    "<D:response><D:href>/d/Q&amp;A%20&#x1F600;.txt</D:href><D:propstat><D:prop>" +
    "<D:resourcetype/><D:getcontentlength>12</D:getcontentlength></D:prop>" +
    "<D:status>HTTP/1.1 200 OK</D:status></D:propstat></D:response>" +
    "<d:response><d:href>/d/raw & odd</d:href><d:propstat><d:prop><d:resourcetype>" +
    "<d:collection/></d:resourcetype></d:prop><d:status>HTTP/1.1 200 OK</d:status>" +
    "</d:propstat></d:response></D:multistatus>";
  const parser = new MultistatusParser();
  const bytes = new TextEncoder().encode(xml);
  const entries = [...parser.push(bytes.subarray(0, 100)), ...parser.push(bytes.subarray(100))];
  entries.push(...parser.end());
  assert.deepEqual(entries, [
    { name: "Q&A \u{1F600}.txt", path: "/d/Q&A \u{1F600}.txt", collection: false, size: 12 },
    { name: "raw & odd", path: "/d/raw & odd", collection: true, size: null },
  ]);
});

Deno.test("a malformed headers option is refused with code 23", () => {
  for (const headers of ["no colon here", "Bad Name: x", { "X-A": "line\r\nbreak" }]) {
    assert.throws(
      () => new WebdavBackend(new ParsedUrl("webdav://h/x"), { headers }),
      (err: unknown) => err instanceof BackendError && err.code === ErrorCode.user_error,
    );
  }
});

Deno.test("an unknown option (maxRedirect) fails with code 23 suggesting maxRedirects, before any request", async () => {
  const seen: string[] = [];
  await using server = await startHttpServer((req, res) => {
    seen.push(`${req.method} ${req.url}`);
    res.writeHead(207, { "Content-Length": "0" });
    res.end();
  });
  const url = `webdav://u:p@127.0.0.1:${server.port}/x`;
  const options: Record<string, unknown> = { maxRedirect: 3 };
  const err = await expectCode(async () => {
    await using store = await getBackend(url, options);
    await store.list();
  }, ErrorCode.user_error);
  assert.match(err.message, /did you mean "maxRedirects"/);
  assert.throws(
    () => new WebdavBackend(new ParsedUrl(url), options),
    (e: unknown) => e instanceof BackendError && e.code === ErrorCode.user_error,
  );
  assert.deepEqual(seen, []);
});

Deno.test("an unreadable caFile fails with code 23 on first use, tried once", async () => {
  const port = freePort();
  await using store = await getBackend(`webdavs://u:p@127.0.0.1:${port}/x`, {
    caFile: "/nonexistent/ca.pem",
    ...instant(),
  });
  const err = await expectCode(store.list(), ErrorCode.user_error);
  assert.equal(err.attempts, 1);
});

Deno.test("a refused connection is retried and fails with code 38", async () => {
  const port = freePort();
  const delays: number[] = [];
  await using store = await getBackend(`webdav://u:p@127.0.0.1:${port}/x`, {
    maxAttempts: 2,
    ...instant(delays),
  });
  const err = await expectCode(store.list(), ErrorCode.connection_failed);
  assert.equal(err.attempts, 2);
  assert.equal(delays.length, 1);
});

// ---- Apache mod_dav ----

Deno.test({
  name: "webdav:// on Apache mod_dav passes the conformance suite",
  ignore: !APACHE,
  async fn(t) {
    await withServer(startApache, async (server) => {
      await testConformance(t, davUrl(server, "conformance/sub dir"), { clean: true });
    });
  },
});

Deno.test({
  name:
    "Apache: wrong password fails with code 51 after one attempt, without the password in the message",
  ignore: !APACHE,
  async fn() {
    await withServer(startApache, async (server) => {
      const url = `webdav://${server.user}:Wr0ngPass@127.0.0.1:${server.port}/x`;
      await using store = await getBackend(url, instant());
      const err = await expectCode(store.list(), ErrorCode.backend_permission_denied);
      assert.equal(err.attempts, 1);
      assert.ok(!err.message.includes("Wr0ngPass"), err.message);
      const file = await tempFile("x");
      const err2 = await expectCode(store.put(file, "f"), ErrorCode.backend_permission_denied);
      assert.equal(err2.attempts, 1);
      await Deno.remove(file);
    });
  },
});

Deno.test({
  name:
    "Apache: listing a missing folder is code 52 naming it, and the first put creates the whole chain",
  ignore: !APACHE,
  async fn() {
    await withServer(startApache, async (server) => {
      await using store = await getBackend(davUrl(server, "deep/er/est"), instant());
      const missing = await expectCode(store.list(), ErrorCode.backend_not_found);
      assert.match(missing.message, /the folder "deep\/er\/est" does not exist/);
      assert.equal(missing.attempts, 1);
      assert.deepEqual({ ...await store.queryInfo(["nope"]) }, { nope: { size: -1 } });
      const file = await tempFile("chain");
      await store.put(file, "f.txt");
      assert.equal(await Deno.readTextFile(join(server.root, "deep/er/est/f.txt")), "chain");
      // Sub-folders are not files: list leaves them out.
      await Deno.mkdir(join(server.root, "deep/er/est/child"));
      assert.deepEqual(await store.list(), ["f.txt"]);
      await Deno.remove(file);
    });
  },
});

Deno.test({
  name: "Apache: the password can come from FTP_PASSWORD instead of the URL",
  ignore: !APACHE,
  async fn() {
    await withServer(startApache, async (server) => {
      await Deno.mkdir(join(server.root, "env-pass"));
      const url = `webdav://${server.user}@127.0.0.1:${server.port}/env-pass`;
      const code = `import { getBackend } from ${
        JSON.stringify(new URL("../mod.ts", import.meta.url).href)
      };
        const s = await getBackend(${JSON.stringify(url)}, { maxAttempts: 1 });
        console.log(JSON.stringify(await s.list())); await s.close();`;
      const out = await new Deno.Command(Deno.execPath(), {
        args: ["eval", code],
        env: { FTP_PASSWORD: server.pass },
        stdout: "piped",
        stderr: "piped",
      }).output();
      assert.ok(out.success, new TextDecoder().decode(out.stderr));
      assert.equal(new TextDecoder().decode(out.stdout).trim(), "[]");
    });
  },
});

Deno.test({
  name: "Apache: askPassword is asked once, at the first request, never when the store is made",
  ignore: !APACHE || Boolean(Deno.env.get("FTP_PASSWORD")),
  async fn() {
    await withServer(startApache, async (server) => {
      const prompts: string[] = [];
      const askPassword = (prompt: string) => {
        prompts.push(prompt);
        return Promise.resolve(server.pass);
      };
      const url = `webdav://${server.user}@127.0.0.1:${server.port}/asked`;
      await using store = await getBackend(url, { askPassword, ...instant() });
      assert.deepEqual(prompts, []);
      const file = await tempFile("asked");
      await store.put(file, "a");
      assert.deepEqual(await store.list(), ["a"]);
      assert.deepEqual(prompts, [`Password for ${server.user}@127.0.0.1: `]);
      await Deno.remove(file);
    });
  },
});

Deno.test({
  name: "Apache: extra headers (string and object forms) are sent with every request",
  ignore: !APACHE,
  async fn() {
    await withServer(startApache, async (server) => {
      const file = await tempFile("h");
      {
        await using store = await getBackend(davUrl(server, "hdr"), {
          headers: "X-Stowage-Test: one, two, X-Other: 3",
          ...instant(),
        });
        await store.put(file, "a");
        await store.list();
      }
      {
        await using store = await getBackend(davUrl(server, "hdr"), {
          headers: { "X-Stowage-Test": "object-form" },
          ...instant(),
        });
        await store.delete("a");
      }
      // Apache writes the log line just after answering: wait (bounded) for the last one.
      const log = await waitFor("the DELETE in the access log", async () => {
        const lines = (await Deno.readTextFile(server.accessLog!)).trim().split("\n");
        return lines.some((l) => l.startsWith("DELETE ")) ? lines : undefined;
      }, 5000);
      const lines = log.filter((l) => l.includes("/hdr/"));
      assert.ok(lines.some((l) => l.startsWith("PUT ") && l.endsWith(" one, two")), log.join("\n"));
      assert.ok(
        lines.some((l) => l.startsWith("MOVE ") && l.endsWith(" one, two")),
        log.join("\n"),
      );
      assert.ok(
        lines.some((l) => l.startsWith("PROPFIND ") && l.endsWith(" one, two")),
        log.join("\n"),
      );
      assert.ok(
        lines.some((l) => l.startsWith("DELETE ") && l.endsWith(" object-form")),
        log.join("\n"),
      );
      await Deno.remove(file);
    });
  },
});

Deno.test({
  name: "Apache: redirects are followed (307, and a 301→308 chain) and a redirect loop fails",
  ignore: !APACHE,
  async fn() {
    const extraConfig = [
      "Redirect 307 /old /new",
      "Redirect 301 /hop1 /hop2",
      "Redirect 308 /hop2 /new",
      "Redirect 302 /loop1 /loop2",
      "Redirect 302 /loop2 /loop1",
    ].join("\n");
    await withServer(() => startApache({ extraConfig }), async (server) => {
      const data = randomBytes(3 << 20);
      const file = await tempFile(data);
      const back = join(await Deno.makeTempDir(), "back");
      for (const [from, name] of [["old/sub", "big name.bin"], ["hop1/sub", "second"]]) {
        await using store = await getBackend(davUrl(server, from!), instant());
        await store.put(file, name!);
        assert.ok((await store.list()).includes(name!));
        await store.get(name!, back);
        assert.deepEqual(await Deno.readFile(back), data);
        assert.deepEqual({ ...await store.queryInfo([name!]) }, { [name!]: { size: data.length } });
        await store.write(`${name} streamed`, data.subarray(0, 100_000));
        assert.deepEqual(await store.readBytes(`${name} streamed`), data.subarray(0, 100_000));
      }
      assert.deepEqual(
        (await Deno.stat(join(server.root, "new/sub/big name.bin"))).size,
        data.length,
      );
      {
        // A fresh store whose first request is a GET: fetch sees the redirect, node:http follows it.
        await using store = await getBackend(davUrl(server, "old/sub"), instant());
        await store.get("big name.bin", back);
        assert.deepEqual(await Deno.readFile(back), data);
      }
      {
        // The same for a ranged read.
        await using store = await getBackend(davUrl(server, "old/sub"), instant());
        const part = await store.readBytes("big name.bin", { offset: 1000, length: 5000 });
        assert.deepEqual(part, data.subarray(1000, 6000));
      }
      await using loop = await getBackend(davUrl(server, "loop1/x"), {
        ...instant(),
        maxAttempts: 1,
      });
      const err = await rejection(loop.list());
      assert.match(err.message, /too many redirects/);
      await Deno.remove(file);
      await Deno.remove(back);
    });
  },
});

Deno.test({
  name: "503 with Retry-After is retried after the wait the server asked for",
  ignore: !APACHE,
  async fn() {
    await withProxiedApache({ fail503: 1 }, async (server, proxy) => {
      const delays: number[] = [];
      await using store = await getBackend(proxiedUrl(server, proxy, "ra"), instant(delays));
      const file = await tempFile("after the wait");
      await store.put(file, "r");
      assert.deepEqual(delays, [1000]);
      assert.equal(await Deno.readTextFile(join(server.root, "ra/r")), "after the wait");
      await Deno.remove(file);
    });
  },
});

Deno.test({
  name: "get() retries when the connection drops mid-transfer and the file arrives whole",
  ignore: !APACHE,
  async fn() {
    const rules = { cut: (m: string) => m === "GET", cutOnce: true };
    await withProxiedApache(rules, async (server, proxy) => {
      const data = randomBytes(4 << 20);
      await Deno.mkdir(join(server.root, "drop"));
      await Deno.writeFile(join(server.root, "drop/f"), data);
      const delays: number[] = [];
      await using store = await getBackend(proxiedUrl(server, proxy, "drop"), instant(delays));
      const dest = join(await Deno.makeTempDir(), "f");
      await store.get("f", dest);
      assert.deepEqual(await Deno.readFile(dest), data);
      assert.equal(seenCount(proxy, "GET"), 2);
      await Deno.remove(dest);
    });
  },
});

Deno.test({
  name: "put() leaves no partial file when the connection drops",
  ignore: !APACHE,
  async fn() {
    await withProxiedApache({ cut: (m) => m === "PUT" }, async (server, proxy) => {
      const file = await tempFile(randomBytes(4 << 20));
      await using store = await getBackend(proxiedUrl(server, proxy, "cut"), {
        ...instant(),
        maxAttempts: 1,
      });
      await expectCode(store.put(file, "partial"), ErrorCode.connection_failed);
      assert.ok(seenCount(proxy, "PUT") > 0);
      await using direct = await getBackend(davUrl(server, "cut"), instant());
      assert.deepEqual(await direct.list(), []);
      await Deno.remove(file);
    });
  },
});

// ---- rclone serve webdav ----

Deno.test({
  name: "webdav:// on rclone serve webdav passes the conformance suite",
  ignore: !RCLONE,
  async fn(t) {
    await withServer(startRcloneWebdav, async (server) => {
      await testConformance(t, davUrl(server, "conformance/sub dir"), { clean: true });
    });
  },
});

Deno.test({
  name:
    "webdavs:// (rclone, certificate from a private CA) is refused by default and accepted with caFile or insecureSkipVerify",
  ignore: !RCLONE,
  async fn(t) {
    await withServer(() => startRcloneWebdav({ tls: true }), async (server) => {
      await Deno.mkdir(join(server.root, "tls"));
      await t.step("an untrusted certificate fails with code 60 after one attempt", async () => {
        await using store = await getBackend(davUrl(server, "tls"), instant());
        const err = await expectCode(store.list(), ErrorCode.backend_untrusted_host);
        assert.equal(err.attempts, 1);
        assert.ok(!err.message.includes(server.pass));
        // get goes through Deno's fetch: the same refusal.
        const err2 = await expectCode(
          store.get("x", join(await Deno.makeTempDir(), "x")),
          ErrorCode.backend_untrusted_host,
        );
        assert.equal(err2.attempts, 1);
      });
      await t.step('insecureSkipVerify (as the CLI string "true") accepts it', async () => {
        await using store = await getBackend(davUrl(server, "tls"), {
          insecureSkipVerify: "true",
          ...instant(),
        });
        assert.deepEqual(await store.list(), []);
        const file = await tempFile("insecure but asked for");
        const back = join(await Deno.makeTempDir(), "back");
        await store.put(file, "i");
        await store.get("i", back);
        assert.equal(await Deno.readTextFile(back), "insecure but asked for");
        await store.write("w", "streamed over node:https");
        assert.equal(await store.readText("w", { offset: 9 }), "over node:https");
        await store.delete(["i", "w"]);
        await Deno.remove(file);
        await Deno.remove(back);
      });
      await t.step("caFile accepts it and a large file round-trips", async () => {
        const data = randomBytes((3 << 20) + 17);
        const file = await tempFile(data);
        const back = join(await Deno.makeTempDir(), "back");
        await using store = await getBackend(davUrl(server, "tls"), {
          caFile: server.certFile,
          ...instant(),
        });
        await store.put(file, "over tls");
        await store.get("over tls", back);
        assert.deepEqual(await Deno.readFile(back), data);
        await store.delete("over tls");
        await Deno.remove(file);
        await Deno.remove(back);
      });
      await t.step("the conformance suite passes over TLS", async (s) => {
        await testConformance(s, davUrl(server, "tls-conformance"), {
          clean: true,
          manyFiles: 200,
          storeOptions: { caFile: server.certFile },
        });
      });
    });
  },
});

Deno.test({
  name: "rclone: wrong password fails with code 51 after one attempt",
  ignore: !RCLONE,
  async fn() {
    await withServer(startRcloneWebdav, async (server) => {
      await using store = await getBackend(
        `webdav://${server.user}:nope@127.0.0.1:${server.port}/x`,
        instant(),
      );
      const err = await expectCode(store.list(), ErrorCode.backend_permission_denied);
      assert.equal(err.attempts, 1);
    });
  },
});
