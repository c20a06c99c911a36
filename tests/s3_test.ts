/**
 * s3:// and gs:// against a real s3rver on 127.0.0.1 (tests/servers/s3rver.ts),
 * with a loopback proxy in front of it where a test needs to see the requests
 * or inject a fault.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { HeadObjectCommand, ListObjectsV2Command, S3Client } from "@aws-sdk/client-s3";
import { S3Backend, type S3Options } from "../backends/s3/mod.ts";
import { BackendError, ErrorCode } from "../core/errors.ts";
import { getBackend, type GetBackendOptions } from "../registry.ts";
import { ParsedUrl } from "../core/url.ts";
import { testConformance } from "../testing/mod.ts";
import { expectCode, randomBytes, randomFile, textFile, withEnv, withTempDir } from "./_helpers.ts";
import { freePort } from "./servers/common.ts";
import {
  type FaultAnswer,
  type FaultProxy,
  haveS3rver,
  keepFolder,
  type ProxiedRequest,
  S3RVER_KEY,
  s3rverOptions,
  type S3rverServer,
  startFaultProxy,
  startS3rver,
} from "./servers/s3rver.ts";

const MiB = 1024 * 1024;
const ignore = !haveS3rver();
const BUCKET = "stowage-test";

/** What the fault proxy answers in place of s3rver (undefined: forward the request). */
type Fault = (req: Request, index: number) => FaultAnswer | undefined;

/**
 * Backend options for s3rver: explicit keys (the tests never touch AWS_*
 * variables); multipart above 5 MiB (uploadCutoff 0), so multipart uploads
 * are exercised with small files.
 */
function s3Options(endpoint: string, extra: GetBackendOptions = {}): GetBackendOptions {
  return {
    ...s3rverOptions(endpoint),
    partSize: 5 * MiB,
    uploadCutoff: 0,
    maxAttempts: 1,
    ...extra,
  };
}

/** A plain SDK client to look at the bucket behind stowage's back. */
function rawClient(endpoint: string): S3Client {
  return new S3Client({
    endpoint,
    region: "us-east-1",
    forcePathStyle: true,
    maxAttempts: 1,
    credentials: { accessKeyId: S3RVER_KEY, secretAccessKey: S3RVER_KEY },
    requestChecksumCalculation: "WHEN_REQUIRED",
    responseChecksumValidation: "WHEN_REQUIRED",
  });
}

/** Run `fn` with a plain SDK client for `endpoint`, destroyed afterwards. */
async function withRawClient<T>(endpoint: string, fn: (c: S3Client) => Promise<T>): Promise<T> {
  const c = rawClient(endpoint);
  try {
    return await fn(c);
  } finally {
    c.destroy();
  }
}

/** The keys in the test bucket under `prefix`, listed behind stowage's back. */
function rawKeys(endpoint: string, prefix = ""): Promise<string[]> {
  return withRawClient(endpoint, async (c) => {
    const out = await c.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: prefix }));
    return (out.Contents ?? []).map((o) => o.Key!);
  });
}

/** Run `fn` with a fresh s3rver (bucket {@linkcode BUCKET}) and a scratch folder. */
async function withS3(fn: (s3: S3rverServer, tmp: string) => Promise<void>): Promise<void> {
  const s3 = await startS3rver([BUCKET]);
  try {
    await withTempDir((tmp) => fn(s3, tmp), "stowage-s3-test-");
  } finally {
    await s3.stop();
  }
}

/**
 * {@linkcode withS3} with a recording proxy in front of s3rver that gives
 * `fault`'s answer where it has one.
 */
function withProxy(
  fault: Fault | undefined,
  fn: (s3: S3rverServer, proxy: FaultProxy, tmp: string) => Promise<void>,
): Promise<void> {
  return withS3(async (s3, tmp) => {
    const proxy = startFaultProxy(s3.port, fault);
    try {
      await fn(s3, proxy, tmp);
    } finally {
      await proxy.stop();
    }
  });
}

/** The requests the proxy saw with `method` whose URL has `part` in it. */
function sent(proxy: FaultProxy, method: string, part = ""): ProxiedRequest[] {
  return proxy.requests.filter((r) => r.method === method && r.url.includes(part));
}

