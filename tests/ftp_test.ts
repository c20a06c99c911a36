/**
 * ftp:// and ftps:// against a real vsftpd on 127.0.0.1 (tests/servers/vsftpd.ts):
 * the conformance suite over plain FTP and FTPS, certificate checks, bad
 * credentials, active mode and a dropped control connection. (FTPS memory
 * figures live in bench/ftp.ts.)
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { BackendError, ErrorCode } from "../core/errors.ts";
import { ParsedUrl } from "../core/url.ts";
import { getBackend } from "../registry.ts";
import { FTPError } from "basic-ftp";
import { FTP_OPTIONS, FtpBackend } from "../backends/ftp/mod.ts";
import { toBackendError } from "../backends/ftp/error.ts";
import { testConformance } from "../testing/mod.ts";
import { expectCode, fakeListener, rejection, withTempDir } from "./_helpers.ts";
import { canRunVsftpd, FTP_PASSWORD, startVsftpd, type VsftpdServer } from "./servers/vsftpd.ts";

const ok = canRunVsftpd();

/** Fast retries for the tests: no real multi-second backoff. */
const FAST = { maxAttempts: 3, minTimeout: 10, maxTimeout: 50 };

async function withServer(
  options: { tls?: boolean; logProtocol?: boolean },
  fn: (server: VsftpdServer) => Promise<void>,
): Promise<void> {
  const server = await startVsftpd(options);
  try {
    await fn(server);
  } finally {
    await server.stop();
  }
}

function scratch(fn: (dir: string) => Promise<void>): Promise<void> {
  return withTempDir(fn, "stowage-ftp-test-");
}

/** put, list, get and delete one small file; returns what came back. */
async function roundTrip(
  url: string,
  options: Record<string, unknown>,
  dir: string,
): Promise<void> {
  await using store = await getBackend(url, { ...FAST, ...options });
  const src = join(dir, "src.txt");
  const dst = join(dir, "dst.txt");
  await Deno.writeTextFile(src, "hello over ftp");
  await store.put(src, " spaced name ");
  assert.deepEqual(await store.list(), [" spaced name "]);
  await store.get(" spaced name ", dst);
  assert.equal(await Deno.readTextFile(dst), "hello over ftp");
  assert.deepEqual((await store.queryInfo(" spaced name "))[" spaced name "], { size: 14 });
  await store.delete(" spaced name ");
  assert.deepEqual(await store.list(), []);
}

Deno.test({
  name: "ftp:// passes the conformance suite on vsftpd",
  ignore: !ok,
  fn: (t) => withServer({}, (s) => testConformance(t, s.url("suite"), { clean: true })),
});

Deno.test({
  name:
    "ftps:// passes the conformance suite on vsftpd with a private CA given as caFile and 3 connections",
  ignore: !ok,
  fn: (t) =>
    withServer({ tls: true }, (s) =>
      testConformance(t, s.url("suite"), {
        clean: true,
        // Three control connections: the pool, and a quicker run of 1500 TLS puts.
        storeOptions: { caFile: s.caFile, connections: 3 },
      })),
});

Deno.test({
  name: "ftps:// refuses an untrusted certificate by default with code 60 after one attempt",
  ignore: !ok,
  fn: () =>
    withServer({ tls: true }, async (s) => {
      await using store = await getBackend(s.url("x"), FAST);
      const err = await rejection(store.list());
      assert.equal(err.code, ErrorCode.backend_untrusted_host, err.message);
      assert.equal(err.attempts, 1);
      assert.ok(!err.message.includes(FTP_PASSWORD), "the password leaked into the message");
    }),
});

Deno.test({
  name: "ftps:// refuses a certificate from another CA or for another host name with code 60",
  ignore: !ok,
  fn: () =>
    withServer({ tls: true }, (s) =>
      withServer({ tls: true }, async (other) => {
        for (
          const options of [{ caFile: other.caFile }, {
            caFile: s.caFile,
            tlsServerName: "evil.example",
          }]
        ) {
          await using store = await getBackend(s.url("x"), { ...FAST, ...options });
          const err = await rejection(store.list());
          assert.equal(err.code, ErrorCode.backend_untrusted_host, err.message);
          assert.equal(err.attempts, 1);
        }
      })),
});

