/**
 * azure:// against a real Azurite blob service on 127.0.0.1 (one per test,
 * ~0.6 s to start), plus a loopback fault-injecting TCP proxy for the
 * Retry-After case.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import {
  BlobSASPermissions,
  BlobServiceClient,
  ContainerSASPermissions,
  generateBlobSASQueryParameters,
  StorageSharedKeyCredential,
} from "@azure/storage-blob";
import { BackendError, ErrorCode } from "../core/errors.ts";
import { getBackend, type GetBackendOptions } from "../registry.ts";
import type { OperationContext } from "../core/backend.ts";
import { testConformance } from "../testing/mod.ts";
import { AzureBackend, type AzureOptions } from "../backends/azure/mod.ts";
import { ParsedUrl } from "../core/url.ts";
import {
  expectCode,
  type FakeListener,
  fakeListener,
  randomFile,
  textFile,
  withTempDir,
} from "./_helpers.ts";
import { freePort, requireProgram } from "./servers/common.ts";
import { makeTestCertificates } from "./servers/tls.ts";
import {
  accountAt,
  type Azurite,
  AZURITE_ACCOUNT,
  AZURITE_KEY,
  haveAzurite,
  startAzurite,
  withAzurite,
} from "./servers/azurite.ts";

const available = (() => {
  if (haveAzurite()) return true;
  const line = "azurite not installed: run `deno task test` (it installs Azurite with npm)";
  if (Deno.env.get("CI")) throw new Error(line);
  console.log(`SKIP ${line}`);
  return false;
})();

const AZURE_ENV = [
  "AZURE_CONNECTION_STRING",
  "AZURE_STORAGE_CONNECTION_STRING",
  "AZURE_STORAGE_ACCOUNT",
  "AZURE_ACCOUNT_NAME",
  "AZURE_STORAGE_KEY",
  "AZURE_ACCOUNT_KEY",
  "AZURE_STORAGE_SAS_TOKEN",
  "AZURE_SHARED_ACCESS_SIGNATURE",
];

/** Fast, deterministic wrapper settings: no real backoff sleeps. */
function fast(extra: GetBackendOptions = {}): GetBackendOptions {
  return { minTimeout: 1, maxTimeout: 5, sleep: () => Promise.resolve(), ...extra };
}

/** A store on `azure://path` of Azurite `az`, with {@linkcode fast} settings and `extra`. */
function open(az: Azurite, path: string, extra: GetBackendOptions = {}) {
  return getBackend(`azure://${path}`, fast({ connectionString: az.connectionString, ...extra }));
}

/** Settings for Azurite `az` with 64 KiB blocks, `concurrency` at once. */
function smallBlocks(az: Azurite, concurrency: number): GetBackendOptions {
  return fast({ connectionString: az.connectionString, blockSize: "64K", concurrency });
}

/** A store on `url` whose operations abort themselves at their first progress report. */
function selfAborting(url: string, options: GetBackendOptions) {
  const ac = new AbortController();
  return getBackend(url, {
    ...options,
    maxAttempts: 1,
    signal: ac.signal,
    onProgress: () => ac.abort(),
  });
}

/** A SAS for the development account, valid for an hour (a container's, or with `blobName` a blob's). */
function sasToken(
  options: { containerName: string; blobName?: string; permissions: string },
): string {
  const { permissions, ...target } = options;
  return generateBlobSASQueryParameters({
    ...target,
    permissions: target.blobName
      ? BlobSASPermissions.parse(permissions)
      : ContainerSASPermissions.parse(permissions),
    expiresOn: new Date(Date.now() + 3600_000),
  }, new StorageSharedKeyCredential(AZURITE_ACCOUNT, AZURITE_KEY)).toString();
}

/** A `sleep` option that records each wait in `delays` and does not wait. */
function recordSleep(delays: number[]): (ms: number) => Promise<void> {
  return (ms) => {
    delays.push(ms);
    return Promise.resolve();
  };
}

