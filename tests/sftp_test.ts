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
import { BackendError, ErrorCode, getBackend, type GetBackendOptions } from "../mod.ts";
import { testConformance } from "../testing/mod.ts";
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

async function expectCode(p: Promise<unknown>, code: number): Promise<BackendError> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof BackendError, `expected a BackendError, got ${err}`);
    assert.equal(err.code, code, err.message);
    return err;
  }
  throw new Error(`expected code ${code}, but the call succeeded`);
}

async function randomFile(path: string, size: number): Promise<Uint8Array> {
  const data = new Uint8Array(size);
  for (let i = 0; i < size; i += 65536) {
    crypto.getRandomValues(data.subarray(i, Math.min(size, i + 65536)));
  }
  await Deno.writeFile(path, data);
  return data;
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
