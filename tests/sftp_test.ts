/**
 * sftp:// against real servers: a second OpenSSH sshd (key and password
 * login) and `rclone serve sftp` (password login). Nothing here reads or
 * writes the real ~/.ssh: every test passes knownHostsFile, identityFile,
 * sshConfig and agent explicitly, or runs a child process with HOME set to a
 * scratch folder.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { ErrorCode, getBackend, type GetBackendOptions } from "../mod.ts";
import { testConformance } from "../testing/mod.ts";
import { expectCode, greetingListener, randomFile } from "./_helpers.ts";
import { freePort, requireProgram, run } from "./servers/common.ts";
import {
  haveRclone,
  haveSshd,
  type SftpServer,
  startRcloneSftp,
  startSshd,
} from "./servers/sftp.ts";

const SSHD = haveSshd();
const RCLONE = haveRclone();
const REPO = fileURLToPath(new URL("..", import.meta.url));
/** Every case runs on both transports: the OpenSSH client (when installed) and pure-JS ssh2. */
const ENGINES = [...(requireProgram("ssh", "openssh-client") ? ["openssh"] : []), "ssh2"] as const;
type Engine = (typeof ENGINES)[number];

/** Options that pin every ssh input to the test's own files. */
async function pinned(
  srv: SftpServer,
  engine: Engine,
  extra: GetBackendOptions = {},
): Promise<GetBackendOptions> {
  const knownHostsFile = join(srv.dir, "known_hosts");
  await Deno.writeTextFile(knownHostsFile, `${srv.knownHostsLine}\n`);
  return {
    knownHostsFile,
    ...(srv.clientKey ? { identityFile: srv.clientKey } : {}),
    agent: "none",
    sshConfig: "none",
    engine,
    maxAttempts: 3,
    minTimeout: 10,
    maxTimeout: 50,
    ...extra,
  };
}

/** Make the folder `name` in the server's login folder, owned by its user (a listing of it starts empty). */
async function remoteFolder(srv: SftpServer, name: string): Promise<void> {
  await Deno.mkdir(join(srv.root, name), { recursive: true });
  await run("chown", [`${srv.user}:`, join(srv.root, name)]);
}

