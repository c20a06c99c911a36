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
import { freePort, requireProgram, run } from "./servers/common.ts";
import {
  type Azurite,
  AZURITE_ACCOUNT,
  AZURITE_KEY,
  haveAzurite,
  startAzurite,
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

async function withAzurite(fn: (az: Azurite, tmp: string) => Promise<void>): Promise<void> {
  const az = await startAzurite();
  const tmp = await Deno.makeTempDir({ prefix: "stowage-azure-test-" });
  try {
    await fn(az, tmp);
  } finally {
    await Deno.remove(tmp, { recursive: true }).catch(() => {});
    await az.stop();
  }
}

/** A raw SDK client for checks the store does not expose (tier, properties). */
function sdk(az: Azurite): BlobServiceClient {
  return BlobServiceClient.fromConnectionString(az.connectionString, {
    retryOptions: { maxTries: 1 },
  });
}

async function rejects(p: Promise<unknown>): Promise<BackendError> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof BackendError, `expected a BackendError, got ${err}`);
    return err;
  }
  throw new Error("expected the call to fail, but it succeeded");
}

async function writeBytes(path: string, size: number): Promise<void> {
  const data = new Uint8Array(size);
  for (let i = 0; i < size; i += 65536) crypto.getRandomValues(data.subarray(i, i + 65536));
  await Deno.writeFile(path, data);
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
    const err = await rejects(
      getBackend(`azure://${name}/x`, { connectionString: "UseDevelopmentStorage=true" }),
    );
    assert.equal(err.code, ErrorCode.user_error, name);
    assert.match(err.message, /container/, name);
  }
  const err = await rejects(
    getBackend("azure://", { connectionString: "UseDevelopmentStorage=true" }),
  );
  assert.equal(err.code, ErrorCode.user_error);
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
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  let connections = 0;
  const accepting = (async () => {
    for await (const conn of listener) {
      connections++;
      conn.close();
    }
  })().catch(() => {});
  try {
    const options: GetBackendOptions = {
      accountName: AZURITE_ACCOUNT,
      accountKey: AZURITE_KEY,
      endpoint: `http://127.0.0.1:${(listener.addr as Deno.NetAddr).port}/${AZURITE_ACCOUNT}`,
      blocksize: "64K",
      maxAttempts: 1,
    };
    const err = await rejects(getBackend("azure://typo/p", options));
    assert.equal(err.code, ErrorCode.user_error, err.message);
    assert.match(err.message, /"blocksize"/);
    assert.match(err.message, /did you mean "blockSize"\?/);
    assert.ok(!err.message.includes(AZURITE_KEY));
    assert.throws(
      () => new AzureBackend(new ParsedUrl("azure://typo/p"), options as AzureOptions),
      (e: unknown) => e instanceof BackendError && e.code === ErrorCode.user_error,
    );
  } finally {
    listener.close();
    await accepting;
  }
  assert.equal(connections, 0, "nothing was sent");
});

