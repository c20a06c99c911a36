/**
 * rclone:// against the real rclone program: a local remote and an SFTP
 * remote (the test sshd on 127.0.0.1), both defined only by
 * RCLONE_CONFIG_<NAME>_* variables, through the conformance suite; plus
 * URL rules, exit-status mapping and the flags each command gets (checked
 * with a stand-in program that records its arguments).
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { ErrorCode, getBackend, ParsedUrl } from "../mod.ts";
import { testConformance } from "../testing/mod.ts";
import { RcloneBackend } from "../backends/rclone/mod.ts";
import { errorCode } from "../backends/rclone/error.ts";
import { RcloneError } from "../backends/rclone/error.ts";
import { expectCode } from "./_helpers.ts";
import { requireProgram } from "./servers/common.ts";
import { haveSshd, startSshd } from "./servers/sftp.ts";

const RCLONE = requireProgram("rclone", "rclone");
const SSHD = RCLONE && haveSshd();

/** Fast retries for the error cases. */
const QUICK = { maxAttempts: 2, minTimeout: 1, maxTimeout: 5 };

/** A local remote named `stowlocal`, defined by environment variables only. */
const LOCAL_ENV = { RCLONE_CONFIG: "/dev/null", RCLONE_CONFIG_STOWLOCAL_TYPE: "local" };