for (const engine of ENGINES) {
  Deno.test({
    name:
      `sftp:// on OpenSSH passes the conformance suite with a relative folder and key login [${engine}]`,
    ignore: !SSHD,
    async fn(t) {
      const srv = await startSshd();
      try {
        const url = `sftp://${srv.user}@127.0.0.1:${srv.port}/rel/deep/dir`;
        await testConformance(t, url, { clean: true, storeOptions: await pinned(srv, engine) });
        assert.ok(
          Deno.statSync(join(srv.root, "rel/deep/dir")).isDirectory,
          "the folder was not made under the login folder",
        );
      } finally {
        await srv.stop();
      }
    },
  });

  Deno.test({
    name:
      `scp:// on OpenSSH passes the conformance suite with an absolute // folder and password login [${engine}]`,
    ignore: !SSHD,
    async fn(t) {
      const srv = await startSshd({ password: true });
      try {
        const abs = join(srv.root, "abs", "dir");
        const url = `scp://${srv.user}:${
          encodeURIComponent(srv.password)
        }@127.0.0.1:${srv.port}/${abs}`;
        const { identityFile: _, ...opts } = await pinned(srv, engine);
        await testConformance(t, url, { clean: true, storeOptions: opts, manyFiles: 300 });
        assert.ok(Deno.statSync(abs).isDirectory, "the absolute folder was not made");
      } finally {
        await srv.stop();
      }
    },
  });

  Deno.test({
    name:
      `sftp:// on rclone serve sftp passes the conformance suite with password login [${engine}]`,
    ignore: !RCLONE,
    async fn(t) {
      const srv = await startRcloneSftp();
      try {
        const url = `sftp://${srv.user}:${srv.password}@127.0.0.1:${srv.port}/backups/set1`;
        await testConformance(t, url, {
          clean: true,
          storeOptions: await pinned(srv, engine),
          manyFiles: 300,
        });
      } finally {
        await srv.stop();
      }
    },
  });

  Deno.test({
    name:
      `an unknown host key is refused with code 60 and a message that says how to accept it [${engine}]`,
    ignore: !SSHD,
    async fn() {
      const srv = await startSshd();
      try {
        const opts = await pinned(srv, engine);
        const kh = join(srv.dir, "empty_known_hosts");
        const store = await getBackend(`sftp://${srv.user}@127.0.0.1:${srv.port}/x`, {
          ...opts,
          knownHostsFile: kh,
        });
        try {
          const err = await expectCode(store.list(), ErrorCode.backend_untrusted_host);
          assert.equal(err.attempts, 1, "an untrusted host must not be retried");
          assert.match(err.message, /not in .*empty_known_hosts/);
          assert.match(err.message, /acceptNewHostKey=true/);
          assert.match(err.message, /SHA256:/);
        } finally {
          await store.close();
        }
        assert.throws(
          () => Deno.statSync(kh),
          Deno.errors.NotFound,
          "refusing must not write known_hosts",
        );
      } finally {
        await srv.stop();
      }
    },
  });

  Deno.test({
    name:
      `acceptNewHostKey records an unknown host key and a later connection passes without it [${engine}]`,
    ignore: !SSHD,
    async fn() {
      const srv = await startSshd();
      try {
        const opts = await pinned(srv, engine);
        const kh = join(srv.dir, "ssh", "known_hosts"); // the folder does not exist yet
        await remoteFolder(srv, "x");
        const url = `sftp://${srv.user}@127.0.0.1:${srv.port}/x`;
        {
          await using store = await getBackend(url, {
            ...opts,
            knownHostsFile: kh,
            acceptNewHostKey: "true",
          });
          assert.deepEqual(await store.list(), []);
        }
        const text = await Deno.readTextFile(kh);
        assert.equal(text, `${srv.knownHostsLine}\n`);
        assert.equal(Deno.statSync(kh).mode! & 0o777, 0o600);
        {
          await using store = await getBackend(url, { ...opts, knownHostsFile: kh });
          assert.deepEqual(await store.list(), []);
        }
        assert.equal(await Deno.readTextFile(kh), text, "a known key must not be appended again");
      } finally {
        await srv.stop();
      }
    },
  });

  Deno.test({
    name: `a changed host key is refused with code 60 even with acceptNewHostKey [${engine}]`,
    ignore: !SSHD,
    async fn() {
      const srv = await startSshd();
      try {
        const opts = await pinned(srv, engine);
        const other = join(srv.dir, "other_host_key");
        await run("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", other]);
        const otherKey = (await Deno.readTextFile(`${other}.pub`)).trim().split(/\s+/).slice(0, 2)
          .join(" ");
        const kh = join(srv.dir, "changed_known_hosts");
        const line =
          `# comment\n@cert-authority *.example.com ${otherKey}\n127.0.0.1,[127.0.0.1]:${srv.port} ${otherKey}\n`;
        await Deno.writeTextFile(kh, line);
        await using store = await getBackend(`sftp://${srv.user}@127.0.0.1:${srv.port}/x`, {
          ...opts,
          knownHostsFile: kh,
          acceptNewHostKey: true,
        });
        const err = await expectCode(store.list(), ErrorCode.backend_untrusted_host);
        assert.match(err.message, /CHANGED/);
        assert.match(err.message, /ssh-keygen -R/);
        assert.equal(await Deno.readTextFile(kh), line, "known_hosts must not change");
      } finally {
        await srv.stop();
      }
    },
  });

  Deno.test({
    name:
      `hashed known_hosts entries and insecureSkipHostKeyCheck both let the connection through [${engine}]`,
    ignore: !SSHD,
    async fn() {
      const srv = await startSshd();
      try {
        const opts = await pinned(srv, engine);
        const kh = join(srv.dir, "hashed_known_hosts");
        await Deno.writeTextFile(kh, `${srv.knownHostsLine}\n`);
        await run("ssh-keygen", ["-q", "-H", "-f", kh]);
        assert.match(await Deno.readTextFile(kh), /^\|1\|/);
        await remoteFolder(srv, "x");
        const url = `sftp://${srv.user}@127.0.0.1:${srv.port}/x`;
        {
          await using store = await getBackend(url, { ...opts, knownHostsFile: kh });
          assert.deepEqual(await store.list(), []);
        }
        {
          const none = join(srv.dir, "no_known_hosts");
          await using store = await getBackend(url, {
            ...opts,
            knownHostsFile: none,
            insecureSkipHostKeyCheck: "yes",
          });
          assert.deepEqual(await store.list(), []);
        }
      } finally {
        await srv.stop();
      }
    },
  });

  Deno.test({
    name:
      `a wrong password fails with code 51 after one attempt and the password stays out of the message [${engine}]`,
    ignore: !SSHD,
    async fn() {
      const srv = await startSshd({ password: true });
      try {
        const { identityFile: _, ...opts } = await pinned(srv, engine, { maxAttempts: 4 });
        const secret = "Wrong-Secret-123";
        await using store = await getBackend(
          `sftp://${srv.user}:${secret}@127.0.0.1:${srv.port}/x`,
          opts,
        );
        const err = await expectCode(store.list(), ErrorCode.backend_permission_denied);
        assert.equal(err.attempts, 1);
        assert.match(err.message, /authentication failed/);
        assert.ok(!err.message.includes(secret), err.message);
        const fails = srv.process.log().match(/Failed password for stowsftp/g) ?? [];
        assert.equal(fails.length, 1, "the server saw more than one password attempt");
      } finally {
        await srv.stop();
      }
    },
  });

  Deno.test({
    name:
      `with a working key the askPassword callback is never called, even when the server takes passwords [${engine}]`,
    ignore: !SSHD,
    async fn() {
      const srv = await startSshd({ password: true });
      try {
        const prompts: string[] = [];
        const askPassword = (prompt: string) => {
          prompts.push(prompt);
          return Promise.resolve(srv.password);
        };
        await remoteFolder(srv, "key-first");
        await using store = await getBackend(
          `sftp://${srv.user}@127.0.0.1:${srv.port}/key-first`,
          await pinned(srv, engine, { askPassword }),
        );
        assert.deepEqual(await store.list(), []);
        srv.dropConnections();
        await new Promise((r) => setTimeout(r, 50));
        assert.deepEqual(await store.list(), []);
        assert.deepEqual(prompts, [], "askPassword was called although the key worked");
      } finally {
        await srv.stop();
      }
    },
  });

  Deno.test({
    name:
      `when the server refuses the key, askPassword is asked once and its answer logs in, also after a reconnect [${engine}]`,
    ignore: !SSHD,
    async fn() {
      const srv = await startSshd({ password: true });
      try {
        const other = join(srv.dir, "unauthorized_ed25519");
        await run("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", other]);
        const prompts: string[] = [];
        const askPassword = (prompt: string) => {
          prompts.push(prompt);
          return Promise.resolve(srv.password);
        };
        await remoteFolder(srv, "asked");
        await using store = await getBackend(
          `sftp://${srv.user}@127.0.0.1:${srv.port}/asked`,
          await pinned(srv, engine, { identityFile: other, askPassword }),
        );
        assert.deepEqual(await store.list(), []);
        assert.deepEqual(prompts, [`Password for ${srv.user}@127.0.0.1: `]);
        srv.dropConnections();
        await new Promise((r) => setTimeout(r, 50));
        assert.deepEqual(await store.list(), []);
        assert.equal(prompts.length, 1, "the answer was not remembered for the reconnection");
        const log = srv.process.log();
        assert.match(log, /Accepted password for stowsftp/);
      } finally {
        await srv.stop();
      }
    },
  });

  Deno.test({
    name:
      `a host alias from an ssh config file supplies HostName, Port, User and IdentityFile [${engine}]`,
    ignore: !SSHD,
    async fn() {
      const srv = await startSshd();
      try {
        const opts = await pinned(srv, engine);
        const cfg = join(srv.dir, "ssh_config");
        await Deno.writeTextFile(
          cfg,
          [
            "Host other-host",
            "  Port 1",
            "Host bk-?lias !bk-xlias",
            `  HostName 127.0.0.1`,
            `  Port ${srv.port}`,
            `  User ${srv.user}`,
            `  IdentityFile ${srv.clientKey}`,
            "Host *",
            "  Port 2",
            "  User nobody",
            "",
          ].join("\n"),
        );
        const { identityFile: _, ...rest } = opts;
        await using store = await getBackend("sftp://bk-alias/aliased", {
          ...rest,
          sshConfig: cfg,
        });
        const src = join(srv.dir, "alias-src");
        await Deno.writeTextFile(src, "via alias");
        await store.put(src, "f.txt");
        assert.equal(await Deno.readTextFile(join(srv.root, "aliased", "f.txt")), "via alias");
        assert.deepEqual(await store.list(), ["f.txt"]);
      } finally {
        await srv.stop();
      }
    },
  });

  Deno.test({
    name:
      `with HOME pointing at a scratch folder, ~/.ssh/config, ~/.ssh/id_ed25519 and ~/.ssh/known_hosts are used [${engine}]`,
    ignore: !SSHD,
    async fn() {
      const srv = await startSshd();
      try {
        const home = join(srv.dir, "home");
        await Deno.mkdir(join(home, ".ssh"), { recursive: true });
        await Deno.copyFile(srv.clientKey, join(home, ".ssh", "id_ed25519"));
        await Deno.writeTextFile(join(home, ".ssh", "known_hosts"), `${srv.knownHostsLine}\n`);
        await Deno.writeTextFile(
          join(home, ".ssh", "config"),
          `Host box\n  HostName 127.0.0.1\n  Port ${srv.port}\n  User ${srv.user}\n`,
        );
        await Deno.mkdir(join(srv.root, "home-test"));
        await Deno.writeTextFile(join(srv.root, "home-test", "a"), "a");
        await run("chown", ["-R", `${srv.user}:`, join(srv.root, "home-test")]);
        // Keep Deno's own cache where it is: it follows HOME otherwise.
        const denoDir =
          JSON.parse(await run(Deno.execPath(), ["info", "--json"], { env: { NO_COLOR: "1" } }))
            .denoDir;
        const out = await run(Deno.execPath(), [
          "run",
          "-A",
          "bench/_transfer.ts",
          "list",
          "sftp://box/home-test",
          "",
          "",
          JSON.stringify({ agent: "none", engine }),
        ], { cwd: REPO, env: { HOME: home, DENO_DIR: denoDir, NO_COLOR: "1" } });
        const line = out.split("\n").find((l) => l.startsWith("{"));
        assert.ok(line, out);
        assert.equal(JSON.parse(line).count, 1);
      } finally {
        await srv.stop();
      }
    },
  });

  Deno.test({
    name: `ssh-agent login works through the agent option [${engine}]`,
    ignore: !SSHD || !haveAgent(),
    async fn() {
      const srv = await startSshd();
      const sock = join(srv.dir, "agent.sock");
      const agent = new Deno.Command("ssh-agent", {
        args: ["-D", "-a", sock],
        stdout: "null",
        stderr: "null",
      })
        .spawn();
      try {
        for (let i = 0; i < 200; i++) {
          if (await Deno.stat(sock).then(() => true, () => false)) break;
          await new Promise((r) => setTimeout(r, 10));
        }
        await run("ssh-add", ["-q", srv.clientKey], { env: { SSH_AUTH_SOCK: sock } });
        const { identityFile: _, ...opts } = await pinned(srv, engine);
        await remoteFolder(srv, "agent");
        await using store = await getBackend(`sftp://${srv.user}@127.0.0.1:${srv.port}/agent`, {
          ...opts,
          agent: sock,
        });
        assert.deepEqual(await store.list(), []);
      } finally {
        agent.kill("SIGTERM");
        await agent.status;
        await srv.stop();
      }
    },
  });

  Deno.test({
    name: `an encrypted identity file needs the passphrase option (code 23 without it) [${engine}]`,
    ignore: !SSHD,
    async fn() {
      const srv = await startSshd();
      try {
        const key = join(srv.dir, "encrypted_ed25519");
        await run("ssh-keygen", ["-q", "-t", "ed25519", "-N", "key-Secret-1", "-f", key]);
        const pub = await Deno.readTextFile(`${key}.pub`);
        await Deno.writeTextFile(join(srv.dir, "authorized_keys"), pub, { append: true });
        await remoteFolder(srv, "enc");
        const url = `sftp://${srv.user}@127.0.0.1:${srv.port}/enc`;
        {
          await using store = await getBackend(
            url,
            await pinned(srv, engine, { identityFile: key }),
          );
          const err = await expectCode(store.list(), ErrorCode.user_error);
          assert.match(err.message, /encrypted; give the passphrase option/);
        }
        {
          const opts = await pinned(srv, engine, { identityFile: key, passphrase: "wrong" });
          await using store = await getBackend(url, opts);
          const err = await expectCode(store.list(), ErrorCode.user_error);
          assert.match(err.message, /passphrase does not decrypt it/);
          assert.ok(!err.message.includes("wrong"));
        }
        {
          const opts = await pinned(srv, engine, {
            identityFile: [key],
            passphrase: "key-Secret-1",
          });
          await using store = await getBackend(url, opts);
          assert.deepEqual(await store.list(), []);
        }
      } finally {
        await srv.stop();
      }
    },
  });

  Deno.test({
    name:
      `the ciphers and macs options pick the algorithms, and an unknown cipher is refused with code 23 [${engine}]`,
    ignore: !SSHD,
    async fn() {
      const srv = await startSshd();
      try {
        await remoteFolder(srv, "ciphers");
        const url = `sftp://${srv.user}@127.0.0.1:${srv.port}/ciphers`;
        {
          const opts = await pinned(srv, engine, {
            ciphers: "aes128-ctr",
            macs: "hmac-sha2-256-etm@openssh.com",
          });
          await using store = await getBackend(url, opts);
          assert.deepEqual(await store.list(), []);
        }
        await using store = await getBackend(
          url,
          await pinned(srv, engine, { ciphers: ["no-such-cipher"] }),
        );
        const err = await expectCode(store.list(), ErrorCode.user_error);
        assert.match(err.message, /no-such-cipher/);
      } finally {
        await srv.stop();
      }
    },
  });

  Deno.test({
    name: `a stale ssh-agent socket does not stop the key login that follows it [${engine}]`,
    ignore: !SSHD,
    async fn() {
      const srv = await startSshd();
      try {
        const opts = await pinned(srv, engine, { agent: join(srv.dir, "no-such-agent.sock") });
        await remoteFolder(srv, "stale");
        await using store = await getBackend(
          `sftp://${srv.user}@127.0.0.1:${srv.port}/stale`,
          opts,
        );
        assert.deepEqual(await store.list(), []);
      } finally {
        await srv.stop();
      }
    },
  });

  Deno.test({
    name:
      `get() reconnects and succeeds when the server drops the connection mid-transfer [${engine}]`,
    ignore: !SSHD,
    async fn() {
      const srv = await startSshd();
      try {
        const logs: string[] = [];
        let dropped = false;
        await using store = await getBackend(
          `sftp://${srv.user}@127.0.0.1:${srv.port}/drop`,
          await pinned(srv, engine, {
            log: (_level, m) => logs.push(m),
            onProgress: (e) => {
              if (e.operation === "get" && e.bytes > 0 && !dropped) {
                dropped = true;
                srv.dropConnections();
              }
            },
          }),
        );
        const src = join(srv.dir, "drop-src");
        const data = await randomFile(src, 24 << 20);
        await store.put(src, "big.bin");
        const dst = join(srv.dir, "drop-dst");
        await store.get("big.bin", dst);
        assert.ok(dropped);
        assert.ok(
          logs.some((m) => /Attempt 1 of 3 to get/.test(m)),
          `no retry was logged: ${logs.join(" | ")}`,
        );
        assert.deepEqual(await Deno.readFile(dst), data);
      } finally {
        await srv.stop();
      }
    },
  });

  Deno.test({
    name:
      `put() retries after a dropped connection and leaves no temporary file behind [${engine}]`,
    ignore: !SSHD,
    async fn() {
      const srv = await startSshd();
      try {
        let dropped = false;
        const logs: string[] = [];
        await using store = await getBackend(
          `sftp://${srv.user}@127.0.0.1:${srv.port}/drop-put`,
          await pinned(srv, engine, {
            log: (_level, m) => logs.push(m),
            onProgress: (e) => {
              if (e.bytes > 0 && !dropped) { // data moving, not the start event
                dropped = true;
                srv.dropConnections();
              }
            },
          }),
        );
        const src = join(srv.dir, "put-src");
        const data = await randomFile(src, 24 << 20);
        await store.put(src, "big.bin");
        assert.ok(
          logs.some((m) => /Attempt 1 of 3 to put/.test(m)),
          `no retry was logged: ${logs.join(" | ")}`,
        );
        assert.deepEqual(await store.list(), ["big.bin"]);
        assert.deepEqual([...Deno.readDirSync(join(srv.root, "drop-put"))].map((e) => e.name), [
          "big.bin",
        ]);
        assert.deepEqual(await Deno.readFile(join(srv.root, "drop-put", "big.bin")), data);
      } finally {
        await srv.stop();
      }
    },
  });

  Deno.test({
    name:
      `a connection between calls that the server dropped is reopened by the next call [${engine}]`,
    ignore: !SSHD,
    async fn() {
      const srv = await startSshd();
      try {
        await remoteFolder(srv, "idle");
        await using store = await getBackend(
          `sftp://${srv.user}@127.0.0.1:${srv.port}/idle`,
          await pinned(srv, engine),
        );
        assert.deepEqual(await store.list(), []);
        srv.dropConnections();
        await new Promise((r) => setTimeout(r, 50));
        assert.deepEqual(await store.list(), []);
      } finally {
        await srv.stop();
      }
    },
  });

  Deno.test({
    name: `a refused connection is retried and ends with code 38 [${engine}]`,
    ignore: !SSHD,
    async fn() {
      const srv = await startSshd();
      const port = freePort();
      try {
        await using store = await getBackend(`sftp://${srv.user}@127.0.0.1:${port}/x`, {
          ...(await pinned(srv, engine)),
          maxAttempts: 2,
        });
        const err = await expectCode(store.list(), ErrorCode.connection_failed);
        assert.equal(err.attempts, 2);
      } finally {
        await srv.stop();
      }
    },
  });

  Deno.test({
    name:
      `put into a folder the user cannot write fails with code 51 and is not retried [${engine}]`,
    ignore: !SSHD,
    async fn() {
      const srv = await startSshd();
      try {
        await Deno.mkdir(join(srv.root, "locked"), { mode: 0o755 }); // owned by root
        await using store = await getBackend(
          `sftp://${srv.user}@127.0.0.1:${srv.port}/locked`,
          await pinned(srv, engine),
        );
        const src = join(srv.dir, "locked-src");
        await Deno.writeTextFile(src, "x");
        const err = await expectCode(store.put(src, "f"), ErrorCode.backend_permission_denied);
        assert.equal(err.attempts, 1);
        const e2 = await expectCode(
          store.get("nope", join(srv.dir, "x")),
          ErrorCode.backend_not_found,
        );
        assert.equal(e2.attempts, 1);
      } finally {
        await srv.stop();
      }
    },
  });
}