Deno.test({
  name: "missing credentials are refused with code 23 naming what to set",
  ignore: AZURE_ENV.some((n) => Deno.env.get(n)),
  async fn() {
    const err = await rejects(getBackend("azure://backups"));
    assert.equal(err.code, ErrorCode.user_error);
    assert.match(err.message, /AZURE_CONNECTION_STRING/);
    assert.match(err.message, /AZURE_STORAGE_ACCOUNT/);
    const noAccount = await rejects(getBackend("azure://backups", { accountKey: "c2VjcmV0" }));
    assert.equal(noAccount.code, ErrorCode.user_error);
    assert.doesNotMatch(noAccount.message, /c2VjcmV0/);
    // Untyped, as from the command line (-o tier=Frozen).
    const frozen: GetBackendOptions = {
      connectionString: "UseDevelopmentStorage=true",
      tier: "Frozen",
    };
    const badTier = await rejects(getBackend("azure://backups", frozen));
    assert.equal(badTier.code, ErrorCode.user_error);
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
      const src = join(tmp, "f");
      await Deno.writeTextFile(src, "x");
      const calls = [
        () => store.put(src, "f"),
        () => store.list(),
        () => store.get("f", join(tmp, "g")),
      ];
      for (const call of calls) {
        const err = await rejects(call());
        assert.equal(err.code, ErrorCode.backend_permission_denied, err.message);
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
      const sas = generateBlobSASQueryParameters({
        containerName: "sas",
        permissions: ContainerSASPermissions.parse("racwdl"),
        expiresOn: new Date(Date.now() + 3600_000),
      }, new StorageSharedKeyCredential(AZURITE_ACCOUNT, AZURITE_KEY)).toString();
      await using store = await getBackend(
        "azure://sas/p",
        fast({ sasToken: `?${sas}`, endpoint: az.endpoint }),
      );
      const src = join(tmp, "f");
      await Deno.writeTextFile(src, "hello");
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
      const denied = await rejects(bad.list());
      assert.equal(denied.code, ErrorCode.backend_permission_denied);
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
      const src = join(tmp, "f");
      await Deno.writeTextFile(src, "x");
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
      const err = await rejects(missing.list());
      assert.equal(err.code, ErrorCode.backend_not_found, err.message);
      assert.equal(err.attempts ?? 1, 1);
      assert.match(err.message, /container "no-such-container" does not exist/);
      const src = join(tmp, "f");
      await Deno.writeTextFile(src, "x");
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
      await using store = await getBackend(
        "azure://tiers",
        fast({
          connectionString: az.connectionString,
          tier: "cool",
          blockSize: "64K",
        }),
      );
      const small = join(tmp, "small");
      const large = join(tmp, "large");
      await Deno.writeTextFile(small, "x");
      await writeBytes(large, 300 * 1024);
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
      const opts = fast({
        connectionString: az.connectionString,
        blockSize: "64K",
        concurrency: 2,
      });
      await using store = await getBackend("azure://aborts", opts);
      const big = join(tmp, "big");
      await writeBytes(big, 1024 * 1024);
      const old = join(tmp, "old");
      await Deno.writeTextFile(old, "old content");
      await store.put(old, "kept");
      for (const name of ["fresh", "kept"]) {
        const ac = new AbortController();
        await using aborting = await getBackend("azure://aborts", {
          ...opts,
          maxAttempts: 1,
          signal: ac.signal,
          onProgress: () => ac.abort(),
        });
        const err = await rejects(aborting.put(big, name));
        assert.equal(err.code, ErrorCode.backend_aborted);
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
      await using store = await getBackend(
        "azure://missing",
        fast({
          connectionString: az.connectionString,
          maxAttempts: 5,
        }),
      );
      const err = await rejects(store.get("nope", join(tmp, "nope")));
      assert.equal(err.code, ErrorCode.backend_not_found);
      assert.equal(err.attempts ?? 1, 1);
    });
  },
});

Deno.test({
  name: "a ranged get is pinned to one version: a blob replaced mid-download fails that attempt",
  ignore: !available,
  async fn() {
    await withAzurite(async (az, tmp) => {
      const opts = fast({
        connectionString: az.connectionString,
        blockSize: "64K",
        concurrency: 1,
      });
      await using store = await getBackend("azure://pinned", opts);
      const src = join(tmp, "src");
      await writeBytes(src, 512 * 1024);
      await store.put(src, "f");
      const sas = generateBlobSASQueryParameters({
        containerName: "pinned",
        blobName: "f",
        permissions: BlobSASPermissions.parse("cw"),
        expiresOn: new Date(Date.now() + 3600_000),
      }, new StorageSharedKeyCredential(AZURITE_ACCOUNT, AZURITE_KEY)).toString();
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
      const err = await rejects(store.backend._get("f", join(tmp, "got"), ctx));
      assert.equal(err.code, ErrorCode.backend_error, err.message);
      assert.match(err.message, /changed/);
      // The next attempt reads the new version whole.
      await store.get("f", join(tmp, "got"));
      const got = await Deno.readFile(join(tmp, "got"));
      assert.equal(got.length, 300 * 1024);
      assert.ok(got.every((b) => b === 7));
      // An abort during a ranged get ends every range with code 61.
      const ac = new AbortController();
      await using aborting = await getBackend("azure://pinned", {
        ...opts,
        concurrency: 3,
        maxAttempts: 1,
        signal: ac.signal,
        onProgress: () => ac.abort(),
      });
      const aborted = await rejects(aborting.get("f", join(tmp, "aborted")));
      assert.equal(aborted.code, ErrorCode.backend_aborted, aborted.message);
    });
  },
});