/** An S3 error answer with `code` and `message`. */
function s3Error(status: number, code: string, message: string, headers = {}): FaultAnswer {
  return {
    status,
    headers: { "content-type": "application/xml", ...headers },
    body: `<Error><Code>${code}</Code><Message>${message}</Message></Error>`,
  };
}

/**
 * Assert that a multipart upload was started once and aborted on the server
 * (one AbortMultipartUpload, no Complete), leaving no object.
 */
async function assertMultipartAborted(s3: S3rverServer, proxy: FaultProxy): Promise<void> {
  assert.equal(sent(proxy, "POST", "uploads").length, 1, "the upload went multipart");
  assert.equal(sent(proxy, "DELETE", "uploadId=").length, 1, "AbortMultipartUpload was sent");
  assert.equal(sent(proxy, "POST", "uploadId=").length, 0, "no Complete");
  assert.deepEqual(await rawKeys(s3.endpoint), []);
}

/** Wrapper settings that never wait between attempts. */
const NO_WAIT: GetBackendOptions = { sleep: () => Promise.resolve() };

Deno.test("URLs: s3://bucket/prefix and s3:///bucket/prefix name the same bucket and prefix", () => {
  const a = new S3Backend(new ParsedUrl("s3://my-bucket/a/b"));
  const b = new S3Backend(new ParsedUrl("s3:///my-bucket/a/b/"));
  const root = new S3Backend(new ParsedUrl("s3://my-bucket"));
  assert.deepEqual([a.bucket, a.prefix], ["my-bucket", "a/b/"]);
  assert.deepEqual([b.bucket, b.prefix], ["my-bucket", "a/b/"]);
  assert.deepEqual([root.bucket, root.prefix], ["my-bucket", ""]);
  const gs = new S3Backend(new ParsedUrl("gs://g-bucket/x"));
  assert.deepEqual([gs.bucket, gs.prefix], ["g-bucket", "x/"]);
  for (const bad of ["s3://", "s3:///"]) {
    assert.throws(
      () => new S3Backend(new ParsedUrl(bad)),
      (e: unknown) => e instanceof BackendError && e.code === ErrorCode.user_error,
    );
  }
});

Deno.test("options: a part size under 5 MiB or a bad sse value is refused with code 23", () => {
  const url = new ParsedUrl("s3://b/p");
  for (
    const options of [{ partSize: "4M" }, { partSize: 1024 }, { sse: "rot13" }, {
      sseKmsKeyId: "k",
    }]
  ) {
    assert.throws(
      () => new S3Backend(url, options as S3Options),
      (e: unknown) => e instanceof BackendError && e.code === ErrorCode.user_error,
      JSON.stringify(options),
    );
  }
  assert.equal(new S3Backend(url, { partSize: "5M" }).capabilities.chunkSize, 5 * MiB);
  assert.equal(new S3Backend(url).capabilities.chunkSize, 16 * MiB);
});

Deno.test("a misspelled option (endpont) is refused with code 23 before any request", async () => {
  // A typo'd endpoint must never fall back to AWS itself with the user's keys.
  const calls: string[] = [];
  const realFetch = globalThis.fetch;
  const realConnect = Deno.connect;
  globalThis.fetch = (input: RequestInfo | URL) => {
    calls.push(`fetch ${String(input)}`);
    return Promise.reject(new Error("no request may be sent"));
  };
  Deno.connect = ((options: Deno.ConnectOptions) => {
    calls.push(`connect ${options.hostname}:${options.port}`);
    return Promise.reject(new Error("no connection may be made"));
  }) as unknown as typeof Deno.connect;
  try {
    const options = {
      endpont: "http://127.0.0.1:9",
      accessKeyId: "AKIAEXAMPLE",
      secretAccessKey: "secret-that-must-stay-home",
      maxAttempts: 1,
    };
    for (const scheme of ["s3", "gs"]) {
      const err = await expectCode(
        getBackend(`${scheme}://${BUCKET}/p`, options),
        ErrorCode.user_error,
      );
      assert.match(err.message, /"endpont"/);
      assert.match(err.message, /did you mean "endpoint"\?/);
      assert.ok(!err.message.includes("secret-that-must-stay-home"));
    }
    // The class refuses it too, for code that builds a backend without the registry.
    assert.throws(
      () => new S3Backend(new ParsedUrl(`s3://${BUCKET}/p`), options as S3Options),
      (e: unknown) => e instanceof BackendError && e.code === ErrorCode.user_error,
    );
    // From the command line (-o endpont=...) the options are untyped strings.
    const untyped: GetBackendOptions = { endpont: "http://127.0.0.1:9" };
    await expectCode(getBackend(`s3://${BUCKET}/p`, untyped), ErrorCode.user_error);
  } finally {
    globalThis.fetch = realFetch;
    Deno.connect = realConnect;
  }
  assert.deepEqual(calls, [], "nothing was sent");
});