Deno.test({
  name: "ftps:// with caFile and with insecureSkipVerify both connect and round-trip",
  ignore: !ok,
  fn: () =>
    withServer({ tls: true }, (s) =>
      scratch(async (dir) => {
        await roundTrip(s.url("ca"), { caFile: s.caFile }, dir);
        await roundTrip(s.url("insecure"), { insecureSkipVerify: "true" }, dir);
      })),
});

Deno.test({
  name: "a wrong password fails with code 51 after one attempt and the password stays hidden",
  ignore: !ok,
  fn: () =>
    withServer({}, async (s) => {
      const url = s.url("x").replace(encodeURIComponent(FTP_PASSWORD), "wrong-secret-99");
      await using store = await getBackend(url, FAST);
      const err = await rejection(store.list());
      assert.equal(err.code, ErrorCode.backend_permission_denied, err.message);
      assert.equal(err.attempts, 1);
      assert.ok(!err.message.includes("wrong-secret-99"), err.message);
    }),
});

Deno.test({
  name: "FTP_PASSWORD gives the password when the URL has none",
  ignore: !ok,
  fn: () =>
    withServer({}, async (s) => {
      const url = s.url("").replace(`:${encodeURIComponent(FTP_PASSWORD)}@`, "@");
      const before = Deno.env.get("FTP_PASSWORD");
      Deno.env.set("FTP_PASSWORD", FTP_PASSWORD);
      try {
        await using store = await getBackend(url, FAST);
        assert.deepEqual(await store.list(), []);
      } finally {
        if (before === undefined) Deno.env.delete("FTP_PASSWORD");
        else Deno.env.set("FTP_PASSWORD", before);
      }
    }),
});

Deno.test({
  name: "a misspelled option fails with code 23 suggesting activeMode, before any connection",
  fn: async () => {
    // Port 1 on 127.0.0.1: nothing listens, so any connection attempt would fail differently.
    const url = "ftp://alice:pw@127.0.0.1:1/x";
    const options: Record<string, unknown> = { activMode: true };
    const err = await rejection(getBackend(url, options));
    assert.equal(err.code, ErrorCode.user_error, err.message);
    assert.match(err.message, /Unknown option "activMode".*did you mean "activeMode"/);
    // `timeout` is the wrapper's (it bounds ftp's waits through ctx.timeout), not ftp's own.
    assert.ok(!("timeout" in FTP_OPTIONS));
    assert.throws(
      () => new FtpBackend(new ParsedUrl(url), options),
      (e: unknown) => e instanceof BackendError && e.code === ErrorCode.user_error,
    );
  },
});

Deno.test({
  name:
    "askPassword is asked once, at the first login, when neither the URL nor FTP_PASSWORD has one",
  ignore: !ok,
  fn: () =>
    withServer({}, async (s) => {
      const url = s.url("").replace(`:${encodeURIComponent(FTP_PASSWORD)}@`, "@");
      const before = Deno.env.get("FTP_PASSWORD");
      Deno.env.delete("FTP_PASSWORD");
      try {
        const prompts: string[] = [];
        const askPassword = (prompt: string) => {
          prompts.push(prompt);
          return Promise.resolve(FTP_PASSWORD);
        };
        await using store = await getBackend(url, { ...FAST, askPassword });
        assert.deepEqual(prompts, [], "asked before any connection");
        assert.deepEqual(await store.list(), []);
        assert.deepEqual((await store.queryInfo("x"))["x"], { size: -1 });
        assert.equal(prompts.length, 1, prompts.join(" | "));
        assert.match(prompts[0]!, /^Password for .+@127\.0\.0\.1: $/);
      } finally {
        if (before !== undefined) Deno.env.set("FTP_PASSWORD", before);
      }
    }),
});

Deno.test({
  name: "active mode puts, lists, gets and deletes over plain FTP and FTPS",
  ignore: !ok,
  fn: async () => {
    await withServer(
      {},
      (s) => scratch((dir) => roundTrip(s.url("active"), { activeMode: true }, dir)),
    );
    await withServer(
      { tls: true },
      (s) =>
        scratch((dir) => roundTrip(s.url("active"), { activeMode: "yes", caFile: s.caFile }, dir)),
    );
  },
});

