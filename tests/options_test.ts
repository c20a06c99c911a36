import assert from "node:assert/strict";
import {
  BackendError,
  codeForHttpStatus,
  errorCodeName,
  httpError,
  isPermanentCode,
  optBool,
  optBytes,
  optEnum,
  optList,
  optNumber,
  optString,
  ParsedUrl,
  resolvePassword,
} from "../mod.ts";

Deno.test("option readers accept typed values and command-line strings", () => {
  const o = { n: "42", b: "yes", s: 7, size: "16M", e: "Cool", l: "a, b,c" };
  assert.equal(optNumber(o, "n"), 42);
  assert.equal(optBool(o, "b"), true);
  assert.equal(optString(o, "s"), "7");
  assert.equal(optBytes(o, "size"), 16 * 1024 * 1024);
  assert.equal(optBytes({ x: "5MiB" }, "x"), 5 * 1024 * 1024);
  assert.equal(optEnum(o, "e", ["Hot", "Cool"] as const), "Cool");
  assert.deepEqual(optList(o, "l"), ["a", "b", "c"]);
  assert.equal(optNumber({}, "missing"), undefined);
});

Deno.test("option readers refuse bad values with code 23 naming the option", () => {
  const bad: [() => unknown, RegExp][] = [
    [() => optNumber({ n: "x" }, "n"), /Invalid option "n": "x" is not a number/],
    [() => optNumber({ n: 3 }, "n", { min: 5 }), /at least 5/],
    [() => optBool({ b: "maybe" }, "b"), /true or false/],
    [() => optBytes({ p: "lots" }, "p"), /a size such as 16M/],
    [() => optEnum({ e: "Warm" }, "e", ["Hot", "Cool"]), /one of Hot, Cool/],
  ];
  for (const [fn, re] of bad) {
    assert.throws(
      fn,
      (err: unknown) => err instanceof BackendError && err.code === 23 && re.test(err.message),
    );
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

Deno.test("the password comes from the URL, else FTP_PASSWORD, else nothing without a terminal", () => {
  const env = (v?: string) => ({ get: (k: string) => (k === "FTP_PASSWORD" ? v : undefined) });
  assert.equal(
    resolvePassword(new ParsedUrl("ftp://u:from-url@h/x"), { env: env("from-env") }),
    "from-url",
  );
  assert.equal(resolvePassword(new ParsedUrl("ftp://u@h/x"), { env: env("from-env") }), "from-env");
  assert.equal(resolvePassword(new ParsedUrl("ftp://u@h/x"), { env: env(undefined) }), undefined);
});