Deno.test({
  name: "s3:// passes the conformance suite against s3rver (multipart with 5 MiB parts)",
  ignore,
}, async (t) => {
  await withS3(async (s3) => {
    await keepFolder(s3, BUCKET, "conformance");
    await testConformance(t, `s3://${BUCKET}/conformance`, {
      clean: true,
      storeOptions: s3Options(s3.endpoint, { maxAttempts: 3, minTimeout: 10, maxTimeout: 50 }),
    });
  });
});

Deno.test(
  { name: "s3:///bucket/prefix stores under the same keys as s3://bucket/prefix", ignore },
  async () => {
    await withS3(async (s3, tmp) => {
      const src = await textFile(tmp, "src", "hello");
      await using three = await getBackend(`s3:///${BUCKET}/deep/folder`, s3Options(s3.endpoint));
      await using two = await getBackend(`s3://${BUCKET}/deep/folder/`, s3Options(s3.endpoint));
      await three.put(src, "a.txt");
      assert.deepEqual(await two.list(), ["a.txt"]);
      assert.deepEqual(await rawKeys(s3.endpoint), ["deep/folder/a.txt"]);
      await two.delete("a.txt");
      assert.deepEqual(await three.list(), []);
    });
  },
);

Deno.test({
  name: "list() pages through ListObjectsV2 and shows only direct children of the prefix",
  ignore,
}, async () => {
  await withProxy(undefined, async (_s3, proxy, tmp) => {
    const src = await textFile(tmp, "src");
    await using store = await getBackend(
      `s3://${BUCKET}/p`,
      s3Options(proxy.endpoint, { pageSize: 3 }),
    );
    const names = Array.from({ length: 8 }, (_, i) => `f${i}`);
    for (const n of names) await store.put(src, n);
    await using deeper = await getBackend(`s3://${BUCKET}/p/sub`, s3Options(proxy.endpoint));
    await deeper.put(src, "nested");
    proxy.requests.length = 0;
    assert.deepEqual((await store.list()).sort(), names);
    const pages = sent(proxy, "GET", "list-type=2");
    assert.equal(pages.length, 3, "8 keys in pages of 3 take 3 requests");
    assert.ok(
      pages.every((r) => r.url.includes("max-keys=3") && r.url.includes("delimiter=%2F")),
    );
    assert.ok(pages.slice(1).every((r) => r.url.includes("continuation-token=")));
  });
});

Deno.test({
  name: "list() decodes entities, character references and CDATA in keys exactly",
  ignore,
}, async () => {
  const page = (keys: string[]) =>
    '<?xml version="1.0" encoding="UTF-8"?>\n' +
    '<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">' +
    "<Name>stowage-test</Name><Prefix>x/</Prefix><MaxKeys>1000</MaxKeys>" +
    "<Delimiter>/</Delimiter><IsTruncated>false</IsTruncated>" +
    keys.map((k) => `<Contents><Key>${k}</Key><Size>1</Size></Contents>`).join("\n") +
    "<CommonPrefixes><Prefix>x/deeper/</Prefix></CommonPrefixes></ListBucketResult>";
  const listing: Fault = (req) => {
    const q = new URL(req.url, "http://x").searchParams;
    if (req.method !== "GET" || q.get("list-type") !== "2") return undefined;
    const keys = q.get("prefix") === "bad/" ? ["bad/no&nbsp;such entity"] : [
      "x/a&amp;b &lt;c&gt; &quot;d&quot; &apos;e&apos;",
      "x/cr&#13;lf&#xA;tab&#9;",
      "x/smile &#x1F600; &#233;",
      "x/<![CDATA[raw <&amp;> text]]>",
      "x/  spaced  ",
      "x/", // a folder marker
      "x/deeper/file",
    ];
    return { status: 200, headers: { "content-type": "application/xml" }, body: page(keys) };
  };
  await withProxy(listing, async (_s3, proxy) => {
    await using store = await getBackend(`s3://${BUCKET}/x`, s3Options(proxy.endpoint));
    assert.deepEqual(await store.list(), [
      `a&b <c> "d" 'e'`,
      "cr\rlf\ntab\t",
      "smile \u{1F600} \u00e9",
      "raw <&amp;> text",
      "  spaced  ",
    ]);
    await using bad = await getBackend(`s3://${BUCKET}/bad`, s3Options(proxy.endpoint));
    await expectCode(bad.list(), ErrorCode.backend_code_error);
  });
});

