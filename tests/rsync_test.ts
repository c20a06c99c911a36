/**
 * rsync:// against the real rsync program: an rsync daemon (password login
 * from a secrets file) and rsync over ssh (a test sshd with key login),
 * both on 127.0.0.1, through the conformance suite; plus duplicity's URL
 * meanings, exit-status mapping, and the password kept out of argv
 * (checked with a stand-in program that records its arguments).
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { ErrorCode, getBackend, ParsedUrl } from "../mod.ts";
import { testConformance } from "../testing/mod.ts";
import { RsyncBackend } from "../backends/rsync/mod.ts";
import { errorCode, RsyncError } from "../backends/rsync/error.ts";
import { expectCode } from "./_helpers.ts";
import { freePort } from "./servers/common.ts";
import { haveRsync, haveRsyncSshd, startRsyncd, startRsyncSshd } from "./servers/rsyncd.ts";

const RSYNC = haveRsync();
const SSHD = RSYNC && haveRsyncSshd();

/** Fast retries for the error cases. */
const QUICK = { maxAttempts: 2, minTimeout: 1, maxTimeout: 5 };

Deno.test({
  name: "rsync:// on an rsync daemon passes the conformance suite with password login",
  ignore: !RSYNC,
  async fn(t) {
    const srv = await startRsyncd();
    try {
      const pw = encodeURIComponent(srv.password);
      const url = `rsync://${srv.user}:${pw}@127.0.0.1:${srv.port}::${srv.module}/store/set1`;
      await testConformance(t, url, { clean: true, manyFiles: 300 });
      assert.ok(Deno.statSync(join(srv.root, "store/set1")).isDirectory, "the folder was not made");
    } finally {
      await srv.stop();
    }
  },
});

Deno.test({
  name: "rsync:// over ssh passes the conformance suite with a folder relative to the home",
  ignore: !SSHD,
  async fn(t) {
    const srv = await startRsyncSshd();
    try {
      const url = `rsync://${srv.user}@127.0.0.1:${srv.port}/rel/dir`;
      const storeOptions = {
        identityFile: srv.clientKey,
        knownHostsFile: srv.knownHostsFile,
        sshConfig: "none",
      };
      await testConformance(t, url, { clean: true, manyFiles: 60, storeOptions });
      assert.ok(Deno.statSync(join(srv.root, "rel/dir")).isDirectory, "not under the home folder");
    } finally {
      await srv.stop();
    }
  },
});

Deno.test({
  name: "rsync:// over ssh reaches an absolute // folder with the port from the options",
  ignore: !SSHD,
  async fn() {
    const srv = await startRsyncSshd();
    try {
      const abs = join(srv.root, "abs", "dir");
      const store = await getBackend(`rsync://${srv.user}@127.0.0.1/${abs}`, {
        port: srv.port,
        identityFile: srv.clientKey,
        knownHostsFile: srv.knownHostsFile,
        sshConfig: "none",
        ...QUICK,
      });
      const local = join(srv.dir, "local.txt");
      await Deno.writeTextFile(local, "absolute");
      await store.put(local, "a b?.txt");
      assert.equal(await Deno.readTextFile(join(abs, "a b?.txt")), "absolute");
      assert.deepEqual(await store.list(), ["a b?.txt"]);
      await store.get("a b?.txt", join(srv.dir, "back.txt"));
      assert.equal(await Deno.readTextFile(join(srv.dir, "back.txt")), "absolute");
      await store.delete("a b?.txt");
      assert.deepEqual(await store.list(), []);
      await store.close();
    } finally {
      await srv.stop();
    }
  },
});

Deno.test({
  name: "an untrusted ssh host key is code 60, a refused key 51, both without retries",
  ignore: !SSHD,
  async fn() {
    const srv = await startRsyncSshd();
    try {
      const empty = join(srv.dir, "empty_known_hosts");
      await Deno.writeTextFile(empty, "");
      const url = `rsync://${srv.user}@127.0.0.1:${srv.port}/x`;
      const base = { identityFile: srv.clientKey, sshConfig: "none", ...QUICK, maxAttempts: 3 };
      const untrusted = await getBackend(url, { ...base, knownHostsFile: empty });
      const e60 = await expectCode(untrusted.list(), ErrorCode.backend_untrusted_host);
      assert.equal(e60.attempts, 1);
      const wrongKey = join(srv.dir, "host_ed25519"); // a key the server does not accept
      const refused = await getBackend(url, {
        ...base,
        identityFile: wrongKey,
        knownHostsFile: srv.knownHostsFile,
      });
      const e51 = await expectCode(refused.list(), ErrorCode.backend_permission_denied);
      assert.equal(e51.attempts, 1);
      await untrusted.close();
      await refused.close();
    } finally {
      await srv.stop();
    }
  },
});