Deno.test({
  name:
    "a missing folder lists as code 52 naming it, and the first put creates it relative to the login folder",
  ignore: !ok,
  fn: () =>
    withServer({}, (s) =>
      scratch(async (dir) => {
        await using store = await getBackend(s.url("deep/er/folder"), FAST);
        const err = await expectCode(store.list(), ErrorCode.backend_not_found);
        assert.match(err.message, /the folder "deep\/er\/folder" does not exist/);
        assert.ok(!err.message.includes(s.root), err.message);
        assert.equal(err.attempts, 1);
        await expectCode(store.get("nothing", join(dir, "n")), ErrorCode.backend_not_found);
        await expectCode(store.read("nothing"), ErrorCode.backend_not_found);
        await store.delete("nothing");
        assert.deepEqual((await store.queryInfo("nothing"))["nothing"], { size: -1 });
        const src = join(dir, "f");
        await Deno.writeTextFile(src, "abc");
        await store.put(src, "f");
        assert.equal(await Deno.readTextFile(join(s.root, "deep/er/folder/f")), "abc");
      })),
});

Deno.test({
  name: "a control connection dropped between calls is retried on a new connection",
  ignore: !ok,
  fn: () =>
    withServer({}, (s) =>
      scratch(async (dir) => {
        const warnings: string[] = [];
        await using store = await getBackend(s.url("drop"), {
          ...FAST,
          log: (level, message) => level === "warn" && warnings.push(message),
        });
        const src = join(dir, "f");
        await Deno.writeTextFile(src, "before the drop");
        await store.put(src, "f");
        const pids = s.sessionPids();
        assert.ok(pids.length > 0, "no vsftpd session process found");
        for (const pid of pids) Deno.kill(pid, "SIGKILL");
        // Wait (without yielding to the event loop, so the client cannot
        // notice) until the session is gone: the next call meets a dead socket.
        const deadline = Date.now() + 3000;
        while (pids.some(alive) && Date.now() < deadline) { /* spin, bounded */ }
        assert.deepEqual(await store.list(), ["f"]);
        assert.equal(warnings.length, 1, `expected one retry: ${warnings.join(" | ")}`);
        assert.match(warnings[0]!, /Attempt 1 of 3 to list failed/);
        await store.get("f", join(dir, "back"));
        assert.equal(await Deno.readTextFile(join(dir, "back")), "before the drop");
      })),
});

/** Whether a process still runs (a zombie counts as gone). */
function alive(pid: number): boolean {
  try {
    return !/^State:\s+Z/m.test(Deno.readTextFileSync(`/proc/${pid}/status`));
  } catch {
    return false;
  }
}

Deno.test({
  name: "a folder the user may not enter or write is permission denied (51), not missing",
  ignore: !ok,
  fn: () =>
    withServer({}, (s) =>
      scratch(async (dir) => {
        // Owned by root: "readonly" can be listed but not written, "closed" not even entered.
        await Deno.mkdir(join(s.root, "readonly"), { mode: 0o755 });
        await Deno.mkdir(join(s.root, "closed"), { mode: 0o700 });
        await Deno.chmod(join(s.root, "closed"), 0o700);
        const src = join(dir, "f");
        await Deno.writeTextFile(src, "x");
        {
          await using store = await getBackend(s.url("readonly"), FAST);
          const err = await rejection(store.put(src, "f"));
          assert.equal(err.code, ErrorCode.backend_permission_denied, err.message);
          assert.equal(err.attempts, 1);
          assert.deepEqual(await store.list(), []);
        }
        {
          await using store = await getBackend(s.url("closed"), FAST);
          const err = await rejection(store.list());
          assert.equal(err.code, ErrorCode.backend_permission_denied, err.message);
          assert.equal(err.attempts, 1);
        }
      })),
});

Deno.test({
  name: "an 8 MiB file round-trips over FTP and FTPS, passive and active, without stalling",
  ignore: !ok,
  fn: () =>
    scratch(async (dir) => {
      const src = join(dir, "big");
      const data = new Uint8Array(8 << 20);
      for (let i = 0; i < data.length; i += 65536) {
        crypto.getRandomValues(data.subarray(i, i + 65536));
      }
      await Deno.writeFile(src, data);
      for (const tls of [false, true]) {
        await withServer({ tls }, async (s) => {
          for (const activeMode of [false, true]) {
            // A short timeout: a download that never sees its end fails fast.
            await using store = await getBackend(s.url("big"), {
              ...FAST,
              maxAttempts: 1,
              timeout: 5000,
              activeMode,
              ...(tls ? { caFile: s.caFile } : {}),
            });
            await store.put(src, "big");
            const dst = join(dir, `back-${tls}-${activeMode}`);
            await store.get("big", dst);
            assert.deepEqual(await Deno.readFile(dst), data, `tls ${tls}, active ${activeMode}`);
          }
        });
      }
    }),
});