Deno.test({
  name: "_deleteList sends DeleteObjects in batches of 1000 and tolerates missing keys",
  ignore,
}, async () => {
  await withProxy(undefined, async (_s3, proxy, tmp) => {
    const src = await textFile(tmp, "src");
    await using store = await getBackend(`s3://${BUCKET}/del`, s3Options(proxy.endpoint));
    const real = ["r0", "r1", "r2", "r3"];
    for (const n of real) await store.put(src, n);
    // 2,100 names: the real ones spread over the three batches, the rest missing.
    const names = Array.from({ length: 2100 }, (_, i) => `missing-${i}`);
    names[5] = "r0";
    names[1500] = "r1";
    names[2099] = "r2";
    proxy.requests.length = 0;
    await store.backend._deleteList!(names, {
      signal: new AbortController().signal,
      progress: () => {},
    });
    const batches = sent(proxy, "POST", "delete");
    assert.equal(batches.length, 3);
    // DeleteObjects needs a body checksum: a Content-MD5, which every S3-compatible store takes.
    assert.ok(
      batches.every((r) => r.headers["content-md5"]),
      "DeleteObjects carries a Content-MD5",
    );
    assert.deepEqual(await store.list(), ["r3"]);
  });
});

Deno.test(
  {
    name: "a store without DeleteObjects (501 NotImplemented) gets per-key deletes instead",
    ignore,
  },
  async () => {
    const noBulkDelete: Fault = (req) =>
      req.method === "POST" && new URL(req.url).searchParams.has("delete")
        ? s3Error(501, "NotImplemented", "POST ?delete is not implemented for objects.")
        : undefined;
    await withProxy(noBulkDelete, async (_s3, proxy, tmp) => {
      const src = await textFile(tmp, "src");
      await using store = await getBackend(`gs://${BUCKET}/nd`, {
        ...s3Options(proxy.endpoint),
        accessKeyId: S3RVER_KEY,
      });
      for (const n of ["a", "b", "c"]) await store.put(src, n);
      await store.delete(["a", "b"]);
      await store.delete(["c", "missing"]);
      assert.deepEqual(await store.list(), []);
      const bulk = sent(proxy, "POST", "delete");
      assert.equal(bulk.length, 1, "DeleteObjects is not tried again after NotImplemented");
      assert.equal(sent(proxy, "DELETE").length, 4);
    });
  },
);

Deno.test({
  name: "a missing bucket fails with code 52 naming the bucket, after one attempt",
  ignore,
}, async () => {
  await withS3(async (s3) => {
    await using store = await getBackend(
      "s3://no-such-bucket-here/p",
      s3Options(s3.endpoint, { ...NO_WAIT, maxAttempts: 5, minTimeout: 1 }),
    );
    const err = await expectCode(store.list(), ErrorCode.backend_not_found);
    assert.equal(err.attempts, 1);
    assert.match(err.message, /bucket "no-such-bucket-here" does not exist/);
  });
});

Deno.test({ name: "createBucket=true creates a missing bucket on first use", ignore }, async () => {
  await withS3(async (s3, tmp) => {
    const src = await textFile(tmp, "src");
    await using store = await getBackend(
      "s3://made-on-demand/p",
      s3Options(s3.endpoint, { createBucket: "true" }),
    );
    await store.put(src, "a");
    assert.deepEqual(await store.list(), ["a"]);
  });
});

