/**
 * s3:// against servers that fail on purpose, all on 127.0.0.1 in this
 * process: a stub that answers the bucket check and stalls the rest, a
 * black hole that accepts and never answers, a server that speaks SSH, TLS
 * spoken to a plain server and an untrusted certificate, and canned S3
 * error answers. Every give-up must come within the caller's timeout plus
 * a second, in the right code, and permanent ones after one attempt.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { ErrorCode } from "../core/errors.ts";
import { getBackend, type GetBackendOptions } from "../registry.ts";
import {
  expectCode,
  expectCodeTimed,
  type FakeListener,
  fakeListener,
  greetingListener,
  withTempDir,
} from "./_helpers.ts";
import { makeTestCertificates } from "./servers/tls.ts";

const TIMEOUT = 300;
/** The most a give-up may take: the timeout, a second of clean-up, and slack for a busy machine. */
const GIVE_UP_MS = TIMEOUT + 1000 + 700;

function options(endpoint: string, extra: GetBackendOptions = {}): GetBackendOptions {
  return {
    endpoint,
    region: "us-east-1",
    accessKeyId: "AKIDSTUB",
    secretAccessKey: "secret",
    partSize: "5M",
    uploadCutoff: 0,
    maxAttempts: 1,
    timeout: TIMEOUT,
    ...extra,
  };
}

/** A stub S3 server: `answer` decides per request; `stall()` holds a request until the test ends. */
function stub(
  answer: (req: Request, stall: () => Promise<Response>) => Promise<Response> | Response,
) {
  const held: (() => void)[] = [];
  const requests: { method: string; url: string; headers: Headers }[] = [];
  const stall = () =>
    new Promise<Response>((resolve) =>
      held.push(() => resolve(new Response(null, { status: 500 })))
    );
  const server = Deno.serve(
    {
      hostname: "127.0.0.1",
      port: 0,
      onListen: () => {},
      onError: () => new Response(null, { status: 500 }),
    },
    async (req) => {
      requests.push({ method: req.method, url: req.url, headers: new Headers(req.headers) });
      const res = await answer(req, stall);
      await req.body?.cancel().catch(() => {});
      return res;
    },
  );
  const stop = async () => {
    for (const release of held) release();
    await server.shutdown();
  };
  return {
    endpoint: `http://127.0.0.1:${server.addr.port}`,
    port: server.addr.port,
    requests,
    stop,
    [Symbol.asyncDispose]: stop,
  };
}

/** The endpoint of a listener on 127.0.0.1. */
function endpointOf(l: FakeListener): string {
  return `http://127.0.0.1:${l.port}`;
}

Deno.test("a store that accepts and never answers: every operation gives up within the timeout (57)", async () => {
  await using hole = greetingListener();
  await withTempDir(async (tmp) => {
    await using store = await getBackend("s3://bucket/p", options(endpointOf(hole)));
    const src = join(tmp, "src");
    await Deno.writeTextFile(src, "x");
    const ops: [string, () => Promise<unknown>][] = [
      ["list", () => store.list()],
      ["put", () => store.put(src, "a")],
      ["get", () => store.get("a", join(tmp, "out"))],
      ["read", () => store.read("a")],
      ["write", () => store.write("w", "data")],
    ];
    for (const [what, op] of ops) {
      const [, ms] = await expectCodeTimed(op, ErrorCode.backend_timeout);
      assert.ok(ms < GIVE_UP_MS, `${what} gave up after ${ms.toFixed(0)} ms`);
    }
  });
});

Deno.test("uploads and downloads that stall after the bucket check give up within the timeout", async () => {
  await using server = stub((req, stall) => {
    const path = new URL(req.url).pathname;
    if (req.method === "HEAD" && path === "/bucket") return new Response(null, { status: 200 });
    if (req.method === "POST" && new URL(req.url).searchParams.has("uploads")) {
      return new Response(
        "<InitiateMultipartUploadResult><UploadId>u1</UploadId></InitiateMultipartUploadResult>",
      );
    }
    if (req.method === "DELETE") return new Response(null, { status: 204 });
    return stall();
  });
  await withTempDir(async (tmp) => {
    await using store = await getBackend("s3://bucket/p", options(server.endpoint));
    const small = join(tmp, "small");
    const big = join(tmp, "big");
    await Deno.writeTextFile(small, "x");
    await Deno.writeFile(big, new Uint8Array(6 * 1024 * 1024));
    for (
      const [what, op] of [
        ["small put", () => store.put(small, "a")],
        ["multipart put", () => store.put(big, "b")],
        ["get", () => store.get("a", join(tmp, "out"))],
        ["streamed write", () => store.write("c", new Uint8Array(6 * 1024 * 1024))],
      ] as const
    ) {
      const [, ms] = await expectCodeTimed(op, ErrorCode.backend_timeout);
      assert.ok(ms < GIVE_UP_MS, `${what} gave up after ${ms.toFixed(0)} ms`);
    }
    // Both multipart uploads were aborted on the server on the way out.
    const aborts = server.requests.filter((r) =>
      r.method === "DELETE" && r.url.includes("uploadId=")
    );
    assert.equal(aborts.length, 2);
  });
});