/** A raw SDK client for checks the store does not expose (tier, properties). */
function sdk(az: Azurite): BlobServiceClient {
  return BlobServiceClient.fromConnectionString(az.connectionString, {
    retryOptions: { maxTries: 1 },
  });
}

Deno.test({
  name: "azure:// passes the conformance suite on Azurite (large files in several blocks)",
  ignore: !available,
  async fn(t) {
    const az = await startAzurite();
    try {
      await testConformance(t, "azure://conformance/host1/daily", {
        clean: true,
        manyFiles: 1200,
        storeOptions: {
          connectionString: az.connectionString,
          blockSize: 256 * 1024,
          concurrency: 3,
          pageSize: 500,
        },
      });
    } finally {
      await az.stop();
    }
  },
});

Deno.test("a bad container name is refused with code 23 before any I/O", async () => {
  const bad = ["ab", "a".repeat(64), "Upper", "a--b", "-ab", "ab-", "a_b", "a.b"];
  for (const name of bad) {
    const err = await expectCode(
      getBackend(`azure://${name}/x`, { connectionString: "UseDevelopmentStorage=true" }),
      ErrorCode.user_error,
    );
    assert.match(err.message, /container/, name);
  }
  await expectCode(
    getBackend("azure://", { connectionString: "UseDevelopmentStorage=true" }),
    ErrorCode.user_error,
  );
  // Valid ones parse, and the prefix is normalised to end with "/".
  const b = new AzureBackend(new ParsedUrl("azure://a-1b/x//y/"), {
    connectionString: "UseDevelopmentStorage=true",
  });
  assert.equal(b.container, "a-1b");
  assert.equal(b.prefix, "x/y/");
  assert.equal(
    new AzureBackend(new ParsedUrl("azure://abc"), { accountName: "a", sasToken: "sv=x" }).prefix,
    "",
  );
});

Deno.test("a misspelled option (blocksize) is refused with code 23 before any request", async () => {
  // Whatever would be sent goes to this listener; it must see no connection.
  let connections = 0;
  const listener = fakeListener((conn) => {
    connections++;
    conn.close();
  });
  try {
    const options: GetBackendOptions = {
      ...accountAt(listener.port),
      blocksize: "64K",
      maxAttempts: 1,
    };
    const err = await expectCode(getBackend("azure://typo/p", options), ErrorCode.user_error);
    assert.match(err.message, /"blocksize"/);
    assert.match(err.message, /did you mean "blockSize"\?/);
    assert.ok(!err.message.includes(AZURITE_KEY));
    assert.throws(
      () => new AzureBackend(new ParsedUrl("azure://typo/p"), options as AzureOptions),
      (e: unknown) => e instanceof BackendError && e.code === ErrorCode.user_error,
    );
  } finally {
    await listener.close();
  }
  assert.equal(connections, 0, "nothing was sent");
});

Deno.test({
  name: "missing credentials are refused with code 23 naming what to set",
  ignore: AZURE_ENV.some((n) => Deno.env.get(n)),
  async fn() {
    const err = await expectCode(getBackend("azure://backups"), ErrorCode.user_error);
    assert.match(err.message, /AZURE_CONNECTION_STRING/);
    assert.match(err.message, /AZURE_STORAGE_ACCOUNT/);
    const noAccount = await expectCode(
      getBackend("azure://backups", { accountKey: "c2VjcmV0" }),
      ErrorCode.user_error,
    );
    assert.doesNotMatch(noAccount.message, /c2VjcmV0/);
    // Untyped, as from the command line (-o tier=Frozen).
    const frozen: GetBackendOptions = {
      connectionString: "UseDevelopmentStorage=true",
      tier: "Frozen",
    };
    await expectCode(getBackend("azure://backups", frozen), ErrorCode.user_error);
  },
});