Deno.test({ name: "bad credentials fail with code 51 after one attempt", ignore }, async () => {
  // A wrong secret: s3rver does not verify signatures, so the proxy gives AWS's answer.
  const badSignature: Fault = (req) =>
    req.method === "GET"
      ? s3Error(
        403,
        "SignatureDoesNotMatch",
        "The request signature we calculated does not match the signature you provided.",
      )
      : undefined;
  await withProxy(badSignature, async (s3, proxy) => {
    const denied = async (endpoint: string, keys: GetBackendOptions, says: RegExp) => {
      await using store = await getBackend(
        `s3://${BUCKET}/p`,
        s3Options(endpoint, { ...keys, ...NO_WAIT, maxAttempts: 5 }),
      );
      const err = await expectCode(store.list(), ErrorCode.backend_permission_denied);
      assert.equal(err.attempts, 1);
      assert.match(err.message, says);
      return err;
    };
    // An unknown access key: s3rver answers 403 InvalidAccessKeyId.
    await denied(s3.endpoint, { accessKeyId: "NOSUCHKEY" }, /InvalidAccessKeyId/);
    const err = await denied(
      proxy.endpoint,
      { secretAccessKey: "wrong-secret-value" },
      /SignatureDoesNotMatch/,
    );
    assert.ok(!err.message.includes("wrong-secret-value"));
    assert.equal(sent(proxy, "GET").length, 1, "listed once");
  });
});

Deno.test(
  { name: "credentials and region come from a profile in the shared config files", ignore },
  async () => {
    await withS3(async (s3, tmp) => {
      const creds = await textFile(
        tmp,
        "credentials",
        `[default]\naws_access_key_id = WRONG\naws_secret_access_key = WRONG\n\n[backup]\naws_access_key_id = ${S3RVER_KEY}\naws_secret_access_key = ${S3RVER_KEY}\n`,
      );
      const config = await textFile(tmp, "config", "[profile backup]\nregion = eu-central-1\n");
      const env = {
        AWS_SHARED_CREDENTIALS_FILE: creds,
        AWS_CONFIG_FILE: config,
        AWS_REGION: undefined,
        AWS_DEFAULT_REGION: undefined,
      };
      await withEnv(env, async () => {
        const src = await textFile(tmp, "src");
        await using store = await getBackend(`s3://${BUCKET}/prof`, {
          endpoint: s3.endpoint,
          profile: "backup",
          maxAttempts: 1,
        });
        await store.put(src, "a");
        assert.deepEqual(await store.list(), ["a"]);
      });
    });
  },
);

Deno.test({
  name: "an aborted multipart put is aborted on the server and leaves no object",
  ignore,
}, async () => {
  await withProxy(undefined, async (s3, proxy, tmp) => {
    const src = join(tmp, "big");
    await randomFile(src, 12 * MiB);
    const ac = new AbortController();
    let started = false;
    await using store = await getBackend(
      `s3://${BUCKET}/mp`,
      s3Options(proxy.endpoint, {
        signal: ac.signal,
        onProgress: () => {
          // Abort once the parts are on their way.
          if (!started && proxy.requests.some((r) => r.url.includes("partNumber="))) {
            started = true;
            ac.abort();
          }
        },
      }),
    );
    await expectCode(store.put(src, "big.bin"), ErrorCode.backend_aborted);
    // AbortMultipartUpload was sent before put() returned.
    await assertMultipartAborted(s3, proxy);
  });
});

Deno.test({
  name: "a multipart put whose part fails is aborted on the server and leaves no object",
  ignore,
}, async () => {
  const secondPartFails: Fault = (req) =>
    req.method === "PUT" && new URL(req.url).searchParams.get("partNumber") === "2"
      ? {
        status: 500,
        body: "<Error><Code>InternalError</Code><Message>injected</Message></Error>",
      }
      : undefined;
  await withProxy(secondPartFails, async (s3, proxy, tmp) => {
    const src = join(tmp, "big");
    await randomFile(src, 11 * MiB);
    await using store = await getBackend(
      `s3://${BUCKET}/mp`,
      s3Options(proxy.endpoint, { concurrency: 1 }),
    );
    const err = await expectCode(store.put(src, "big.bin"), ErrorCode.backend_error);
    assert.match(err.message, /InternalError/);
    assert.equal(
      sent(proxy, "PUT", "partNumber=").length,
      2,
      "no part is sent after the failed one",
    );
    await assertMultipartAborted(s3, proxy);
  });
});