function haveAgent(): boolean {
  try {
    return Deno.statSync("/usr/bin/ssh-agent").isFile && Deno.statSync("/usr/bin/ssh-add").isFile;
  } catch {
    return false;
  }
}

Deno.test({
  name:
    "engine=openssh hands the password to ssh only through its environment and removes the askpass helper after login",
  ignore: !SSHD || !ENGINES.includes("openssh"),
  async fn() {
    const srv = await startSshd({ password: true });
    try {
      const { identityFile: _, ...opts } = await pinned(srv, "openssh");
      await remoteFolder(srv, "pw");
      await using store = await getBackend(
        `sftp://${srv.user}:${encodeURIComponent(srv.password)}@127.0.0.1:${srv.port}/pw`,
        opts,
      );
      assert.deepEqual(await store.list(), []);
      const ssh = childrenNamed("ssh");
      assert.equal(ssh.length, 1, "expected one ssh child process");
      const cmdline = await Deno.readTextFile(`/proc/${ssh[0]}/cmdline`);
      assert.ok(!cmdline.includes(srv.password), "the password is on ssh's command line");
      const environ = (await Deno.readTextFile(`/proc/${ssh[0]}/environ`)).split("\0");
      const askpass = environ.find((e) => e.startsWith("SSH_ASKPASS="))?.slice(12);
      assert.ok(askpass, "ssh got no SSH_ASKPASS");
      await assert.rejects(Deno.stat(askpass), Deno.errors.NotFound);
      await store.close();
      assert.deepEqual(childrenNamed("ssh"), [], "ssh is still running after close()");
    } finally {
      await srv.stop();
    }
  },
});

