/**
 * The bad-input table: URLs, names, options, credentials, local paths,
 * servers that speak the wrong protocol and black holes. Each case gives
 * exactly one line on stderr, the documented exit code, no stack trace, and
 * never the test's password in any output.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { main } from "../../cli.ts";
import { greetingListener } from "../_helpers.ts";
import { freePort } from "../servers/common.ts";
import { canRunVsftpd, FTP_USER, startVsftpd } from "../servers/vsftpd.ts";
import { haveApache, startApache } from "../servers/webdav.ts";

const PW = "Hunter2-secret-PW";

interface Row {
  /** What the case is. */
  what: string;
  /** The command line (after the global test flags). */
  args: string[];
  /** The exit code expected. */
  code: number;
  /** A pattern the one stderr line must match. */
  says?: RegExp;
}

async function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = "";
  let stderr = "";
  const code = await main(["--retry-delay", "0.001", "--num-retries", "2", ...args], {
    stdout: (t) => stdout += t,
    stderr: (t) => stderr += t,
    isTerminal: false,
  });
  return { code, stdout, stderr };
}

async function check(rows: Row[]): Promise<void> {
  const failures: string[] = [];
  for (const row of rows) {
    const r = await cli(row.args);
    const lines = r.stderr.split("\n").filter(Boolean);
    const problems: string[] = [];
    if (r.code !== row.code) problems.push(`exit ${r.code}, expected ${row.code}`);
    if (lines.length !== 1) problems.push(`${lines.length} stderr lines`);
    if (/\bat .*\.ts:\d+|Stack|\n\s+at /.test(r.stderr)) problems.push("a stack trace");
    if ((r.stdout + r.stderr).includes(PW)) problems.push("the password in the output");
    if (row.says && !row.says.test(lines[0] ?? "")) {
      problems.push(`message ${JSON.stringify(lines[0])}`);
    }
    if (problems.length) failures.push(`${row.what}: ${problems.join("; ")} — ${r.stderr.trim()}`);
  }
  assert.deepEqual(failures, []);
}