Deno.test("a server that speaks SSH fails at once with 38, saying what it said", async () => {
  await using ssh = greetingListener("SSH-2.0-OpenSSH_9.2\r\n");
  await using store = await getBackend(
    "s3://bucket/p",
    options(endpointOf(ssh), { maxAttempts: 3, minTimeout: 1, maxTimeout: 2 }),
  );
  const [err, ms] = await expectCodeTimed(() => store.list(), ErrorCode.connection_failed);
  assert.ok(ms < 1500, "no wait for a timeout");
  assert.match(err.message, /does not speak HTTP: it said "SSH-2\.0-OpenSSH_9\.2"/);
});

Deno.test("TLS to a plain HTTP server is 60 after one attempt", async () => {
  await using plain = stub(() => new Response("hello"));
  await using store = await getBackend(
    "s3://bucket/p",
    options(plain.endpoint.replace("http:", "https:"), { maxAttempts: 3, minTimeout: 1 }),
  );
  const err = await expectCode(store.list(), ErrorCode.backend_untrusted_host);
  assert.equal(err.attempts, 1);
  assert.match(err.message, /does not speak TLS/);
});

Deno.test("a certificate from an unknown CA is 60 after one attempt, naming DENO_CERT", async () => {
  await withTempDir(async (dir) => {
    const certs = await makeTestCertificates(dir);
    await using tls = fakeListener(
      (c) => (c as Deno.TlsConn).handshake(),
      Deno.listenTls({
        hostname: "127.0.0.1",
        port: 0,
        cert: await Deno.readTextFile(certs.cert),
        key: await Deno.readTextFile(certs.key),
      }),
    );
    await using store = await getBackend(
      "s3://bucket/p",
      options(`https://127.0.0.1:${tls.port}`, { maxAttempts: 3 }),
    );
    const err = await expectCode(store.list(), ErrorCode.backend_untrusted_host);
    assert.equal(err.attempts, 1);
    assert.match(err.message, /certificate is not trusted.*DENO_CERT/);
  });
});

Deno.test("a name the store finds too long (KeyTooLongError) is 59, not retried", async () => {
  await using server = stub((req) =>
    req.method === "HEAD" ? new Response(null, { status: 200 }) : new Response(
      "<Error><Code>KeyTooLongError</Code><Message>Your key is too long: /srv/data/x</Message></Error>",
      { status: 400, headers: { "content-type": "application/xml" } },
    )
  );
  await withTempDir(async (tmp) => {
    const src = join(tmp, "src");
    await Deno.writeTextFile(src, "x");
    await using store = await getBackend(
      "s3://bucket/p",
      options(server.endpoint, { maxAttempts: 3 }),
    );
    const err = await expectCode(store.put(src, "long-name"), ErrorCode.backend_unsupported);
    assert.equal(err.attempts, 1);
    assert.match(err.message, /"long-name".*too long/);
    assert.ok(!err.message.includes("/srv/data"), "the server's own path is not shown");
  });
});

Deno.test("RequestTimeTooSkewed: the clock is corrected from the answer's Date and the request sent again", async () => {
  const serverTime = new Date(Date.now() + 3600_000); // the server's clock is an hour ahead
  let puts = 0;
  await using server = stub((req) => {
    if (req.method === "HEAD") return new Response(null, { status: 200 });
    if (puts++ === 0) {
      return new Response(
        "<Error><Code>RequestTimeTooSkewed</Code><Message>The difference is too large.</Message></Error>",
        { status: 403, headers: { date: serverTime.toUTCString() } },
      );
    }
    return new Response(null, { status: 200, headers: { etag: '"x"' } });
  });
  await withTempDir(async (tmp) => {
    const src = join(tmp, "src");
    await Deno.writeTextFile(src, "x");
    await using store = await getBackend("s3://bucket/p", options(server.endpoint));
    await store.put(src, "a");
    const dates = server.requests.filter((r) => r.method === "PUT").map((r) =>
      r.headers.get("x-amz-date")!
    );
    assert.equal(dates.length, 2);
    const at = (d: string) =>
      Date.UTC(
        +d.slice(0, 4),
        +d.slice(4, 6) - 1,
        +d.slice(6, 8),
        +d.slice(9, 11),
        +d.slice(11, 13),
        +d.slice(13, 15),
      );
    assert.ok(
      Math.abs(at(dates[1]!) - serverTime.getTime()) < 5000,
      "signed with the server's time",
    );
  });
});
