import assert from "node:assert/strict";
import { BackendError, ParsedUrl } from "../mod.ts";

function fails(url: string): BackendError {
  try {
    new ParsedUrl(url);
  } catch (err) {
    assert.ok(err instanceof BackendError, `expected BackendError for ${url}`);
    return err;
  }
  throw new Error(`"${url}" parsed but should not`);
}

Deno.test("scp URL gives user, host, port and path", () => {
  const u = new ParsedUrl("scp://ben@foo.bar:1234/a/b");
  assert.equal(u.scheme, "scp");
  assert.equal(u.username, "ben");
  assert.equal(u.hostname, "foo.bar");
  assert.equal(u.port, 1234);
  assert.equal(u.path, "/a/b");
  assert.equal(u.password, undefined);
});

Deno.test("user@host takes the last @ and splits the password at the first colon", () => {
  const u = new ParsedUrl("ftp://foo@bar:pass@example.com:123/home");
  assert.equal(u.username, "foo@bar");
  assert.equal(u.password, "pass");
  assert.equal(u.hostname, "example.com");
  assert.equal(u.port, 123);
  assert.equal(u.path, "/home");
});

Deno.test("user and password are percent-decoded", () => {
  const u = new ParsedUrl("ftp://foo%40bar:p%3Ass%2F@example.com:123/home");
  assert.equal(u.username, "foo@bar");
  assert.equal(u.password, "p:ss/");
});

Deno.test("file URLs keep duplicity's double-slash paths", () => {
  assert.equal(new ParsedUrl("file:///home").path, "///home");
  assert.equal(new ParsedUrl("file://home").path, "//home");
  assert.equal(new ParsedUrl("file:///a/b%20c").path, "///a/b c");
});

Deno.test("file:path without // is refused with code 23", () => {
  const err = fails("file:path");
  assert.equal(err.code, 23);
  assert.match(err.message, /file:path/);
});

Deno.test("a port that is not a number is refused for host-style schemes", () => {
  assert.equal(fails("sftp://host:notaport/x").code, 23);
  assert.equal(fails("ftp://host:99999/x").code, 23);
});

Deno.test("rclone remote:path and rsync ::module URLs are accepted", () => {
  const r = new ParsedUrl("rclone://remote:/dir");
  assert.equal(r.scheme, "rclone");
  assert.equal(r.path, "//remote:/dir");
  const s = new ParsedUrl("rsync://user@host::module/path");
  assert.equal(s.hostname, "host");
});

Deno.test("host-style schemes need a host", () => {
  assert.equal(fails("sftp:///abs/dir").code, 23);
  assert.equal(fails("webdav://").code, 23);
});

Deno.test("path-style schemes take the netloc into the path", () => {
  assert.equal(new ParsedUrl("s3://bucket/prefix").path, "//bucket/prefix");
  assert.equal(new ParsedUrl("s3:///bucket/prefix").path, "///bucket/prefix");
  assert.equal(new ParsedUrl("azure://container").path, "//container");
  assert.equal(new ParsedUrl("par2+file:///dir").scheme, "par2+file");
});

Deno.test("sftp relative and absolute paths stay distinct", () => {
  assert.equal(new ParsedUrl("sftp://u@h/rel/dir").path, "/rel/dir");
  assert.equal(new ParsedUrl("sftp://u@h//abs/dir").path, "//abs/dir");
});

Deno.test("query arguments are parsed", () => {
  const u = new ParsedUrl("multi:///path/config.json?mode=mirror&onfail=abort");
  assert.equal(u.path, "///path/config.json");
  assert.deepEqual(u.queryArgs, { mode: ["mirror"], onfail: ["abort"] });
  assert.equal(u.queryArg("mode"), "mirror");
});

Deno.test("IPv6 hosts lose their brackets", () => {
  const u = new ParsedUrl("sftp://u@[::1]:2222/x");
  assert.equal(u.hostname, "::1");
  assert.equal(u.port, 2222);
});

Deno.test("stripAuth removes the password and keeps the user visible", () => {
  const u = new ParsedUrl("scheme://user:pw@127.0.0.1:22/p");
  assert.equal(u.stripAuth(), "scheme://user@127.0.0.1:22/p");
  assert.equal(String(u), "scheme://user@127.0.0.1:22/p");
  assert.equal(new ParsedUrl("ftp://a@b:c@host/x").stripAuth(), "ftp://a@b@host/x");
  assert.equal(new ParsedUrl("sftp://nobody@host/x").stripAuth(), "sftp://nobody@host/x");
});

Deno.test("stripAuth hides secret query values only", () => {
  const u = new ParsedUrl("azure://c?sas_token=abc&tier=Cool");
  assert.equal(u.stripAuth(), "azure://c?sas_token=***&tier=Cool");
  const s3 = new ParsedUrl("s3://b/p?max-keys=5&accountKey=k1&X-Amz-Signature=zz&prefix=a");
  assert.equal(s3.stripAuth(), "s3://b/p?max-keys=5&accountKey=***&X-Amz-Signature=***&prefix=a");
});

Deno.test("a malformed URL's error message does not leak the password", () => {
  const err = fails("sftp://alice:topsecret@host:bad/x");
  assert.ok(!err.message.includes("topsecret"), err.message);
});

Deno.test("geturl returns the original string", () => {
  const s = "webdavs://u:p@h.example:8443/a%20b/";
  assert.equal(new ParsedUrl(s).geturl(), s);
});

Deno.test("a host name with spaces and port 0 are code 23 before any I/O", () => {
  assert.match(
    fails("sftp://127.0.0.1 :45447/x").message,
    /host name "127\.0\.0\.1 " is not valid/,
  );
  assert.match(fails("ftp://ho st/x").message, /host name "ho st" is not valid/);
  assert.match(fails("sftp://u@host:0/x").message, /port "0" is not a number from 1 to 65535/);
  assert.equal(new ParsedUrl("webdav://h:65535/x").port, 65535);
});