Deno.test({
  name: "bad input gives one line, the documented code, no stack trace and no password",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const dir = await Deno.makeTempDir();
    const file = join(dir, "f.txt");
    await Deno.writeTextFile(file, "data");
    const store = `file://${dir}/store`;
    await cli(["put", file, store]);
    const ssh = greetingListener("SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n");
    const http = Deno.serve(
      { hostname: "127.0.0.1", port: 0, onListen() {} },
      () => new Response("hi"),
    );
    const hole = greetingListener();
    const closed = freePort(); // nothing listens there
    const fast = ["--timeout", "0.3", "--num-retries", "1"];
    const rows: Row[] = [
      // URLs
      {
        what: "unknown scheme",
        args: ["ls", "nosuch://x/y"],
        code: 23,
        says: /Unknown backend scheme "nosuch"/,
      },
      {
        what: "unknown prefix",
        args: ["ls", "nosuch+file:///tmp"],
        code: 23,
        says: /Unknown backend prefix/,
      },
      { what: "file: without //", args: ["ls", "file:relative"], code: 23 },
      { what: "no scheme", args: ["ls", "just/a/path"], code: 23, says: /no scheme/ },
      { what: "bad port with a password", args: ["ls", `sftp://alice:${PW}@host:bad/x`], code: 23 },
      { what: "port 0", args: ["ls", `sftp://alice@127.0.0.1:0/x`], code: 23, says: /port "0"/ },
      { what: "port too large", args: ["ls", "webdav://h:70000/x"], code: 23 },
      {
        what: "space in the host",
        args: ["ls", `sftp://u:${PW}@127.0.0.1 :45447/x`],
        code: 23,
        says: /host name/,
      },
      { what: "no host", args: ["ls", "ftp:///x"], code: 23, says: /needs a host/ },
      { what: "control character in the URL", args: ["ls", "file:///tmp/a\x01b"], code: 23 },
      { what: "bad percent-escape in the password", args: ["ls", "ftp://u:%zz@h/x"], code: 23 },
      { what: "s3 without a bucket", args: ["ls", "s3:///"], code: 23 },
      { what: "azure without a container", args: ["ls", "azure://"], code: 23 },
      {
        what: "missing local folder (forgotten slash)",
        args: ["ls", "file://tmp/stowage-no-such-x9"],
        code: 52,
      },
      // Names
      { what: "name with a slash", args: ["put", "--name", "a/b", file, store], code: 23 },
      { what: "name ..", args: ["put", "--name", "..", file, store], code: 23 },
      { what: "empty name", args: ["put", "--name", "", file, store], code: 23 },
      { what: "rm of .", args: ["rm", store, "."], code: 23 },
      { what: "get of a missing name", args: ["get", store, "nope", join(dir, "x")], code: 52 },
      { what: "stat of a missing name", args: ["stat", store, "nope"], code: 52 },
      // Local paths
      { what: "put of a missing local file", args: ["put", join(dir, "missing"), store], code: 52 },
      { what: "put of a folder", args: ["put", dir, store], code: 23 },
      {
        what: "get under a regular file",
        args: ["get", store, "f.txt", join(file, "x")],
        code: 23,
        says: /a file is in the way/,
      },
      // Options
      {
        what: "unknown option",
        args: ["-o", "dirmod=1", "ls", store],
        code: 23,
        says: /did you mean "dirMode"/,
      },
      { what: "bad option value", args: ["-o", "dirMode=rwx", "ls", store], code: 23 },
      {
        what: "s3 endpoint typo",
        args: ["-o", "endpont=http://127.0.0.1:9", "ls", "s3://b/p"],
        code: 23,
        says: /did you mean "endpoint"/,
      },
      {
        what: "s3 part size too small",
        args: ["-o", "partSize=1", "ls", "s3://b/p"],
        code: 23,
        says: /partSize/,
      },
      {
        what: "s3 concurrency not a number",
        args: ["-o", "concurrency=abc", "ls", "s3://b/p"],
        code: 23,
      },
      {
        what: "sftp key typo",
        args: ["-o", "identityFle=/x", "ls", "sftp://u@127.0.0.1:1/x"],
        code: 23,
        says: /identityFile/,
      },
      {
        what: "sftp engine unknown",
        args: ["-o", "engine=telnet", "ls", "sftp://u@127.0.0.1:1/x"],
        code: 23,
      },
      {
        what: "azure secret not echoed",
        args: ["-o", `accountKey=${PW}`, "-o", "blocksize=1", "ls", "azure://c/p"],
        code: 23,
      },
      // Command line
      { what: "-o without =", args: ["-o", "novalue", "ls", store], code: 2 },
      { what: "--num-retries not a number", args: ["--num-retries", "zero", "ls", store], code: 2 },
      { what: "--timeout negative", args: ["--timeout", "-1", "ls", store], code: 2 },
      { what: "missing argument", args: ["ls"], code: 2 },
      { what: "unknown command", args: ["frobnicate"], code: 2 },
      { what: "unknown flag", args: ["ls", "--bogus", store], code: 2 },
      { what: "flag of another command", args: ["ls", "--name", "x", store], code: 2 },
      {
        what: "cleanup with a bad duration",
        args: ["cleanup", "--older-than", "soon", store],
        code: 2,
      },
      // Servers that are not there, speak another protocol, or never answer
      {
        what: "ftp refused",
        args: [...fast, "ls", `ftp://u:${PW}@127.0.0.1:${closed}/x`],
        code: 38,
      },
      {
        what: "webdav refused",
        args: [...fast, "ls", `webdav://u:${PW}@127.0.0.1:${closed}/x`],
        code: 38,
      },
      {
        what: "sftp refused",
        args: [...fast, "-o", "engine=ssh2", "ls", `sftp://u:${PW}@127.0.0.1:${closed}/x`],
        code: 38,
      },
      {
        what: "s3 refused",
        args: [
          ...fast,
          "-o",
          `endpoint=http://127.0.0.1:${closed}`,
          "-o",
          "accessKeyId=a",
          "-o",
          `secretAccessKey=${PW}`,
          "ls",
          "s3://b/p",
        ],
        code: 38,
      },
      {
        what: "ftp to an SSH server",
        args: [...fast, "ls", `ftp://u:${PW}@127.0.0.1:${ssh.port}/x`],
        code: 38,
        says: /SSH-2\.0/,
      },
      {
        what: "webdavs to a plain HTTP server",
        args: [...fast, "ls", `webdavs://u:${PW}@127.0.0.1:${http.addr.port}/x`],
        code: 60,
      },
      {
        what: "webdav black hole",
        args: [...fast, "ls", `webdav://u:${PW}@127.0.0.1:${hole.port}/x`],
        code: 57,
      },
      {
        what: "ftp black hole",
        args: [...fast, "ls", `ftp://u:${PW}@127.0.0.1:${hole.port}/x`],
        code: 57,
      },
      {
        what: "sftp black hole",
        args: [...fast, "-o", "engine=ssh2", "ls", `sftp://u:${PW}@127.0.0.1:${hole.port}/x`],
        code: 57,
      },
    ];
    try {
      await check(rows);
      console.log(`bad-input table: ${rows.length} cases`);
    } finally {
      await ssh.close();
      await hole.close();
      await http.shutdown();
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "wrong credentials are 51 in one line without the password, and not retried",
  ignore: !canRunVsftpd() || !haveApache(),
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const ftp = await startVsftpd();
    const dav = await startApache();
    try {
      await check([
        {
          what: "ftp wrong password",
          args: ["ls", `ftp://${FTP_USER}:${PW}@127.0.0.1:${ftp.port}/x`],
          code: 51,
        },
        {
          what: "webdav wrong password",
          args: ["ls", `webdav://${dav.user}:${PW}@127.0.0.1:${dav.port}/x`],
          code: 51,
        },
      ]);
    } finally {
      await ftp.stop();
      await dav.stop();
    }
  },
});