Deno.test({
  name: "_deleteList deletes 300 names in batches, tolerating missing ones",
  ignore: !available,
  async fn() {
    await withAzurite(async (az, tmp) => {
      await using store = await getBackend(
        "azure://batch/x",
        fast({ connectionString: az.connectionString }),
      );
      const src = join(tmp, "f");
      await Deno.writeTextFile(src, "x");
      const names = Array.from({ length: 300 }, (_, i) => `b${String(i).padStart(3, "0")} #?%`);
      let next = 0;
      await Promise.all(Array.from({ length: 8 }, async () => {
        while (next < names.length) await store.put(src, names[next++]!);
      }));
      assert.equal((await store.list()).length, 300);
      await store.backend._deleteList!([...names.slice(0, 150), "missing-1", ...names.slice(150)]);
      assert.deepEqual(await store.list(), []);
      // Without batches: parallel single deletes.
      await using single = await getBackend(
        "azure://batch/x",
        fast({
          connectionString: az.connectionString,
          batchDelete: "false",
        }),
      );
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
      await using store = await getBackend(
        "azure://snaps",
        fast({ connectionString: az.connectionString }),
      );
      const src = join(tmp, "f");
      await Deno.writeTextFile(src, "x");
      await store.put(src, "snapped");
      await store.put(src, "plain");
      await sdk(az).getContainerClient("snaps").getBlobClient("snapped").createSnapshot();
      for (
        const call of [() => store.delete("snapped"), () => store.delete(["plain", "snapped"])]
      ) {
        const err = await rejects(call());
        assert.equal(err.code, ErrorCode.user_error, err.message);
        assert.match(err.message, /deleteSnapshots=true/);
      }
      assert.deepEqual(await store.list(), ["snapped"]);
      await using purge = await getBackend(
        "azure://snaps",
        fast({
          connectionString: az.connectionString,
          deleteSnapshots: "true",
        }),
      );
      await purge.delete(["snapped"]);
      assert.deepEqual(await purge.list(), []);
    });
  },
});