Deno.test({
  name: "rclone:// with a local remote from RCLONE_CONFIG_* passes the conformance suite",
  ignore: !RCLONE,
  async fn(t) {
    const dir = await Deno.makeTempDir({ prefix: "stowage-rclone-local-" });
    try {
      // rclone://stowlocal://abs means the rclone path stowlocal:/abs (duplicity's rule).
      const url = `rclone://stowlocal:/${dir}/store/set1`;
      await testConformance(t, url, {
        clean: true,
        manyFiles: 150,
        storeOptions: { env: LOCAL_ENV },
      });
      assert.ok(Deno.statSync(join(dir, "store/set1")).isDirectory, "the folder was not made");
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "rclone:// with an sftp remote on the test sshd passes the conformance suite",
  ignore: !SSHD,
  async fn(t) {
    const srv = await startSshd();
    try {
      const knownHosts = join(srv.dir, "known_hosts");
      await Deno.writeTextFile(knownHosts, `${srv.knownHostsLine}\n`);
      const env = {
        RCLONE_CONFIG: "/dev/null",
        RCLONE_CONFIG_STOWSFTP_TYPE: "sftp",
        RCLONE_CONFIG_STOWSFTP_HOST: "127.0.0.1",
        RCLONE_CONFIG_STOWSFTP_PORT: String(srv.port),
        RCLONE_CONFIG_STOWSFTP_USER: srv.user,
        RCLONE_CONFIG_STOWSFTP_KEY_FILE: srv.clientKey,
        RCLONE_CONFIG_STOWSFTP_KNOWN_HOSTS_FILE: knownHosts,
        // internal-sftp runs no commands: skip rclone's md5sum/shell probes.
        RCLONE_CONFIG_STOWSFTP_SHELL_TYPE: "none",
        RCLONE_CONFIG_STOWSFTP_DISABLE_HASHCHECK: "true",
      };
      // rclone://stowsftp:/rel/dir is stowsftp:rel/dir: relative to the login folder.
      await testConformance(t, "rclone://stowsftp:/rel/dir", {
        clean: true,
        manyFiles: 60,
        storeOptions: { env },
      });
      assert.ok(Deno.statSync(join(srv.root, "rel/dir")).isDirectory, "not under the login folder");
    } finally {
      await srv.stop();
    }
  },
});

Deno.test("rclone:// URLs follow duplicity: the first :/ becomes :", () => {
  const remote = (u: string) => new RcloneBackend(new ParsedUrl(u)).remote;
  assert.equal(remote("rclone://nas:/backups/host1"), "nas:backups/host1");
  assert.equal(remote("rclone://nas://abs/dir"), "nas:/abs/dir");
  assert.equal(remote("rclone://nas:dir"), "nas:dir");
  assert.equal(remote("rclone://nas:"), "nas:");
  assert.equal(remote("rclone://nas:99999"), "nas:99999"); // no port rule for rclone
  assert.throws(() => remote("rclone://"), (e: Error) => (e as { code?: number }).code === 23);
});

Deno.test("rclone exit statuses map to codes: 3 and 4 are not found, 7 is permanent", () => {
  const code = (status: number, stderr = "") =>
    errorCode(new RcloneError("rclone", "cat", status, stderr));
  assert.equal(code(3), ErrorCode.backend_not_found);
  assert.equal(code(4), ErrorCode.backend_not_found);
  assert.equal(code(7), ErrorCode.backend_permission_denied);
  assert.equal(code(10), ErrorCode.backend_timeout);
  assert.equal(code(5), ErrorCode.backend_command_error);
  assert.equal(code(1, "Failed to create file system: didn't find section in config file"), 23);
  assert.equal(
    code(
      1,
      "2026/01/01 10:00:00 Failed to lsjson: dial tcp 127.0.0.1:1: connect: connection refused",
    ),
    ErrorCode.connection_failed,
  );
  assert.equal(code(1, "ERROR : ssh: handshake failed: knownhosts: key is unknown"), 60);
  assert.equal(code(1, "ERROR : ssh: unable to authenticate, attempted methods [none]"), 51);
});

/** A stand-in rclone that logs its arguments (one per line, then a blank line) and exits with $FAKE_STATUS. */
async function fakeRclone(dir: string): Promise<{ program: string; calls: () => string[][] }> {
  const program = join(dir, "rclone");
  const log = join(dir, "calls.log");
  await Deno.writeTextFile(
    program,
    `#!/bin/sh\nfor a in "$@"; do printf '%s\\n' "$a" >> '${log}'; done\necho >> '${log}'\n` +
      `echo "Failed to do it: fake failure" >&2\nexit "\${FAKE_STATUS:-0}"\n`,
    { mode: 0o755 },
  );
  const calls = () => {
    let text = "";
    try {
      text = Deno.readTextFileSync(log);
    } catch {
      return [];
    }
    return text.split("\n\n").filter(Boolean).map((c) => c.split("\n"));
  };
  return { program, calls };
}

Deno.test("deletes run rclone once with --retries 1 --low-level-retries 1", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const fake = await fakeRclone(dir);
    const store = await getBackend("rclone://r:/x", {
      program: fake.program,
      flags: ["--sftp-disable-hashcheck"],
      env: { FAKE_STATUS: "0" },
      ...QUICK,
    });
    await store.backend._delete("gone");
    await store.delete(["a", "b"]);
    const [call, many] = fake.calls();
    assert.ok(call && many);
    assert.equal(many[0], "delete");
    assert.match(many.join(" "), /--low-level-retries 1 --files-from-raw \S+ --retries 1/);
    assert.equal(call[0], "deletefile");
    const args = call.join(" ");
    assert.match(args, /--low-level-retries 1/);
    assert.match(args, /--retries 1/);
    assert.match(args, /--sftp-disable-hashcheck/);
    assert.deepEqual(call.slice(-2), ["--", "r:x/gone"]);
    await store.close();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a failed upload deletes its temporary file and never moves it into place", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const fake = await fakeRclone(dir);
    const local = join(dir, "src");
    await Deno.writeTextFile(local, "data");
    const store = await getBackend("rclone://r:/x", {
      program: fake.program,
      env: { FAKE_STATUS: "5" },
      ...QUICK,
      maxAttempts: 1,
    });
    await expectCode(store.put(local, "n"), ErrorCode.backend_command_error);
    const calls = fake.calls();
    assert.deepEqual(calls.map((c) => c[0]), ["rcat", "deletefile"]);
    const tmp = calls[0]!.at(-1)!;
    assert.match(tmp, /^r:x\/\.stowage-tmp-/);
    assert.equal(calls[1]!.at(-1), tmp);
    assert.ok(calls[0]!.join(" ").includes("--size 4"));
    await store.close();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test({
  name: "with tempUpload off a put goes straight to the name",
  ignore: !RCLONE,
  async fn() {
    const dir = await Deno.makeTempDir();
    try {
      const store = await getBackend(`rclone://stowlocal:/${dir}/direct`, {
        env: LOCAL_ENV,
        tempUpload: false,
        ...QUICK,
      });
      assert.equal(store.backend.capabilities.serverSideRename, false);
      const local = join(dir, "src");
      await Deno.writeTextFile(local, "straight");
      await store.put(local, "file");
      assert.equal(await Deno.readTextFile(join(dir, "direct/file")), "straight");
      assert.deepEqual(await store.list(), ["file"]);
      await store.close();
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test("rclone's fatal exit status 7 fails at once, without retries", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const fake = await fakeRclone(dir);
    const store = await getBackend("rclone://r:/x", {
      program: fake.program,
      env: { FAKE_STATUS: "7" },
      ...QUICK,
      maxAttempts: 5,
    });
    const err = await expectCode(store.list(), ErrorCode.backend_permission_denied);
    assert.equal(err.attempts, 1);
    assert.match(err.message, /rclone lsjson exited with status 7: Failed to do it: fake failure/);
    assert.equal(fake.calls().length, 1);
    await store.close();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a missing rclone program is 54 naming the Debian package, tried once", async () => {
  const store = await getBackend("rclone://r:/x", {
    program: "/nonexistent/rclone",
    ...QUICK,
    maxAttempts: 5,
  });
  const err = await expectCode(store.list(), ErrorCode.backend_command_error);
  assert.match(err.message, /Debian package "rclone"/);
  assert.equal(err.attempts, 1);
  await store.close();
});

Deno.test({
  name: "a missing remote folder: list and get are code 52, query -1, delete succeeds",
  ignore: !RCLONE,
  async fn() {
    const dir = await Deno.makeTempDir();
    try {
      const store = await getBackend(`rclone://stowlocal:/${dir}/nope`, {
        env: LOCAL_ENV,
        ...QUICK,
      });
      const err = await expectCode(store.list(), ErrorCode.backend_not_found);
      assert.match(err.message, /no such folder/);
      await expectCode(store.get("x", join(dir, "x")), ErrorCode.backend_not_found);
      assert.equal((await store.queryInfo(["x"])).x?.size, -1);
      await store.delete(["x", "y"]);
      await store.close();
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "an undefined remote is refused with code 23",
  ignore: !RCLONE,
  async fn() {
    const store = await getBackend("rclone://nosuchremote:/x", {
      env: { RCLONE_CONFIG: "/dev/null" },
      ...QUICK,
    });
    await expectCode(store.list(), ErrorCode.user_error);
    await store.close();
  },
});
