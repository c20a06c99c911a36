import assert from "node:assert/strict";
import {
  BackendError,
  errorCodeName,
  getBackend,
  getBackendObject,
  isPermanentCode,
  ParsedUrl,
} from "../mod.ts";
import {
  closest,
  codeForHttpStatus,
  describeOptions,
  httpError,
  parseOptions,
  parseOptionsWithRest,
  resolvePassword,
} from "../kit.ts";
import { expectCode } from "./_helpers.ts";

const SPECS = {
  n: { type: "integer", min: 1, max: 64, default: 4, doc: "A count." },
  b: { type: "boolean", doc: "A switch." },
  s: { type: "string", doc: "A word." },
  size: { type: "bytes", default: "16M", min: 1024, doc: "A size." },
  wait: { type: "duration", default: "30s", doc: "A wait." },
  e: { type: "enum", values: ["Hot", "Cool"], doc: "A tier." },
  l: { type: "list", doc: "Some names." },
  key: { type: "string", secret: true, doc: "A secret." },
} as const;

Deno.test("declared options parse typed values and command-line strings, with defaults", () => {
  const o = parseOptions("x", SPECS, {
    n: "42",
    b: "yes",
    s: 7,
    size: "5MiB",
    e: "Cool",
    l: "a, b,c",
  });
  assert.equal(o.n, 42);
  assert.equal(o.b, true);
  assert.equal(o.s, "7");
  assert.equal(o.size, 5 * 1024 * 1024);
  assert.equal(o.e, "Cool");
  assert.deepEqual(o.l, ["a", "b", "c"]);
  assert.equal(o.wait, 30_000);
  const d = parseOptions("x", SPECS, {});
  assert.equal(d.n, 4);
  assert.equal(d.size, 16 * 1024 * 1024);
  assert.equal(d.b, undefined);
});

Deno.test("declared options refuse bad values with code 23 naming the key and what it accepts", () => {
  const bad: [Record<string, unknown>, RegExp][] = [
    [{ n: "abc" }, /Invalid option "n" for x:\/\/: "abc" is not a number/],
    [{ n: "1.5" }, /a whole number/],
    [{ n: 0 }, /at least 1/],
    [{ b: "maybe" }, /true or false/],
    [{ size: "lots" }, /a size such as 16M/],
    [{ size: 1 }, /at least 1024 bytes/],
    [{ wait: "soon" }, /a duration/],
    [{ e: "Warm" }, /one of Hot, Cool/],
  ];
  for (const [input, re] of bad) {
    assert.throws(
      () => parseOptions("x", SPECS, input),
      (err: unknown) => err instanceof BackendError && err.code === 23 && re.test(err.message),
      JSON.stringify(input),
    );
  }
});

Deno.test("a bad secret value is not echoed in the error", async () => {
  const specs = { port: { type: "integer", secret: true, doc: "x" } } as const;
  const err = await expectCode(() => parseOptions("x", specs, { port: "hunter2-secret" }), 23);
  assert.doesNotMatch(err.message, /hunter2/);
});

Deno.test("an unknown option is code 23 naming the closest known key", async () => {
  const err = await expectCode(() => parseOptions("s3", SPECS, { sizee: "1M" }), 23);
  assert.match(err.message, /Unknown option "sizee" for s3:\/\/; did you mean "size"\?/);
  assert.equal(closest("endpont", ["endpoint", "region"]), "endpoint");
  assert.equal(closest("identityFle", ["identityFile", "agent"]), "identityFile");
  assert.equal(closest("zzzzzz", ["endpoint", "region"]), undefined);
  // The wrapper's own keys are always accepted.
  parseOptions("x", SPECS, { maxAttempts: 2, timeout: 5, signal: new AbortController().signal });
});

Deno.test("a meta backend takes its own keys and passes the rest inward", () => {
  const { settings, rest } = parseOptionsWithRest("par2", {
    r: { type: "integer", default: 10, doc: "x" },
  }, {
    r: "20",
    endpoint: "http://x",
  });
  assert.equal(settings.r, 20);
  assert.deepEqual(rest, { endpoint: "http://x" });
});

Deno.test("the options table describes each key for help and the README", () => {
  const rows = describeOptions(SPECS);
  assert.deepEqual(rows[0], { name: "n", type: "integer 1..64", default: "4", doc: "A count." });
  assert.equal(rows.find((r) => r.name === "e")?.type, "one of Hot, Cool");
});