Deno.test("a refused connection is retried (code 38) and its message shows no SAS", async () => {
  const port = freePort();
  const delays: number[] = [];
  await using store = await getBackend("azure://refused", {
    accountName: AZURITE_ACCOUNT,
    accountKey: AZURITE_KEY,
    endpoint: `http://127.0.0.1:${port}/${AZURITE_ACCOUNT}`,
    maxAttempts: 3,
    sleep: (ms: number) => {
      delays.push(ms);
      return Promise.resolve();
    },
  });
  const err = await rejects(store.list());
  assert.equal(err.code, ErrorCode.connection_failed, err.message);
  assert.equal(err.attempts, 3);
  assert.equal(delays.length, 2);
  // Downloads use a locally signed SAS URL: the failure never shows it.
  const tmp = await Deno.makeTempDir();
  try {
    const getErr = await rejects(store.get("f", join(tmp, "f")));
    assert.equal(getErr.code, ErrorCode.connection_failed, getErr.message);
    assert.equal(getErr.attempts, 3);
    assert.doesNotMatch(getErr.message, /sig=|127\.0\.0\.1:\d+\/devstoreaccount1\/refused/);
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
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
          accountName: AZURITE_ACCOUNT,
          accountKey: AZURITE_KEY,
          endpoint: `http://127.0.0.1:${proxy.port}/${AZURITE_ACCOUNT}`,
          maxAttempts: 3,
          minTimeout: 10,
          staleAfter: 0,
          sleep: (ms: number) => {
            delays.push(ms);
            return Promise.resolve();
          },
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
    const dir = await Deno.makeTempDir({ prefix: "stowage-azure-tls-" });
    const server = await (async () => {
      await run("openssl", [
        "req",
        "-x509",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
        "-days",
        "1",
        "-subj",
        "/CN=127.0.0.1",
        "-addext",
        "subjectAltName=IP:127.0.0.1",
        "-keyout",
        join(dir, "key.pem"),
        "-out",
        join(dir, "cert.pem"),
      ]);
      return Deno.serve({
        hostname: "127.0.0.1",
        port: 0,
        cert: await Deno.readTextFile(join(dir, "cert.pem")),
        key: await Deno.readTextFile(join(dir, "key.pem")),
        onListen() {},
        onError: () => new Response("error", { status: 500 }),
      }, () => new Response("<EnumerationResults/>", { status: 200 }));
    })();
    try {
      await using store = await getBackend(
        "azure://tls",
        fast({
          accountName: AZURITE_ACCOUNT,
          accountKey: AZURITE_KEY,
          endpoint: `https://127.0.0.1:${server.addr.port}/${AZURITE_ACCOUNT}`,
          maxAttempts: 4,
        }),
      );
      await Deno.writeTextFile(join(dir, "src"), "x");
      const calls = [
        () => store.list(), // fetch
        () => store.get("f", join(dir, "f")), // fetch
        () => store.put(join(dir, "src"), "f"), // the HTTP/1.1 upload client
        () => store.queryInfo("f"), // fetch (HEAD)
        () => store.delete(["f", "g"]), // the SDK over node:https (Blob Batch)
      ];
      for (const call of calls) {
        const err = await rejects(call());
        assert.equal(err.code, ErrorCode.backend_untrusted_host, err.message);
        assert.equal(err.attempts ?? 1, 1);
      }
    } finally {
      await server.shutdown();
      await Deno.remove(dir, { recursive: true });
    }
  },
});

/**
 * A loopback TCP proxy in front of Azurite: the first connection gets
 * `503 Retry-After: 2` to its first request; every later one is forwarded.
 */
function faultProxy(
  target: number,
): { port: number; faults(): number; arm(): void; close(): Promise<void> } {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const tasks: Promise<void>[] = [];
  const conns = new Set<Deno.Conn>();
  let faults = 0;
  let armed = true;
  const handle = async (conn: Deno.Conn): Promise<void> => {
    conns.add(conn);
    try {
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
        return;
      }
      const up = await Deno.connect({ hostname: "127.0.0.1", port: target });
      conns.add(up);
      await Promise.allSettled([
        conn.readable.pipeTo(up.writable),
        up.readable.pipeTo(conn.writable),
      ]);
    } catch {
      // the client went away
    } finally {
      for (const c of [conn]) {
        try {
          c.close();
        } catch {
          // already closed
        }
      }
    }
  };
  const accepting = (async () => {
    try {
      for await (const conn of listener) tasks.push(handle(conn));
    } catch {
      // closed
    }
  })();
  return {
    port: (listener.addr as Deno.NetAddr).port,
    faults: () => faults,
    arm: () => {
      armed = true;
    },
    async close() {
      listener.close();
      await accepting;
      for (const c of conns) {
        try {
          c.close();
        } catch {
          // already closed
        }
      }
      await Promise.allSettled(tasks);
    },
  };
}