Deno.test(
  { name: "a large get is fetched as byte ranges pinned to one ETag", ignore },
  async () => {
    await withProxy(undefined, async (_s3, proxy, tmp) => {
      const src = join(tmp, "big");
      const dst = join(tmp, "out");
      await randomFile(src, 12 * MiB + 7);
      await using store = await getBackend(`s3://${BUCKET}/r`, s3Options(proxy.endpoint));
      await store.put(src, "big.bin");
      proxy.requests.length = 0;
      await store.get("big.bin", dst);
      assert.deepEqual(await Deno.readFile(dst), await Deno.readFile(src));
      const gets = sent(proxy, "GET").filter((r) => r.headers["range"]);
      assert.deepEqual(gets.map((r) => r.headers["range"]).sort(), [
        `bytes=0-${5 * MiB - 1}`,
        `bytes=${10 * MiB}-${12 * MiB + 6}`,
        `bytes=${5 * MiB}-${10 * MiB - 1}`,
      ]);
      assert.ok(
        gets.filter((r) => r.headers["if-match"]).length === 2,
        "later ranges carry If-Match",
      );
    });
  },
);

Deno.test(
  { name: "a cancelled get stops the download and leaves no local file", ignore },
  async () => {
    await withS3(async (s3, tmp) => {
      const src = join(tmp, "big");
      await randomFile(src, 12 * MiB);
      await using store = await getBackend(`s3://${BUCKET}/g`, s3Options(s3.endpoint));
      await store.put(src, "big.bin");
      const ac = new AbortController();
      let got = 0;
      await using reader = await getBackend(
        `s3://${BUCKET}/g`,
        s3Options(s3.endpoint, {
          signal: ac.signal,
          onProgress: (e: { operation: string; bytes: number }) => {
            if (e.operation !== "get") return;
            got += e.bytes;
            if (got > MiB) ac.abort();
          },
        }),
      );
      await expectCode(reader.get("big.bin", join(tmp, "out")), ErrorCode.backend_aborted);
      assert.ok(got < 12 * MiB, `stopped after ${got} bytes`);
      assert.deepEqual([...Deno.readDirSync(tmp)].map((e) => e.name).sort(), ["big"]);
    });
  },
);

Deno.test(
  { name: "storageClass and sse are sent with single and multipart puts", ignore },
  async () => {
    await withProxy(undefined, async (s3, proxy, tmp) => {
      const small = await textFile(tmp, "small");
      const big = join(tmp, "big");
      await randomFile(big, 6 * MiB);
      await using store = await getBackend(
        `s3://${BUCKET}/sc`,
        s3Options(proxy.endpoint, { storageClass: "standard_ia", sse: "AES256" }),
      );
      await store.put(small, "small");
      await store.put(big, "big");
      const puts = [
        ...sent(proxy, "PUT").filter((r) => !r.url.includes("partNumber=")),
        ...sent(proxy, "POST", "uploads"),
      ];
      assert.equal(puts.length, 2);
      for (const r of puts) {
        assert.equal(r.headers["x-amz-storage-class"], "STANDARD_IA");
        assert.equal(r.headers["x-amz-server-side-encryption"], "AES256");
      }
      const parts = proxy.requests.filter((r) => r.url.includes("partNumber="));
      assert.equal(parts.length, 2);
      assert.ok(parts.every((r) => r.headers["content-md5"]), "every part carries a Content-MD5");
      const head = await withRawClient(
        s3.endpoint,
        (c) => c.send(new HeadObjectCommand({ Bucket: BUCKET, Key: "sc/small" })),
      );
      assert.equal(head.StorageClass, "STANDARD_IA");
    });
  },
);