Deno.test({
  name: "the daemon: a wrong password is 51, an unknown module 52, a closed port 38",
  ignore: !RSYNC,
  async fn() {
    const srv = await startRsyncd();
    try {
      const at = `127.0.0.1:${srv.port}`;
      const bad = await getBackend(`rsync://${srv.user}:wrong@${at}::data/x`, QUICK);
      const e51 = await expectCode(bad.list(), ErrorCode.backend_permission_denied);
      assert.ok(!e51.message.includes("wrong"), e51.message);
      const pw = encodeURIComponent(srv.password);
      const nomod = await getBackend(`rsync://${srv.user}:${pw}@${at}::nomodule/x`, QUICK);
      await expectCode(nomod.list(), ErrorCode.backend_not_found);
      const missing = await getBackend(`rsync://${srv.user}:${pw}@${at}::data/no/such`, QUICK);
      const e52 = await expectCode(missing.list(), ErrorCode.backend_not_found);
      assert.match(e52.message, /no such folder/);
      assert.equal((await missing.queryInfo(["x"])).x?.size, -1);
      await expectCode(missing.get("x", join(srv.dir, "x")), ErrorCode.backend_not_found);
      await missing.delete(["x"]);
      const closed = await getBackend(`rsync://127.0.0.1:${freePort()}::data/x`, QUICK);
      await expectCode(closed.list(), ErrorCode.connection_failed);
      for (const s of [bad, nomod, missing, closed]) await s.close();
    } finally {
      await srv.stop();
    }
  },
});

Deno.test("rsync:// URLs keep duplicity's meanings: ::module is the daemon, // is absolute", () => {
  const target = (u: string, o = {}) => new RsyncBackend(new ParsedUrl(u), o).target;
  assert.deepEqual(target("rsync://bob:pw@nas:8730::data/dir/sub/"), {
    mode: "daemon",
    folder: "bob@nas::data/dir/sub",
    transport: ["--port=8730"],
  });
  assert.deepEqual(target("rsync://nas::/data/dir", { port: 1873 }), {
    mode: "daemon",
    folder: "nas::data/dir",
    transport: ["--port=1873"],
  });
  const rel = target("rsync://bob@nas:2222/rel/dir", { identityFile: "/k/id key" });
  assert.equal(rel.mode, "ssh");
  assert.equal(rel.folder, "bob@nas:rel/dir");
  assert.deepEqual(rel.transport, [
    "-e",
    "ssh -o BatchMode=yes -p 2222 -i '/k/id key' -o IdentitiesOnly=yes",
  ]);
  assert.equal(target("rsync://bob@nas//srv/backup").folder, "bob@nas:/srv/backup");
  assert.equal(target("rsync://bob@nas").folder, "bob@nas:.");
  assert.throws(() => target("rsync://nas::"), (e: Error) => (e as { code?: number }).code === 23);
});

Deno.test("rsync exit statuses map to codes", () => {
  const code = (status: number, stderr = "") =>
    errorCode(new RsyncError("rsync", "put", status, stderr));
  assert.equal(code(5, "@ERROR: auth failed on module data"), ErrorCode.backend_permission_denied);
  assert.equal(code(5), ErrorCode.connection_failed);
  assert.equal(code(10, "failed to connect to 127.0.0.1: Connection refused (111)"), 38);
  assert.equal(
    code(23, 'rsync: [sender] link_stat "/x" (in data) failed: No such file or directory (2)'),
    ErrorCode.backend_not_found,
  );
  assert.equal(code(23, 'write failed on "x": No space left on device (28)'), 53);
  assert.equal(code(23), ErrorCode.backend_command_error);
  assert.equal(code(1), ErrorCode.user_error);
  assert.equal(code(255, "Host key verification failed."), ErrorCode.backend_untrusted_host);
  assert.equal(code(255, "bob@nas: Permission denied (publickey)."), 51);
  assert.equal(code(30), ErrorCode.backend_timeout);
});

Deno.test("the daemon password reaches rsync in RSYNC_PASSWORD, never in its arguments", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const log = join(dir, "log");
    const program = join(dir, "rsync");
    await Deno.writeTextFile(
      program,
      `#!/bin/sh\nprintf '%s\\n' "$@" >> '${log}'\nprintf 'ENV=%s\\n' "$RSYNC_PASSWORD" >> '${log}'\n`,
      { mode: 0o755 },
    );
    const store = await getBackend("rsync://bob:s3cr%40t@127.0.0.1::data/dir", {
      program,
      ...QUICK,
    });
    assert.deepEqual(await store.list(), []);
    const lines = (await Deno.readTextFile(log)).split("\n");
    assert.ok(lines.includes("ENV=s3cr@t"), "RSYNC_PASSWORD was not set");
    assert.ok(!lines.some((l) => !l.startsWith("ENV=") && l.includes("s3cr")), lines.join(" "));
    assert.ok(lines.includes("bob@127.0.0.1::data/dir/"), lines.join(" "));
    await store.close();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