Deno.test({
  name: "a wrong account key fails with code 51 after one attempt and never shows the key",
  ignore: !available,
  async fn() {
    await withAzurite(async (az, tmp) => {
      const wrongKey = btoa("definitely-not-the-key-0123456789");
      await using store = await getBackend(
        "azure://creds",
        fast({
          accountName: AZURITE_ACCOUNT,
          accountKey: wrongKey,
          endpoint: az.endpoint,
          maxAttempts: 5,
        }),
      );
      const src = await textFile(tmp, "f");
      const calls = [
        () => store.put(src, "f"),
        () => store.list(),
        () => store.get("f", join(tmp, "g")),
      ];
      for (const call of calls) {
        const err = await expectCode(call(), ErrorCode.backend_permission_denied);
        assert.equal(err.attempts ?? 1, 1);
        assert.ok(!err.message.includes(wrongKey));
      }
      // The right key by options works.
      await using good = await getBackend(
        "azure://creds",
        fast({
          accountName: AZURITE_ACCOUNT,
          accountKey: AZURITE_KEY,
          endpoint: `${az.endpoint}/`,
        }),
      );
      await good.put(src, "f");
      assert.deepEqual(await good.list(), ["f"]);
    });
  },
});

Deno.test({
  name:
    "a container SAS token works for put, list, get, query and batch delete, and is never shown",
  ignore: !available,
  async fn() {
    await withAzurite(async (az, tmp) => {
      await sdk(az).getContainerClient("sas").create();
      const sas = sasToken({ containerName: "sas", permissions: "racwdl" });
      await using store = await getBackend(
        "azure://sas/p",
        fast({ sasToken: `?${sas}`, endpoint: az.endpoint }),
      );
      const src = await textFile(tmp, "f", "hello");
      await store.put(src, "a");
      await store.put(src, "b");
      assert.deepEqual((await store.list()).sort(), ["a", "b"]);
      await store.get("a", join(tmp, "got"));
      assert.equal(await Deno.readTextFile(join(tmp, "got")), "hello");
      assert.deepEqual({ ...await store.queryInfo(["a", "zz"]) }, {
        a: { size: 5 },
        zz: { size: -1 },
      });
      await store.delete(["a", "missing", "b"]);
      assert.deepEqual(await store.list(), []);
      const sig = new URLSearchParams(sas).get("sig")!;
      assert.ok(!Deno.inspect(store.backend).includes(sig));
      await using bad = await getBackend(
        "azure://sas/p",
        fast({ sasToken: sas.replace(/sig=[^&]+/, "sig=AAAA"), endpoint: az.endpoint }),
      );
      const denied = await expectCode(bad.list(), ErrorCode.backend_permission_denied);
      assert.ok(!denied.message.includes("AAAA"));
    });
  },
});

Deno.test({
  name: "listing walks several pages and returns only the direct children of the prefix",
  ignore: !available,
  async fn() {
    await withAzurite(async (az, tmp) => {
      const opts = fast({ connectionString: az.connectionString, pageSize: 3 });
      await using store = await getBackend("azure://pages/dir", opts);
      await using deeper = await getBackend("azure://pages/dir/sub", opts);
      await using other = await getBackend("azure://pages/dirx", opts);
      const src = await textFile(tmp, "f");
      const names = Array.from({ length: 8 }, (_, i) => `n${i}`);
      for (const n of names) await store.put(src, n);
      await deeper.put(src, "nested");
      await other.put(src, "sibling");
      let pages = 0;
      const ctx: OperationContext = {
        signal: new AbortController().signal,
        progress: () => pages++,
      };
      const listed = await store.backend._list(ctx);
      assert.deepEqual(listed.sort(), names);
      assert.ok(pages >= 3, `listed in ${pages} pages, expected at least 3`);
      assert.deepEqual(await deeper.list(), ["nested"]);
      // A folder that holds nothing lists as empty.
      await using empty = await getBackend("azure://pages/nothing-here", opts);
      assert.deepEqual(await empty.list(), []);
    });
  },
});