Deno.test({
  name: "gs:// works against an S3-compatible endpoint with GS_* keys from the environment",
  ignore,
}, async () => {
  await withProxy(undefined, async (s3, proxy, tmp) => {
    const keys = { GS_ACCESS_KEY_ID: S3RVER_KEY, GS_SECRET_ACCESS_KEY: S3RVER_KEY };
    await withEnv(keys, async () => {
      const src = await textFile(tmp, "src", "via gs");
      const dst = join(tmp, "dst");
      await using store = await getBackend(`gs://${BUCKET}/g`, {
        endpoint: proxy.endpoint,
        maxAttempts: 1,
      });
      await store.put(src, "file");
      assert.deepEqual(await store.list(), ["file"]);
      await store.get("file", dst);
      assert.equal(await Deno.readTextFile(dst), "via gs");
      await store.delete("file");
      assert.deepEqual(await rawKeys(s3.endpoint), []);
      assert.ok(
        proxy.requests.every((r) => r.url.startsWith(`/${BUCKET}`)),
        "path-style addressing",
      );
      assert.ok(
        proxy.requests.every((r) =>
          r.headers["authorization"]?.includes(`Credential=${S3RVER_KEY}/`)
        ),
      );
    });
    await withEnv({ GS_ACCESS_KEY_ID: undefined, GS_SECRET_ACCESS_KEY: undefined }, async () => {
      await using nokeys = await getBackend(`gs://${BUCKET}/g`, {
        endpoint: proxy.endpoint,
        maxAttempts: 3,
      });
      const err = await expectCode(nokeys.list(), ErrorCode.backend_permission_denied);
      assert.match(err.message, /GS_ACCESS_KEY_ID/);
    });
  });
});

Deno.test({
  name: "503 SlowDown with Retry-After is retried after at least the delay the server asked for",
  ignore,
}, async () => {
  const slowDownOnce: Fault = (_req, i) =>
    i === 0
      ? s3Error(503, "SlowDown", "Please reduce your request rate.", { "retry-after": "2" })
      : undefined;
  await withProxy(slowDownOnce, async (_s3, proxy, tmp) => {
    const src = await textFile(tmp, "src");
    const waits: number[] = [];
    await using store = await getBackend(
      `s3://${BUCKET}/slow`,
      s3Options(proxy.endpoint, {
        maxAttempts: 3,
        minTimeout: 1,
        maxTimeout: 10,
        sleep: (ms: number) => {
          waits.push(ms);
          return Promise.resolve();
        },
      }),
    );
    await store.put(src, "a");
    assert.equal(proxy.requests[0]?.status, 503);
    assert.equal(waits.length, 1);
    assert.ok(waits[0]! >= 2000, `waited ${waits[0]} ms`);
    assert.deepEqual(await store.list(), ["a"]);
  });
});

Deno.test({
  name: "get() of a missing name fails with 52 once and a refused connection is retried as 38",
  ignore,
}, async () => {
  await withS3(async (s3, tmp) => {
    await using store = await getBackend(
      `s3://${BUCKET}/p`,
      s3Options(s3.endpoint, { ...NO_WAIT, maxAttempts: 3 }),
    );
    const err = await expectCode(store.get("nope", join(tmp, "nope")), ErrorCode.backend_not_found);
    assert.equal(err.attempts, 1);
  });
  const closed = `http://127.0.0.1:${freePort()}`; // nothing listens there
  await using dead = await getBackend(
    `s3://${BUCKET}/p`,
    s3Options(closed, { ...NO_WAIT, maxAttempts: 2 }),
  );
  const err = await expectCode(dead.list(), ErrorCode.connection_failed);
  assert.equal(err.attempts, 2);
});

Deno.test({
  name: "write() of a stream that fits one part is one PutObject; a longer one goes up in parts",
  ignore,
}, async () => {
  await withProxy(undefined, async (_s3, proxy) => {
    await using store = await getBackend(`s3://${BUCKET}/w`, s3Options(proxy.endpoint));
    const data = randomBytes(12 * MiB + 7);
    const chunks = async function* () {
      for (let i = 0; i < data.length; i += 300_000) yield data.slice(i, i + 300_000);
    };
    const uploads = () => proxy.requests.filter((r) => r.url.includes("uploads")).length;
    proxy.requests.length = 0;
    await store.write("small", data.slice(0, 300_000));
    await store.write("exact", data.subarray(0, 5 * MiB), { size: 5 * MiB });
    assert.equal(uploads(), 0);
    assert.equal(sent(proxy, "PUT").length, 2, "two PutObjects");
    proxy.requests.length = 0;
    await store.write("big", chunks());
    const parts = proxy.requests.filter((r) => r.url.includes("partNumber="));
    assert.equal(uploads(), 1);
    assert.equal(parts.length, 3, "12 MiB + 7 in parts of 5 MiB");
    assert.ok(parts.every((r) => r.headers["content-md5"]), "every part carries a Content-MD5");
    assert.deepEqual(
      parts.map((r) => Number(r.headers["content-length"])),
      [5 * MiB, 5 * MiB, 2 * MiB + 7],
    );
    assert.deepEqual(await store.readBytes("big"), data);
    assert.deepEqual(await store.readBytes("exact"), data.subarray(0, 5 * MiB));
    assert.deepEqual((await store.list()).sort(), ["big", "exact", "small"]);
  });
});