Deno.test("an unknown engine is refused with code 23", async () => {
  const url: string = "sftp://u@127.0.0.1/x"; // untyped, so the bad value type-checks
  await expectCode(getBackend(url, { engine: "putty" }), ErrorCode.user_error);
});

Deno.test("a misspelled option is refused with code 23 naming the right one, before any connection", async () => {
  const url: string = `sftp://u@127.0.0.1:${freePort()}/x`; // nothing listens there
  const err = await expectCode(
    getBackend(url, { identityFle: "/nonexistent/key", maxAttempts: 1 }),
    ErrorCode.user_error,
  );
  assert.match(err.message, /identityFle/);
  assert.match(err.message, /did you mean "identityFile"/);
});

/** PIDs of this process's children with the given command name. */
function childrenNamed(name: string): number[] {
  const out: number[] = [];
  for (const e of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(e.name)) continue;
    try {
      const stat = Deno.readTextFileSync(`/proc/${e.name}/stat`);
      const comm = stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")"));
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      if (ppid === Deno.pid && comm === name) out.push(Number(e.name));
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

// ---- failures bounded and classified (issue 8), streams (issue 11) ----

/** Options for a store on a server that is not really an SSH server. */
async function unpinned(engine: Engine, extra: GetBackendOptions = {}): Promise<GetBackendOptions> {
  const dir = await Deno.makeTempDir({ prefix: "stowage-sftp-test-" });
  return {
    knownHostsFile: join(dir, "known_hosts"),
    agent: "none",
    sshConfig: "none",
    engine,
    minTimeout: 10,
    maxTimeout: 20,
    ...extra,
  };
}