Deno.test({
  name: "a container that does not exist lists as code 52 naming it; the first put creates it",
  ignore: !available,
  async fn() {
    await withAzurite(async (az, tmp) => {
      const opts = fast({ connectionString: az.connectionString, maxAttempts: 5 });
      await using missing = await getBackend("azure://no-such-container/dir", opts);
      const err = await expectCode(missing.list(), ErrorCode.backend_not_found);
      assert.equal(err.attempts ?? 1, 1);
      assert.match(err.message, /container "no-such-container" does not exist/);
      const src = await textFile(tmp, "f");
      await missing.put(src, "first");
      assert.deepEqual(await missing.list(), ["first"]);
      // A streamed write creates it too.
      await using other = await getBackend("azure://another-new-one", opts);
      await other.write("streamed", "hello");
      assert.equal(await other.readText("streamed"), "hello");
    });
  },
});

Deno.test({
  name: "the tier option is applied on upload, in one request and in blocks",
  ignore: !available,
  async fn() {
    await withAzurite(async (az, tmp) => {
      await using store = await open(az, "tiers", { tier: "cool", blockSize: "64K" });
      const small = await textFile(tmp, "small");
      const large = join(tmp, "large");
      await randomFile(large, 300 * 1024);
      await store.put(small, "small");
      await store.put(large, "large");
      const c = sdk(az).getContainerClient("tiers");
      assert.equal((await c.getBlobClient("small").getProperties()).accessTier, "Cool");
      const props = await c.getBlockBlobClient("large").getProperties();
      assert.equal(props.accessTier, "Cool");
      assert.equal(props.contentLength, 300 * 1024);
      const blocks = await c.getBlockBlobClient("large").getBlockList("committed");
      assert.equal(blocks.committedBlocks?.length, 5);
    });
  },
});

Deno.test({
  name: "an aborted block upload leaves nothing new visible: no blob, or the old content",
  ignore: !available,
  async fn() {
    await withAzurite(async (az, tmp) => {
      const opts = smallBlocks(az, 2);
      await using store = await getBackend("azure://aborts", opts);
      const big = join(tmp, "big");
      await randomFile(big, 1024 * 1024);
      const old = await textFile(tmp, "old", "old content");
      await store.put(old, "kept");
      for (const name of ["fresh", "kept"]) {
        await using aborting = await selfAborting("azure://aborts", opts);
        await expectCode(aborting.put(big, name), ErrorCode.backend_aborted);
      }
      assert.deepEqual(await store.list(), ["kept"]);
      await store.get("kept", join(tmp, "back"));
      assert.equal(await Deno.readTextFile(join(tmp, "back")), "old content");
      const fresh = sdk(az).getContainerClient("aborts").getBlobClient("fresh");
      assert.equal(await fresh.exists(), false);
    });
  },
});

Deno.test({
  name: "a get of a missing name fails with code 52 after one attempt",
  ignore: !available,
  async fn() {
    await withAzurite(async (az, tmp) => {
      await using store = await open(az, "missing", { maxAttempts: 5 });
      const err = await expectCode(
        store.get("nope", join(tmp, "nope")),
        ErrorCode.backend_not_found,
      );
      assert.equal(err.attempts ?? 1, 1);
    });
  },
});

Deno.test({
  name: "a ranged get is pinned to one version: a blob replaced mid-download fails that attempt",
  ignore: !available,
  async fn() {
    await withAzurite(async (az, tmp) => {
      const opts = smallBlocks(az, 1);
      await using store = await getBackend("azure://pinned", opts);
      const src = join(tmp, "src");
      await randomFile(src, 512 * 1024);
      await store.put(src, "f");
      const sas = sasToken({ containerName: "pinned", blobName: "f", permissions: "cw" });
      let replaced = false;
      const ctx: OperationContext = {
        signal: new AbortController().signal,
        progress: () => {
          if (replaced) return;
          replaced = true;
          // A child process run synchronously: the new version is in place
          // before the next range is asked for.
          const out = new Deno.Command(Deno.execPath(), {
            args: [
              "eval",
              `const r = await fetch(Deno.env.get("U"), { method: "PUT", ` +
              `headers: { "x-ms-blob-type": "BlockBlob" }, body: new Uint8Array(300 * 1024).fill(7) }); ` +
              `await r.body?.cancel(); if (!r.ok) throw new Error(String(r.status));`,
            ],
            env: { U: `${az.endpoint}/pinned/f?${sas}` },
            stdout: "null",
            stderr: "piped",
          }).outputSync();
          assert.ok(out.success, new TextDecoder().decode(out.stderr));
        },
      };
      const err = await expectCode(
        store.backend._get("f", join(tmp, "got"), ctx),
        ErrorCode.backend_error,
      );
      assert.match(err.message, /changed/);
      // The next attempt reads the new version whole.
      await store.get("f", join(tmp, "got"));
      const got = await Deno.readFile(join(tmp, "got"));
      assert.equal(got.length, 300 * 1024);
      assert.ok(got.every((b) => b === 7));
      // An abort during a ranged get ends every range with code 61.
      await using aborting = await selfAborting("azure://pinned", { ...opts, concurrency: 3 });
      await expectCode(
        aborting.get("f", join(tmp, "aborted")),
        ErrorCode.backend_aborted,
      );
    });
  },
});

