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
import { FtpBackend } from "../backends/ftp/mod.ts";
import { testConformance } from "../testing/mod.ts";
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

async function scratch(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "stowage-ftp-test-" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

async function rejection(p: Promise<unknown>): Promise<BackendError> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof BackendError, `expected a BackendError, got ${err}`);
    return err;
  }
  throw new Error("expected the call to fail");
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
      const url = s.url("env").replace(`:${encodeURIComponent(FTP_PASSWORD)}@`, "@");
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
      const url = s.url("asked").replace(`:${encodeURIComponent(FTP_PASSWORD)}@`, "@");
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
  name: "the folder is created on the first put, relative to the login folder",
  ignore: !ok,
  fn: () =>
    withServer({}, (s) =>
      scratch(async (dir) => {
        await using store = await getBackend(s.url("deep/er/folder"), FAST);
        assert.deepEqual(await store.list(), [], "a missing folder lists as empty");
        const miss = await rejection(store.get("nothing", join(dir, "n")));
        assert.equal(miss.code, ErrorCode.backend_not_found);
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
