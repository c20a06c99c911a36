/**
 * Ctrl-C (SIGINT), SIGTERM and kill -9 in the middle of CLI puts and gets,
 * on file:// and on sftp:// (slowed by a dripping proxy so the signal lands
 * mid-transfer): never a partial file under a final name; after SIGINT no
 * debris at all and exit 130; after SIGKILL, `stowage cleanup` and the next
 * get remove the debris.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { isPartFile, isTempName } from "../../kit.ts";
import { haveSshd, type SftpServer, startSshd } from "../servers/sftp.ts";
import { startFaultProxy } from "./proxy.ts";

const CLI = new URL("../../cli.ts", import.meta.url).pathname;

function spawn(args: string[]): Deno.ChildProcess {
  return new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", CLI, ...args],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).spawn();
}

/** Poll (bounded: 400 × 25 ms) until `check` is true. */
async function until(check: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 400; i++) {
    if (check()) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`timed out waiting for ${what}`);
}

function names(dir: string): string[] {
  try {
    return [...Deno.readDirSync(dir)].map((e) => e.name);
  } catch {
    return [];
  }
}

async function bigFile(path: string, mib: number): Promise<void> {
  const f = await Deno.open(path, { write: true, create: true });
  const chunk = new Uint8Array(1 << 20).fill(7);
  for (let i = 0; i < mib; i++) await f.write(chunk);
  f.close();
}

interface Slow {
  url: string;
  opts: string[];
  remoteDir: string;
  stop(): Promise<void>;
}

/** A test sshd behind a dripping proxy (about 4 MB/s), with pinned ssh options for the CLI. */
async function slowSftp(srv: SftpServer): Promise<Slow> {
  const proxy = startFaultProxy(srv.port, { drip: 1 });
  const kh = join(srv.dir, "known_hosts_signals");
  await Deno.writeTextFile(kh, `[127.0.0.1]:${proxy.port} ${srv.hostKey}\n`);
  const remoteDir = join(srv.root, "signals");
  return {
    url: `sftp://${srv.user}@127.0.0.1:${proxy.port}/signals`,
    opts: [
      ...["-o", `knownHostsFile=${kh}`, "-o", `identityFile=${srv.clientKey}`],
      ...["-o", "agent=none", "-o", "sshConfig=none", "-o", "engine=ssh2"],
    ],
    remoteDir,
    stop: () => proxy.close(),
  };
}

/** Start a put and send `signal` once its temporary upload appears (unless it finished first). */
async function interruptedPut(
  url: string,
  opts: string[],
  src: string,
  storeDir: string,
  signal: Deno.Signal,
): Promise<Deno.CommandOutput> {
  const child = spawn([...opts, "put", src, url]);
  let exited = false;
  child.status.then(() => exited = true);
  await until(() => exited || names(storeDir).some(isTempName), "the temporary upload to appear");
  if (!exited) child.kill(signal);
  return await child.output();
}

/**
 * Run `fn` with a test sshd behind a dripping proxy ({@linkcode slowSftp}), a
 * scratch folder and a 48 MiB file `src` in it; all stopped and removed after.
 */
async function withSlowSftp(
  fn: (slow: Slow, dir: string, src: string) => Promise<void>,
): Promise<void> {
  const srv = await startSshd();
  const slow = await slowSftp(srv);
  const dir = await Deno.makeTempDir();
  try {
    const src = join(dir, "big.bin");
    await bigFile(src, 48);
    await fn(slow, dir, src);
  } finally {
    await slow.stop();
    await srv.stop();
    await Deno.remove(dir, { recursive: true });
  }
}

/**
 * Store `src` whole on the server as `whole.bin`, start a get of it into the
 * new folder `dir/into`, and send `signal` once the partial download appears;
 * returns how the get ended and that folder.
 */
async function interruptedGet(
  slow: Slow,
  src: string,
  dir: string,
  signal: Deno.Signal,
): Promise<{ out: Deno.CommandOutput; into: string }> {
  await Deno.copyFile(src, join(slow.remoteDir, "whole.bin"));
  const into = join(dir, "into");
  await Deno.mkdir(into);
  const child = spawn([...slow.opts, "get", slow.url, "whole.bin", into]);
  await until(() => names(into).some(isPartFile), "the partial download to appear");
  child.kill(signal);
  return { out: await child.output(), into };
}

Deno.test({
  name: "SIGINT during a file:// put and get exits 130 and leaves no debris",
  sanitizeResources: false,
  async fn() {
    const dir = await Deno.makeTempDir();
    const src = join(dir, "big.bin");
    await bigFile(src, 300);
    const store = join(dir, "store");
    await Deno.mkdir(store);
    const status = await interruptedPut(`file://${store}`, [], src, store, "SIGINT");
    // The copy may win the race; either way no partial file under the name, no temporary.
    if (status.code === 130) assert.ok(!names(store).includes("big.bin"));
    else assert.equal(status.code, 0);
    await until(() => !names(store).some(isTempName), "the temporary upload to go");
    assert.deepEqual(names(store).filter(isTempName), []);
    await Deno.remove(dir, { recursive: true });
  },
});

Deno.test({
  name: "SIGINT and SIGTERM during sftp puts and gets exit 130/143 and leave no debris anywhere",
  ignore: !haveSshd(),
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    await withSlowSftp(async (slow, dir, src) => {
      for (const [sig, code] of [["SIGINT", 130], ["SIGTERM", 143]] as const) {
        const s = await interruptedPut(slow.url, slow.opts, src, slow.remoteDir, sig);
        assert.equal(s.code, code, new TextDecoder().decode(s.stderr));
        assert.deepEqual(names(slow.remoteDir), [], `${sig}: debris on the server`);
      }
      // A whole file to get, then an interrupted get.
      const { out, into } = await interruptedGet(slow, src, dir, "SIGINT");
      assert.equal(out.code, 130);
      assert.deepEqual(names(into), [], "a cancelled get left a file");
    });
  },
});

Deno.test({
  name: "after kill -9 mid-transfer, cleanup and the next get remove the debris",
  ignore: !haveSshd(),
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    await withSlowSftp(async (slow, dir, src) => {
      const s = await interruptedPut(slow.url, slow.opts, src, slow.remoteDir, "SIGKILL");
      assert.equal(s.signal, "SIGKILL");
      assert.ok(!names(slow.remoteDir).includes("big.bin"), "a partial file under the final name");
      assert.equal(names(slow.remoteDir).filter(isTempName).length, 1, "expected the debris");
      const clean = await spawn([...slow.opts, "cleanup", "--older-than", "0", slow.url]).output();
      assert.equal(clean.code, 0, new TextDecoder().decode(clean.stderr));
      assert.deepEqual(names(slow.remoteDir), []);
      // A killed get leaves a part file; once stale, the next get into the folder removes it.
      const { into } = await interruptedGet(slow, src, dir, "SIGKILL");
      const part = names(into).find(isPartFile)!;
      assert.ok(part, "expected a partial download after kill -9");
      const old = new Date(Date.now() - 2 * 3_600_000);
      await Deno.utime(join(into, part), old, old);
      await Deno.writeTextFile(join(slow.remoteDir, "small.txt"), "small");
      const next = await spawn([...slow.opts, "get", slow.url, "small.txt", into]).output();
      assert.equal(next.code, 0, new TextDecoder().decode(next.stderr));
      assert.deepEqual(names(into), ["small.txt"]);
    });
  },
});