Deno.test({
  name: "_deleteList deletes 300 names in batches, tolerating missing ones",
  ignore: !available,
  async fn() {
    await withAzurite(async (az, tmp) => {
      await using store = await open(az, "batch/x");
      const src = await textFile(tmp, "f");
      const names = Array.from({ length: 300 }, (_, i) => `b${String(i).padStart(3, "0")} #?%`);
      let next = 0;
      await Promise.all(Array.from({ length: 8 }, async () => {
        while (next < names.length) await store.put(src, names[next++]!);
      }));
      assert.equal((await store.list()).length, 300);
      await store.backend._deleteList!([...names.slice(0, 150), "missing-1", ...names.slice(150)]);
      assert.deepEqual(await store.list(), []);
      // Without batches: parallel single deletes.
      await using single = await open(az, "batch/x", { batchDelete: "false" });
      for (const n of names.slice(0, 20)) await single.put(src, n);
      await single.backend._deleteList!(["missing-2", ...names.slice(0, 20)]);
      assert.deepEqual(await single.list(), []);
    });
  },
});

Deno.test({
  name: "a blob with snapshots is not deleted unless deleteSnapshots is set (code 23 says so)",
  ignore: !available,
  async fn() {
    await withAzurite(async (az, tmp) => {
      await using store = await open(az, "snaps");
      const src = await textFile(tmp, "f");
      await store.put(src, "snapped");
      await store.put(src, "plain");
      await sdk(az).getContainerClient("snaps").getBlobClient("snapped").createSnapshot();
      for (
        const call of [() => store.delete("snapped"), () => store.delete(["plain", "snapped"])]
      ) {
        const err = await expectCode(call(), ErrorCode.user_error);
        assert.match(err.message, /deleteSnapshots=true/);
      }
      assert.deepEqual(await store.list(), ["snapped"]);
      await using purge = await open(az, "snaps", { deleteSnapshots: "true" });
      await purge.delete(["snapped"]);
      assert.deepEqual(await purge.list(), []);
    });
  },
});

Deno.test("a refused connection is retried (code 38) and its message shows no SAS", async () => {
  const port = freePort();
  const delays: number[] = [];
  await using store = await getBackend("azure://refused", {
    ...accountAt(port),
    maxAttempts: 3,
    sleep: recordSleep(delays),
  });
  const err = await expectCode(store.list(), ErrorCode.connection_failed);
  assert.equal(err.attempts, 3);
  assert.equal(delays.length, 2);
  // Downloads use a locally signed SAS URL: the failure never shows it.
  await withTempDir(async (tmp) => {
    const getErr = await expectCode(store.get("f", join(tmp, "f")), ErrorCode.connection_failed);
    assert.equal(getErr.attempts, 3);
    assert.doesNotMatch(getErr.message, /sig=|127\.0\.0\.1:\d+\/devstoreaccount1\/refused/);
  });
});

