/**
 * `stowage probe` on file://, memory:// and a real OpenSSH sftp server, and
 * `stowage cp`/`sync` against that server: what each store keeps, that the
 * probe leaves nothing behind, and that copies land and skip as on file://.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { cli } from "./_cli.ts";
import type { ProbeReport } from "../cli/probe.ts";
import { haveSshd, type SftpServer, startSshd } from "./servers/sftp.ts";
import { davUrl, haveApache, startApache } from "./servers/webdav.ts";

function verdict(r: ProbeReport, ch: string): string[] {
  const c = r.characters.find((x) => x.char === ch)!;
  return [c.start.status, c.middle.status, c.end.status];
}

Deno.test("probe of a file:// folder: control characters kept, / refused, 255-byte names, nothing left", async () => {
  const dir = await Deno.makeTempDir();
  await Deno.writeTextFile(join(dir, "mine.txt"), "keep me");
  const r = await cli("probe", "--json", `file://${dir}`);
  assert.equal(r.code, 0, r.stderr);
  const report = JSON.parse(r.stdout) as ProbeReport;
  assert.equal(report.characters.length, 66);
  assert.deepEqual(verdict(report, "/"), ["rejected", "rejected", "rejected"]);
  assert.deepEqual(verdict(report, "\0"), ["rejected", "rejected", "rejected"]);
  assert.deepEqual(verdict(report, " "), ["ok", "ok", "ok"]);
  assert.deepEqual(verdict(report, "\n"), ["ok", "ok", "ok"]);
  assert.deepEqual(verdict(report, "\\"), ["ok", "ok", "ok"]);
  assert.equal(report.caseSensitive, true);
  assert.equal(report.unicode.nfc.status, "ok");
  assert.equal(report.unicode.sameFile, false);
  assert.deepEqual(report.maxName.map((m) => [m.width, m.bytes, m.atLeast]), [
    [1, 255, false],
    [2, 254, false],
    [3, 255, false],
    [4, 252, false], // 12 ASCII bytes of marker, then whole 4-byte characters
  ]);
  assert.equal(report.declaredMaxBytes, 255);
  assert.notEqual(report.overwrite.status, "torn");
  assert.equal(report.zeroByte.status, "ok");
  assert.deepEqual(report.leftovers, []);
  assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name), ["mine.txt"]);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("probe of memory:// prints a table and keeps everything but / and NUL", async () => {
  const url = `memory://cli-probe-${crypto.randomUUID()}`;
  const r = await cli("probe", url);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^Character {2}start {14}middle {13}end$/m);
  assert.match(
    r.stdout,
    /^\/ {10}refused \(stowage\) {2}refused \(stowage\) {2}refused \(stowage\)$/m,
  );
  assert.match(r.stdout, /^\\x1b {7}ok {17}ok {17}ok$/m);
  assert.match(r.stdout, /Characters kept everywhere: 64 of 66/);
  assert.match(r.stdout, /Longest name, 1-byte chars: at least 2048 chars, 2048 bytes/);
  assert.match(r.stdout, /Zero-byte file: {13}kept/);
  assert.equal((await cli("ls", "--all", url)).stdout, "");
});

const SSHD = haveSshd();

async function withSshd(fn: (srv: SftpServer, opts: string[], url: string) => Promise<void>) {
  const srv = await startSshd();
  try {
    const kh = join(srv.dir, "known_hosts");
    await Deno.writeTextFile(kh, `${srv.knownHostsLine}\n`);
    const opts = [
      "-o",
      `knownHostsFile=${kh}`,
      "-o",
      `identityFile=${srv.clientKey}`,
      "-o",
      "agent=none",
      "-o",
      "sshConfig=none",
    ];
    await fn(srv, opts, `sftp://${srv.user}@127.0.0.1:${srv.port}/`);
  } finally {
    await srv.stop();
  }
}

Deno.test({
  name: "probe of a real OpenSSH sftp server reports what it keeps and deletes every probe file",
  ignore: !SSHD,
  async fn() {
    await withSshd(async (srv, opts, url) => {
      const r = await cli(...opts, "probe", "--json", `${url}probe`);
      assert.equal(r.code, 0, r.stderr);
      const report = JSON.parse(r.stdout) as ProbeReport;
      assert.deepEqual(verdict(report, "/"), ["rejected", "rejected", "rejected"]);
      assert.deepEqual(verdict(report, "#"), ["ok", "ok", "ok"]);
      assert.deepEqual(verdict(report, "\x01"), ["ok", "ok", "ok"]);
      assert.equal(report.caseSensitive, true);
      assert.equal(report.zeroByte.status, "ok");
      assert.ok(report.maxName[0]!.bytes >= 200 && report.maxName[0]!.bytes <= 255);
      assert.deepEqual(report.leftovers, []);
      const left = [...Deno.readDirSync(join(srv.root, "probe"))].map((e) => e.name);
      assert.deepEqual(left, []);
    });
  },
});

Deno.test({
  name: "cp -r and sync to a real sftp server: sub-folders as stores, same-size skips, deletions",
  ignore: !SSHD,
  async fn() {
    await withSshd(async (srv, opts, url) => {
      const src = await Deno.makeTempDir();
      await Deno.mkdir(join(src, "sub"));
      for (let i = 0; i < 12; i++) await Deno.writeTextFile(join(src, `f${i}`), `file ${i}`);
      await Deno.writeTextFile(join(src, "sub", "inner"), "inner");
      const dst = `${url}copy`;
      const first = await cli(...opts, "cp", "-r", "--json", "--checksum", src, dst);
      assert.equal(first.code, 0, first.stderr);
      const summary = JSON.parse(first.stdout.trim().split("\n").at(-1)!);
      assert.equal(summary.done, 13);
      assert.equal(await Deno.readTextFile(join(srv.root, "copy", "sub", "inner")), "inner");
      const again = await cli(...opts, "cp", "-r", "--json", src, dst);
      assert.equal(JSON.parse(again.stdout.trim().split("\n").at(-1)!).skipped, 13);
      await Deno.remove(join(src, "f0"));
      const sync = await cli(...opts, "sync", "--json", src, dst);
      assert.equal(sync.code, 0, sync.stderr);
      assert.equal(JSON.parse(sync.stdout.trim().split("\n").at(-1)!).deleted, 1);
      await assert.rejects(Deno.stat(join(srv.root, "copy", "f0")));
      // Back from the server into a fresh local folder, store to local.
      const back = join(src, "back");
      assert.equal((await cli(...opts, "cp", dst, back)).code, 0);
      assert.equal(await Deno.readTextFile(join(back, "f11")), "file 11");
      await Deno.remove(src, { recursive: true });
    });
  },
});

const APACHE = haveApache();

Deno.test({
  name: "probe and cp/sync against a real Apache WebDAV server",
  ignore: !APACHE,
  async fn() {
    const srv = await startApache();
    try {
      const r = await cli("probe", "--json", davUrl(srv, "probe"));
      assert.equal(r.code, 0, r.stderr);
      const report = JSON.parse(r.stdout) as ProbeReport;
      assert.deepEqual(report.errors, []);
      assert.deepEqual(verdict(report, "#"), ["ok", "ok", "ok"]);
      assert.deepEqual(verdict(report, "?"), ["ok", "ok", "ok"]);
      assert.deepEqual(verdict(report, "%"), ["ok", "ok", "ok"]);
      assert.equal(report.zeroByte.status, "ok");
      assert.deepEqual(report.leftovers, []);
      assert.deepEqual([...Deno.readDirSync(join(srv.root, "probe"))], []);

      const src = await Deno.makeTempDir();
      for (let i = 0; i < 9; i++) await Deno.writeTextFile(join(src, `f${i}`), "x".repeat(i));
      const dst = davUrl(srv, "copy");
      const first = await cli("cp", "--json", src, dst);
      assert.equal(first.code, 0, first.stderr);
      assert.equal(JSON.parse(first.stdout.trim().split("\n").at(-1)!).done, 9);
      assert.equal(await Deno.readTextFile(join(srv.root, "copy", "f8")), "xxxxxxxx");
      await Deno.remove(join(src, "f3"));
      const sync = await cli("sync", "--json", src, dst);
      const summary = JSON.parse(sync.stdout.trim().split("\n").at(-1)!);
      assert.deepEqual([summary.skipped, summary.deleted, summary.exitCode], [8, 1, 0]);
      await Deno.remove(src, { recursive: true });
    } finally {
      await srv.stop();
    }
  },
});