/** Names in a server folder (on disk), `[]` when it does not exist. */
function onDisk(dir: string): string[] {
  try {
    return [...Deno.readDirSync(dir)].map((e) => e.name).sort();
  } catch {
    return [];
  }
}

for (const engine of ENGINES) {
  Deno.test({
    name:
      `a server that greets in another protocol fails at once with code 38 quoting the greeting [${engine}]`,
    async fn() {
      const fake = greetingListener("220 ProFTPD Server (Debian) ready.\r\n");
      try {
        await using store = await getBackend(
          `sftp://u:pw@127.0.0.1:${fake.port}/x`,
          await unpinned(engine, { maxAttempts: 2 }),
        );
        const t0 = performance.now();
        const err = await expectCode(store.list(), ErrorCode.connection_failed);
        assert.ok(performance.now() - t0 < 5000, "it waited for a timeout");
        assert.match(err.message, /does not speak SSH/);
        assert.match(err.message, /220 ProFTPD Server/);
      } finally {
        await fake.close();
      }
    },
  });

  Deno.test({
    name:
      `a server that accepts and never answers gives up within the caller's timeout plus a second [${engine}]`,
    async fn() {
      const fake = greetingListener();
      try {
        const store = await getBackend(
          `sftp://u:pw@127.0.0.1:${fake.port}/x`,
          await unpinned(engine, { timeout: 300, maxAttempts: 2 }),
        );
        const t0 = performance.now();
        const err = await expectCode(store.list(), ErrorCode.backend_timeout);
        const ms = performance.now() - t0;
        assert.equal(err.attempts, 2);
        assert.ok(ms < 2 * 300 + 1000, `took ${Math.round(ms)} ms`);
        await store.close();
        assert.deepEqual(childrenNamed("ssh"), [], "ssh is still running after close()");
      } finally {
        await fake.close();
      }
    },
  });

  Deno.test({
    name:
      `a transfer whose server stalls mid-way gives up within the caller's timeout plus a second [${engine}]`,
    ignore: !SSHD,
    async fn() {
      const srv = await startSshd();
      try {
        await remoteFolder(srv, "stall");
        await randomFile(join(srv.root, "stall", "big.bin"), 16 << 20);
        let pausedAt = 0;
        const store = await getBackend(
          `sftp://${srv.user}@127.0.0.1:${srv.port}/stall`,
          await pinned(srv, engine, {
            timeout: 300,
            maxAttempts: 1,
            onProgress: (e) => {
              if (e.bytes > 0 && !pausedAt) {
                pausedAt = performance.now();
                srv.pauseConnections(true);
              }
            },
          }),
        );
        await expectCode(
          store.get("big.bin", join(srv.dir, "stall-dst")),
          ErrorCode.backend_timeout,
        );
        const ms = performance.now() - pausedAt;
        assert.ok(pausedAt > 0, "the transfer never started");
        assert.ok(ms < 300 + 1000, `gave up ${Math.round(ms)} ms after the stall`);
        const t1 = performance.now();
        await store.close();
        assert.ok(performance.now() - t1 < 1000, "close() waited for the stalled connection");
        assert.deepEqual(onDisk(srv.dir).filter((n) => n.includes("stall-dst")), []);
      } finally {
        srv.pauseConnections(false);
        await srv.stop();
      }
    },
  });

  Deno.test({
    name:
      `listing a folder that does not exist is code 52 naming it, and the first put makes it [${engine}]`,
    ignore: !SSHD,
    async fn() {
      const srv = await startSshd();
      try {
        await using store = await getBackend(
          `sftp://${srv.user}@127.0.0.1:${srv.port}/not/yet`,
          await pinned(srv, engine),
        );
        const err = await expectCode(store.list(), ErrorCode.backend_not_found);
        assert.equal(err.attempts, 1);
        assert.match(err.message, /no such folder "not\/yet"/);
        assert.ok(!err.message.includes(srv.root), err.message);
        const src = join(srv.dir, "first-src");
        await Deno.writeTextFile(src, "first");
        await store.put(src, "first.txt");
        assert.deepEqual(await store.list(), ["first.txt"]);
      } finally {
        await srv.stop();
      }
    },
  });

  Deno.test({
    name:
      `a name the server finds too long is code 59, not retried, and the message shows the name, not the server's path [${engine}]`,
    ignore: !SSHD,
    async fn() {
      const srv = await startSshd();
      try {
        await remoteFolder(srv, "long");
        await using store = await getBackend(
          `sftp://${srv.user}@127.0.0.1:${srv.port}/long`,
          await pinned(srv, engine, { maxAttempts: 3 }),
        );
        const src = join(srv.dir, "long-src");
        await Deno.writeTextFile(src, "x");
        const long = "n".repeat(300);
        const err = await expectCode(store.put(src, long), ErrorCode.backend_unsupported);
        assert.equal(err.attempts, 1);
        assert.match(err.message, /too long/);
        assert.ok(!err.message.includes(srv.root), err.message);
        const e2 = await expectCode(
          store.get(long, join(srv.dir, "x")),
          ErrorCode.backend_unsupported,
        );
        assert.equal(e2.attempts, 1);
        assert.deepEqual(onDisk(join(srv.root, "long")), [], "a temporary upload was left behind");
      } finally {
        await srv.stop();
      }
    },
  });

  Deno.test({
    name:
      `cancelling a put, a streamed write or a get removes the temporary before the call settles [${engine}]`,
    ignore: !SSHD,
    async fn() {
      const srv = await startSshd();
      try {
        await remoteFolder(srv, "cancel");
        const folder = join(srv.root, "cancel");
        let ac = new AbortController();
        let abortedAt = 0;
        await using store = await getBackend(
          `sftp://${srv.user}@127.0.0.1:${srv.port}/cancel`,
          await pinned(srv, engine, {
            maxAttempts: 1,
            onProgress: (e) => {
              if (e.bytes > 0 && !ac.signal.aborted) {
                abortedAt = performance.now();
                ac.abort();
              }
            },
          }),
        );
        const src = join(srv.dir, "cancel-src");
        await randomFile(src, 32 << 20);
        await expectCode(
          store.put(src, "big.bin", { signal: ac.signal }),
          ErrorCode.backend_aborted,
        );
        assert.ok(performance.now() - abortedAt < 1000, "the cancelled put took over a second");
        assert.deepEqual(onDisk(folder), [], "the cancelled put left a temporary");

        ac = new AbortController();
        const chunk = new Uint8Array(1 << 20);
        const source = (async function* () {
          for (let i = 0; i < 64; i++) {
            if (i === 8) {
              abortedAt = performance.now();
              ac.abort();
            }
            yield chunk;
          }
        })();
        await expectCode(
          store.write("w.bin", source, { signal: ac.signal }),
          ErrorCode.backend_aborted,
        );
        assert.ok(performance.now() - abortedAt < 1000, "the cancelled write took over a second");
        assert.deepEqual(onDisk(folder), [], "the cancelled write left a temporary");

        await Deno.copyFile(src, join(folder, "get.bin"));
        ac = new AbortController();
        const dst = join(srv.dir, "cancel-dst");
        await expectCode(
          store.get("get.bin", dst, { signal: ac.signal }),
          ErrorCode.backend_aborted,
        );
        assert.ok(performance.now() - abortedAt < 1000, "the cancelled get took over a second");
        assert.deepEqual(onDisk(srv.dir).filter((n) => n.includes("cancel-dst")), []);
      } finally {
        await srv.stop();
      }
    },
  });

  Deno.test({
    name:
      `a read of the last bytes of a large file asks only for them, and a write streams without a local copy [${engine}]`,
    ignore: !SSHD,
    async fn() {
      const srv = await startSshd();
      try {
        await remoteFolder(srv, "ranges");
        const data = await randomFile(join(srv.root, "ranges", "big.bin"), 24 << 20);
        await using store = await getBackend(
          `sftp://${srv.user}@127.0.0.1:${srv.port}/ranges`,
          await pinned(srv, engine),
        );
        const tail = await store.readBytes("big.bin", { offset: data.length - 100_000 });
        assert.deepEqual(tail, data.subarray(data.length - 100_000));
        const mid = await store.readBytes("big.bin", { offset: 5_000_001, length: 777_777 });
        assert.deepEqual(mid, data.subarray(5_000_001, 5_000_001 + 777_777));
        await store.write("copy.bin", await store.read("big.bin"));
        assert.deepEqual(await Deno.readFile(join(srv.root, "ranges", "copy.bin")), data);
        assert.deepEqual(onDisk(join(srv.root, "ranges")), ["big.bin", "copy.bin"]);
      } finally {
        await srv.stop();
      }
    },
  });
}