Deno.test({
  name:
    "a 503 with Retry-After: 2 is retried after at least 2 s (injected sleep), on every HTTP path",
  ignore: !available,
  async fn() {
    await withAzurite(async (az) => {
      await sdk(az).getContainerClient("retry-after").create();
      const proxy = faultProxy(az.port);
      const src = await Deno.makeTempFile();
      try {
        const delays: number[] = [];
        await using store = await getBackend("azure://retry-after", {
          ...accountAt(proxy.port),
          maxAttempts: 3,
          minTimeout: 10,
          staleAfter: 0,
          sleep: recordSleep(delays),
        });
        const waited = (n: number) => {
          assert.equal(proxy.faults(), n);
          assert.equal(delays.length, n);
          assert.ok(delays[n - 1]! >= 2000, `waited ${delays[n - 1]} ms`);
        };
        assert.deepEqual(await store.list(), []); // fetch
        waited(1);
        // The upload client (HTTP/1.1 on Deno sockets): its first request opens a connection.
        proxy.arm();
        await Deno.writeTextFile(src, "x");
        await store.put(src, "f");
        waited(2);
        await store.put(src, "g");
        // The SDK's Blob Batch request (node:http), on a fresh connection.
        await store.backend._retryCleanup?.();
        proxy.arm();
        await store.delete(["f", "g"]);
        waited(3);
        assert.deepEqual(await store.list(), []);
        await store.close();
      } finally {
        await proxy.close();
        await Deno.remove(src).catch(() => {});
      }
    });
  },
});

Deno.test({
  name: "an untrusted TLS certificate fails with code 60 after one attempt, for every operation",
  ignore: !requireProgram("openssl", "openssl"),
  async fn() {
    await withTempDir(async (dir) => {
      // A certificate signed by a test CA nobody trusts.
      const certs = await makeTestCertificates(dir);
      await using server = Deno.serve({
        hostname: "127.0.0.1",
        port: 0,
        cert: await Deno.readTextFile(certs.cert),
        key: await Deno.readTextFile(certs.key),
        onListen() {},
        onError: () => new Response("error", { status: 500 }),
      }, () => new Response("<EnumerationResults/>", { status: 200 }));
      await using store = await getBackend(
        "azure://tls",
        fast({
          ...accountAt(server.addr.port, "https"),
          maxAttempts: 4,
        }),
      );
      const src = await textFile(dir, "src");
      const calls = [
        () => store.list(), // fetch
        () => store.get("f", join(dir, "f")), // fetch
        () => store.put(src, "f"), // the HTTP/1.1 upload client
        () => store.queryInfo("f"), // fetch (HEAD)
        () => store.delete(["f", "g"]), // the SDK over node:https (Blob Batch)
      ];
      for (const call of calls) {
        const err = await expectCode(call(), ErrorCode.backend_untrusted_host);
        assert.equal(err.attempts ?? 1, 1);
      }
    }, "stowage-azure-tls-");
  },
});

/**
 * A loopback TCP proxy in front of Azurite: the first connection gets
 * `503 Retry-After: 2` to its first request (again after `arm()`); every
 * other one is forwarded.
 */
function faultProxy(target: number): FakeListener & { faults(): number; arm(): void } {
  let faults = 0;
  let armed = true;
  const listener = fakeListener(async (conn) => {
    if (armed) {
      armed = false;
      faults++;
      const buf = new Uint8Array(65536);
      let head = "";
      for (let i = 0; i < 100 && !head.includes("\r\n\r\n"); i++) {
        const n = await conn.read(buf);
        if (n === null) break;
        head += new TextDecoder().decode(buf.subarray(0, n));
      }
      await conn.write(new TextEncoder().encode(
        "HTTP/1.1 503 Service Unavailable\r\nRetry-After: 2\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
      ));
      conn.close();
      return;
    }
    const up = await Deno.connect({ hostname: "127.0.0.1", port: target });
    try {
      await Promise.allSettled([
        conn.readable.pipeTo(up.writable),
        up.readable.pipeTo(conn.writable),
      ]);
    } finally {
      for (const c of [conn, up]) {
        try {
          c.close();
        } catch {
          // already closed
        }
      }
    }
  });
  return {
    ...listener,
    faults: () => faults,
    arm: () => {
      armed = true;
    },
  };
}