const enc = (text: string) => new TextEncoder().encode(text);

/** Read from `conn` until the peer closes (or the connection is closed here). */
async function drain(conn: Deno.Conn): Promise<void> {
  const buf = new Uint8Array(4096);
  while ((await conn.read(buf).catch(() => null)) !== null) { /* discard */ }
}

/** One line from `conn` (without CRLF), `null` at EOF. */
async function readLine(conn: Deno.Conn): Promise<string | null> {
  let line = "";
  const one = new Uint8Array(1);
  while (!line.endsWith("\r\n")) {
    if ((await conn.read(one).catch(() => null)) === null) return null;
    line += String.fromCharCode(one[0]!);
  }
  return line.slice(0, -2);
}

Deno.test({
  name:
    "a server that speaks another protocol (an SSH banner) fails at once with code 38 quoting it",
  fn: async () => {
    await using server = fakeListener(async (conn) => {
      await conn.write(enc("SSH-2.0-OpenSSH_9.2\r\n"));
      await drain(conn);
    });
    await using store = await getBackend(`ftp://u:p@127.0.0.1:${server.port}/x`, {
      ...FAST,
      maxAttempts: 1,
      timeout: 20000,
    });
    const t0 = performance.now();
    const err = await expectCode(store.list(), ErrorCode.connection_failed);
    assert.match(err.message, /does not speak FTP \(it said "SSH-2\.0-OpenSSH_9\.2"\)/);
    assert.ok(performance.now() - t0 < 2000, `took ${performance.now() - t0} ms`);
  },
});

Deno.test({
  name: "a server that accepts and never answers gives up within the timeout plus 1 s (code 57)",
  fn: async () => {
    await using server = fakeListener(drain);
    await using store = await getBackend(`ftp://u:p@127.0.0.1:${server.port}/x`, {
      ...FAST,
      maxAttempts: 1,
      timeout: 300,
    });
    const t0 = performance.now();
    await expectCode(store.list(), ErrorCode.backend_timeout);
    const took = performance.now() - t0;
    assert.ok(took >= 290 && took < 1300, `took ${took} ms`);
  },
});

Deno.test({
  name: "ftps:// to a server that answers AUTH TLS in plain text is code 60 after one attempt",
  fn: async () => {
    await using server = fakeListener(async (conn) => {
      await conn.write(enc("220 fake FTP\r\n"));
      if ((await readLine(conn))?.startsWith("AUTH TLS")) {
        await conn.write(enc("234 go ahead\r\n"));
        await conn.read(new Uint8Array(4096)).catch(() => null); // the ClientHello
        await conn.write(enc("500 plain text, not TLS\r\n"));
      }
      await drain(conn);
    });
    await using store = await getBackend(`ftps://u:p@127.0.0.1:${server.port}/x`, FAST);
    const err = await expectCode(store.list(), ErrorCode.backend_untrusted_host);
    assert.equal(err.attempts, 1);
    assert.match(err.message, /does not speak TLS/);
  },
});

Deno.test({
  name:
    "a name longer than the server takes is code 59 after one attempt and leaves no temporary file",
  ignore: !ok,
  fn: () =>
    withServer({}, (s) =>
      scratch(async (dir) => {
        await using store = await getBackend(s.url("long"), FAST);
        const src = join(dir, "f");
        await Deno.writeTextFile(src, "x");
        const err = await expectCode(
          store.put(src, "n".repeat(300)),
          ErrorCode.backend_unsupported,
        );
        assert.equal(err.attempts, 1);
        assert.match(err.message, /too long/);
        assert.deepEqual(await store.list({ all: true }), []);
      })),
});

Deno.test({
  name: "server replies lose the server's absolute folder and a 'too long' reply is code 59",
  fn: () => {
    const reply = new FTPError({
      code: 550,
      message: "550 /srv/ftp/backups/x: File name too long",
    });
    const err = toBackendError(reply, undefined, { folder: "/srv/ftp/backups", shown: "backups" });
    assert.ok(err instanceof BackendError);
    assert.equal(err.code, ErrorCode.backend_unsupported);
    assert.ok(!err.message.includes("/srv/ftp"), err.message);
    assert.match(err.message, /"550 x: File name too long"/);
  },
});