Deno.test("every built-in backend refuses an unknown option before any I/O, with a suggestion", async () => {
  const cases: [string, string, string][] = [
    ["file:///nonexistent/stowage-opt", "dirmod", "dirMode"],
    ["memory://opt", "timeot", ""],
    ["sftp://u@127.0.0.1:1/x", "identityFle", "identityFile"],
    ["ftp://u@127.0.0.1:1/x", "activMode", "activeMode"],
    ["webdav://u@127.0.0.1:1/x", "maxRedirect", "maxRedirects"],
    ["s3://bucket/p", "endpont", "endpoint"],
    ["azure://container/p", "blocksize", "blockSize"],
    ["par2+file:///tmp/stowage-opt", "par2Redundancyy", "par2Redundancy"],
    ["chaos+memory://opt", "dirMode", ""],
    ["multi:///tmp/stowage-no-config.json", "mirrorr", ""],
    ["rclone://remote:path", "rcloneFlag", ""],
    ["rsync://u@127.0.0.1/x", "sshPortt", ""],
  ];
  for (const [url, key, near] of cases) {
    const err = await getBackend(url, { [key]: "1" }).then(() => undefined, (e) => e);
    assert.ok(err instanceof BackendError, `${url}: no error`);
    assert.equal(err.code, 23, `${url}: ${err.message}`);
    assert.match(err.message, new RegExp(`Unknown option "${key}"`));
    if (near) assert.match(err.message, new RegExp(`did you mean "${near}"`), url);
    // The raw object path refuses too.
    await assert.rejects(getBackendObject(url, { [key]: "1" }), BackendError);
  }
});

Deno.test("a misspelled option key in a literal getBackend() call fails deno check", async () => {
  // The fixtures are excluded from the project's own check (two of them must
  // fail); each is checked from a scratch copy against the real module.
  const root = new URL("../", import.meta.url);
  const scratch = await Deno.makeTempDir({ prefix: "stowage-typecheck-" });
  const check = async (name: string) => {
    const text = await Deno.readTextFile(new URL(`tests/fixtures/${name}`, root));
    const file = `${scratch}/${name}`;
    await Deno.writeTextFile(file, text.replaceAll("../../mod.ts", new URL("mod.ts", root).href));
    return await new Deno.Command(Deno.execPath(), {
      args: ["check", "-q", "--config", new URL("deno.json", root).pathname, file],
      stdout: "piped",
      stderr: "piped",
    }).output();
  };
  try {
    const bad = await check("typo_option.ts");
    assert.equal(bad.success, false, "the typo fixture type-checked");
    assert.match(new TextDecoder().decode(bad.stderr), /identityFle/);
    const badPrefix = await check("typo_prefix_option.ts");
    assert.equal(badPrefix.success, false, "the prefixed typo fixture type-checked");
    assert.match(new TextDecoder().decode(badPrefix.stderr), /endpont/);
    const good = await check("typed_options.ts");
    assert.equal(good.success, true, new TextDecoder().decode(good.stderr));
  } finally {
    await Deno.remove(scratch, { recursive: true });
  }
});

Deno.test("HTTP statuses map to codes and Retry-After is carried", () => {
  assert.equal(codeForHttpStatus(401), 51);
  assert.equal(codeForHttpStatus(403), 51);
  assert.equal(codeForHttpStatus(404), 52);
  assert.equal(codeForHttpStatus(507), 53);
  assert.equal(codeForHttpStatus(429), 58);
  assert.equal(codeForHttpStatus(503), 58);
  assert.equal(codeForHttpStatus(500), 50);
  const err = httpError(503, "slow down", new Headers({ "retry-after": "4" }));
  assert.equal(err.retryAfter, 4000);
  assert.equal(err.permanent, false);
  assert.equal(httpError(404, "gone").permanent, true);
});

Deno.test("error code names and permanence follow the table", () => {
  assert.equal(errorCodeName(52), "backend_not_found");
  assert.equal(errorCodeName(99), "code_99");
  for (const c of [23, 51, 52, 56, 59, 60, 61]) assert.ok(isPermanentCode(c), String(c));
  for (const c of [38, 50, 53, 57, 58]) assert.ok(!isPermanentCode(c), String(c));
});

Deno.test("the password comes from the URL, else FTP_PASSWORD, else askPassword, else nothing", async () => {
  const env = (v?: string) => ({ get: (k: string) => (k === "FTP_PASSWORD" ? v : undefined) });
  assert.equal(
    await resolvePassword(new ParsedUrl("ftp://u:from-url@h/x"), { env: env("from-env") }),
    "from-url",
  );
  assert.equal(
    await resolvePassword(new ParsedUrl("ftp://u@h/x"), { env: env("from-env") }),
    "from-env",
  );
  assert.equal(
    await resolvePassword(new ParsedUrl("ftp://u@h/x"), { env: env(undefined) }),
    undefined,
  );
  const asked: string[] = [];
  const pw = await resolvePassword(new ParsedUrl("ftp://u@h/x"), {
    env: env(undefined),
    askPassword: (p) => (asked.push(p), Promise.resolve("typed")),
  });
  assert.equal(pw, "typed");
  assert.deepEqual(asked, ["Password for u@h: "]);
});