Deno.test({
  name: "a cancelled multipart write() aborts the upload on the server before it returns",
  ignore,
}, async () => {
  await withProxy(undefined, async (s3, proxy) => {
    const ac = new AbortController();
    await using store = await getBackend(`s3://${BUCKET}/wa`, s3Options(proxy.endpoint));
    const source = async function* () {
      for (let i = 0; i < 8; i++) {
        if (proxy.requests.some((r) => r.url.includes("partNumber="))) ac.abort();
        yield new Uint8Array(2 * MiB);
      }
    };
    await expectCode(
      store.write("gone", source(), { signal: ac.signal }),
      ErrorCode.backend_aborted,
    );
    // AbortMultipartUpload was sent before write() returned.
    await assertMultipartAborted(s3, proxy);
  });
});

Deno.test({
  name:
    "a validated put needs no HeadObject (the upload's answer gave the size); later queries ask",
  ignore,
}, async () => {
  await withProxy(undefined, async (_s3, proxy, tmp) => {
    const small = await textFile(tmp, "small", "hello");
    const big = join(tmp, "big");
    await randomFile(big, 6 * MiB);
    await using store = await getBackend(`s3://${BUCKET}/v`, s3Options(proxy.endpoint));
    await store.put(small, "small", { validate: true });
    await store.put(big, "big", { validate: true });
    const heads = () => sent(proxy, "HEAD").filter((r) => r.url !== `/${BUCKET}`).length;
    assert.equal(heads(), 0, "no HeadObject after the puts");
    assert.deepEqual({ ...await store.queryInfo(["small", "big", "none"]) }, {
      small: { size: 5 },
      big: { size: 6 * MiB },
      none: { size: -1 },
    });
    assert.equal(heads(), 3, "a later query asks the store");
    // A delete through the store forgets what the upload said.
    await store.put(small, "again");
    await store.delete("again");
    assert.deepEqual({ ...await store.queryInfo("again") }, { again: { size: -1 } });
  });
});

Deno.test({ name: "read() asks the store for exactly the range wanted", ignore }, async () => {
  await withProxy(undefined, async (_s3, proxy) => {
    await using store = await getBackend(`s3://${BUCKET}/rr`, s3Options(proxy.endpoint));
    const data = new Uint8Array(100_000).map((_, i) => i % 251);
    await store.write("f", data);
    proxy.requests.length = 0;
    assert.deepEqual(
      await store.readBytes("f", { offset: 1000, length: 5 }),
      data.slice(1000, 1005),
    );
    assert.deepEqual(await store.readBytes("f", { offset: 99_990 }), data.slice(99_990));
    assert.deepEqual(await store.readBytes("f", { offset: 200_000 }), new Uint8Array(0));
    assert.deepEqual(
      sent(proxy, "GET").map((r) => r.headers["range"]),
      ["bytes=1000-1004", "bytes=99990-", "bytes=200000-"],
    );
  });
});

Deno.test({
  name: "a file up to uploadCutoff goes up in one PutObject; a larger one in parts",
  ignore,
}, async () => {
  await withProxy(undefined, async (_s3, proxy, tmp) => {
    const src = join(tmp, "twelve");
    const data = await randomFile(src, 12 * MiB);
    await using store = await getBackend(
      `s3://${BUCKET}/cutoff`,
      s3Options(proxy.endpoint, { uploadCutoff: "16M" }),
    );
    await store.put(src, "one", { validate: true });
    assert.equal(sent(proxy, "PUT", "partNumber=").length, 0, "no parts below the cutoff");
    assert.equal(sent(proxy, "PUT", "/cutoff/one").length, 1);
    await using small = await getBackend(
      `s3://${BUCKET}/cutoff`,
      s3Options(proxy.endpoint, { uploadCutoff: "8M" }),
    );
    await small.put(src, "parts", { validate: true });
    assert.equal(sent(proxy, "PUT", "partNumber=").length, 3, "12 MiB in 5 MiB parts");
    const back = join(tmp, "back");
    await store.get("one", back);
    assert.deepEqual(await Deno.readFile(back), data);
  });
});