Deno.test({
  name:
    "cancelling a put mid-transfer removes the temporary upload before it settles, and a get settles as fast (FTP and FTPS)",
  ignore: !ok,
  fn: () =>
    scratch(async (dir) => {
      const src = join(dir, "big");
      await Deno.writeFile(src, new Uint8Array(64 << 20));
      for (const tls of [false, true]) {
        await withServer({ tls }, async (s) => {
          const ac = new AbortController();
          await using store = await getBackend(s.url("cancel"), {
            ...FAST,
            ...(tls ? { caFile: s.caFile } : {}),
            onProgress: (e: { bytes: number }) => e.bytes > 0 && ac.abort(),
          });
          const t0 = performance.now();
          await expectCode(store.put(src, "big", { signal: ac.signal }), ErrorCode.backend_aborted);
          const took = performance.now() - t0;
          const left = [...Deno.readDirSync(join(s.root, "cancel"))].map((e) => e.name);
          assert.deepEqual(left, [], `tls ${tls}: left on the server`);
          assert.ok(took < 1000, `tls ${tls}: took ${took} ms`);
          assert.deepEqual(await store.list(), [], "the store still works");
          // A get cancelled mid-transfer settles as fast, and the connection is reused.
          await Deno.copyFile(src, join(s.root, "cancel", "big"));
          const back = new AbortController();
          await using reader = await getBackend(s.url("cancel"), {
            ...FAST,
            ...(tls ? { caFile: s.caFile } : {}),
            onProgress: (e: { bytes: number }) => e.bytes > 0 && back.abort(),
          });
          const t1 = performance.now();
          const got = reader.get("big", join(dir, "back"), { signal: back.signal });
          await expectCode(got, ErrorCode.backend_aborted);
          assert.ok(
            performance.now() - t1 < 1000,
            `tls ${tls}: get took ${performance.now() - t1}`,
          );
          assert.deepEqual(await reader.list(), ["big"]);
        });
      }
    }),
});

Deno.test({
  name:
    "a put the server stops answering mid-transfer gives up within the timeout plus 1 s and leaves no temporary file",
  ignore: !ok,
  fn: () =>
    withServer({}, (s) =>
      scratch(async (dir) => {
        const src = join(dir, "big");
        await Deno.writeFile(src, new Uint8Array(64 << 20));
        const TIMEOUT = 500;
        let stopped: number[] = [];
        let stalledAt = 0;
        let armed = false;
        await using store = await getBackend(s.url("stall"), {
          ...FAST,
          maxAttempts: 1,
          timeout: TIMEOUT,
          onProgress: (e: { bytes: number }) => {
            if (!armed || stopped.length || e.bytes === 0) return;
            stopped = s.sessionPids();
            for (const pid of stopped) Deno.kill(pid, "SIGSTOP");
            stalledAt = performance.now();
          },
        });
        // Log in first: the timeout is for the stalled transfer, not a slow login.
        await Deno.writeTextFile(join(dir, "small"), "x");
        await store.put(join(dir, "small"), "small");
        armed = true;
        try {
          await expectCode(store.put(src, "big"), ErrorCode.backend_timeout);
          const took = performance.now() - stalledAt;
          assert.ok(stopped.length > 0, "no session was stopped");
          assert.ok(took < TIMEOUT + 1000 + 200, `gave up ${took} ms after the stall`);
          const left = [...Deno.readDirSync(join(s.root, "stall"))].map((e) => e.name);
          assert.deepEqual(left, ["small"], "the temporary upload was left behind");
        } finally {
          for (const pid of stopped) Deno.kill(pid, "SIGCONT");
        }
      })),
});

Deno.test({
  name: "the size check after a put takes the size the upload confirmed, without a SIZE round trip",
  ignore: !ok,
  fn: () =>
    withServer({ logProtocol: true }, (s) =>
      scratch(async (dir) => {
        await using store = await getBackend(s.url("checked"), FAST);
        const src = join(dir, "f");
        await Deno.writeTextFile(src, "confirmed by 226");
        await store.put(src, "f", { validate: true });
        const log = () => Deno.readTextFileSync(join(s.dir, "vsftpd.log"));
        assert.match(log(), /"RNTO f"/);
        assert.doesNotMatch(log(), /"SIZE f"/);
        // Any later query asks the server.
        assert.deepEqual((await store.queryInfo("f"))["f"], { size: 16 });
        assert.match(log(), /"SIZE f"/);
      })),
});