Deno.test({
  name:
    "engine=openssh connects through the dialer unless the ssh config has its own proxy, and ssh's pipes carry SFTP when no socket fits",
  ignore: !SSHD || !ENGINES.includes("openssh") || !requireProgram("perl", "perl"),
  async fn() {
    const srv = await startSshd();
    try {
      await remoteFolder(srv, "dial");
      const url = `sftp://${srv.user}@127.0.0.1:${srv.port}/dial`;
      const sshArgs = async (extra: GetBackendOptions) => {
        await using store = await getBackend(url, await pinned(srv, "openssh", extra));
        assert.deepEqual(await store.list(), []);
        const ssh = childrenNamed("ssh");
        assert.equal(ssh.length, 1, "expected one ssh child process");
        return (await Deno.readTextFile(`/proc/${ssh[0]}/cmdline`)).split("\0");
      };
      const plain = join(srv.dir, "plain_config");
      await Deno.writeTextFile(plain, "Host *\n  ServerAliveCountMax 3\n");
      assert.ok((await sshArgs({ sshConfig: plain })).includes("ProxyUseFdpass=yes"));
      const proxied = join(srv.dir, "proxied_config");
      await Deno.writeTextFile(proxied, "Host elsewhere\n  ProxyJump nobody@nowhere.invalid\n");
      const args = await sshArgs({ sshConfig: proxied });
      assert.ok(!args.some((a) => a.startsWith("Proxy")), args.join(" "));

      // A temporary folder too deep for a socket path: the pipes, widened by perl.
      const deep = join(srv.dir, "t".repeat(60), "u".repeat(60));
      await Deno.mkdir(deep, { recursive: true });
      const src = join(srv.dir, "deep-src");
      const data = await randomFile(src, 3 << 20);
      const opts = JSON.stringify({ ...(await pinned(srv, "openssh")), maxAttempts: 1 });
      const env = { TMPDIR: deep, NO_COLOR: "1" };
      for (const [op, local] of [["put", src], ["get", join(srv.dir, "deep-dst")]]) {
        await run(Deno.execPath(), [
          "run",
          "-A",
          "bench/_transfer.ts",
          op!,
          url,
          "f.bin",
          local!,
          opts,
        ], {
          cwd: REPO,
          env,
        });
      }
      assert.deepEqual(await Deno.readFile(join(srv.dir, "deep-dst")), data);
    } finally {
      await srv.stop();
    }
  },
});
