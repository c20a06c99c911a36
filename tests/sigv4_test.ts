/**
 * core/sigv4.ts against AWS's published S3 examples and against the AWS
 * SDK's own signatures: the SDK signs a request (captured by a request
 * handler that sends nothing), our signer signs the same request at the
 * same instant, and the Authorization headers must be identical.
 */

import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import {
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  UploadPartCommand,
} from "@aws-sdk/client-s3";
import {
  amzDate,
  canonicalQuery,
  EMPTY_SHA256,
  sha256Hex,
  SigV4Signer,
  uriEncode,
} from "../core/sigv4.ts";

const EXAMPLE = {
  accessKeyId: "AKIAIOSFODNN7EXAMPLE",
  secretAccessKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
};
const MAY_24_2013 = new Date(Date.UTC(2013, 4, 24));

function signature(authorization: string): string {
  return /Signature=([0-9a-f]{64})$/.exec(authorization)?.[1] ?? "";
}

Deno.test("sigv4: AWS's S3 examples (GET with Range, PUT, list) give the published signatures", () => {
  const signer = new SigV4Signer({ service: "s3", region: "us-east-1" });
  const host = "examplebucket.s3.amazonaws.com";
  const get = signer.sign(
    { method: "GET", host, path: "/test.txt", headers: { range: "bytes=0-9" } },
    EXAMPLE,
    MAY_24_2013,
  );
  assert.equal(
    get.headers.authorization,
    "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, " +
      "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, " +
      "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41",
  );
  const body = "Welcome to Amazon S3.";
  const put = signer.sign(
    {
      method: "PUT",
      host,
      path: `/${uriEncode("test$file.text", true)}`,
      headers: {
        date: "Fri, 24 May 2013 00:00:00 GMT",
        "x-amz-storage-class": "REDUCED_REDUNDANCY",
      },
      payloadHash: sha256Hex(body),
    },
    EXAMPLE,
    MAY_24_2013,
  );
  assert.equal(
    signature(put.headers.authorization!),
    "98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd",
  );
  const list = signer.sign(
    { method: "GET", host, path: "/", query: { "max-keys": "2", prefix: "J" } },
    EXAMPLE,
    MAY_24_2013,
  );
  assert.equal(list.target, "/?max-keys=2&prefix=J");
  assert.equal(
    signature(list.headers.authorization!),
    "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7",
  );
});

Deno.test("sigv4: sha256Hex agrees with node:crypto for every length around the block edges", () => {
  assert.equal(
    sha256Hex("abc"),
    "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
  );
  const data = new Uint8Array(300);
  crypto.getRandomValues(data);
  for (let n = 0; n <= data.length; n++) {
    const part = data.subarray(0, n);
    assert.equal(sha256Hex(part), createHash("sha256").update(part).digest("hex"), `${n} bytes`);
  }
  const text = "ünïcödé 😀 ".repeat(40);
  assert.equal(sha256Hex(text), createHash("sha256").update(text).digest("hex"));
});

Deno.test("sigv4: encoding, query order, time stamps and the empty payload hash", () => {
  assert.equal(uriEncode("a b/c~d!'()*é"), "a%20b%2Fc~d%21%27%28%29%2A%C3%A9");
  assert.equal(uriEncode("dir/a+b", true), "dir/a%2Bb");
  assert.equal(
    canonicalQuery([["b", "2"], ["a", "z"], ["a", "y"], ["uploads", ""], ["k y", "v/w"]]),
    "a=y&a=z&b=2&k%20y=v%2Fw&uploads=",
  );
  assert.equal(canonicalQuery({}), "");
  assert.equal(amzDate(new Date(Date.UTC(2024, 0, 2, 3, 4, 5, 678))), "20240102T030405Z");
  assert.equal(sha256Hex(""), EMPTY_SHA256);
  const signer = new SigV4Signer({ service: "s3", region: "eu-west-1" });
  const signed = signer.sign(
    { method: "GET", host: "h", path: "/", headers: { "X-Amz-Meta-A": "  two   spaces " } },
    { ...EXAMPLE, sessionToken: "token" },
    MAY_24_2013,
  );
  assert.equal(signed.headers["x-amz-security-token"], "token");
  assert.match(
    signed.headers.authorization!,
    /SignedHeaders=host;x-amz-content-sha256;x-amz-date;x-amz-meta-a;x-amz-security-token,/,
  );
  assert.throws(() =>
    signer.sign({ method: "GET", host: "h", path: "/", headers: { a: "b\r\nc: d" } }, EXAMPLE)
  );
});

/** What the SDK's request handler was given: the request as the SDK signed it. */
interface Captured {
  method: string;
  hostname: string;
  port?: number;
  path: string;
  query?: Record<string, string | string[] | null>;
  headers: Record<string, string>;
}

/** Sign `command` with the SDK (nothing is sent) and return the signed request. */
async function sdkSigned(
  command: unknown,
  credentials: { accessKeyId: string; secretAccessKey: string; sessionToken?: string },
  endpoint = "http://127.0.0.1:9000",
): Promise<Captured> {
  let captured: Captured | undefined;
  const client = new S3Client({
    endpoint,
    region: "eu-central-1",
    forcePathStyle: true,
    maxAttempts: 1,
    credentials,
    requestChecksumCalculation: "WHEN_REQUIRED",
    responseChecksumValidation: "WHEN_REQUIRED",
    requestHandler: {
      handle(request: Captured) {
        captured = request;
        return Promise.reject(new Error("captured"));
      },
      updateHttpClientConfig() {},
      httpHandlerConfigs: () => ({}),
    } as never,
  });
  try {
    await client.send(command as never);
  } catch {
    // "captured": nothing was sent
  } finally {
    client.destroy();
  }
  assert.ok(captured, "the SDK built a request");
  return captured;
}

/** Our signature of the request the SDK signed, at the SDK's instant. */
function ourSignature(
  req: Captured,
  credentials: { accessKeyId: string; secretAccessKey: string; sessionToken?: string },
): { authorization: string; target: string } {
  const given: Record<string, string> = {};
  let date = "";
  let payloadHash = "";
  for (const [k, v] of Object.entries(req.headers)) {
    const name = k.toLowerCase();
    if (name === "x-amz-date") date = v;
    else if (name === "x-amz-content-sha256") payloadHash = v;
    else if (!["authorization", "host", "x-amz-security-token"].includes(name)) given[k] = v;
  }
  const query: [string, string][] = [];
  for (const [k, v] of Object.entries(req.query ?? {})) {
    if (v === null) continue;
    for (const one of Array.isArray(v) ? v : [v]) query.push([k, one]);
  }
  const at = new Date(
    Date.UTC(
      Number(date.slice(0, 4)),
      Number(date.slice(4, 6)) - 1,
      Number(date.slice(6, 8)),
      Number(date.slice(9, 11)),
      Number(date.slice(11, 13)),
      Number(date.slice(13, 15)),
    ),
  );
  const signer = new SigV4Signer({ service: "s3", region: "eu-central-1" });
  const signed = signer.sign(
    {
      method: req.method,
      host: req.port ? `${req.hostname}:${req.port}` : req.hostname,
      path: req.path,
      query,
      headers: given,
      payloadHash,
    },
    credentials,
    at,
  );
  assert.equal(signed.headers["x-amz-date"], date);
  return { authorization: signed.headers.authorization!, target: signed.target };
}

Deno.test("sigv4: the same signatures as the AWS SDK for every request the s3 backend sends", async () => {
  const keys = [
    { accessKeyId: "AKIDEXAMPLE", secretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY" },
    {
      accessKeyId: "ASIATEMP",
      secretAccessKey: "s3cr3t/+=",
      sessionToken: "FQoGZXIvYXdzE//token=",
    },
    { accessKeyId: "LONGSECRET", secretAccessKey: "k".repeat(100) }, // an HMAC key over 64 bytes
  ];
  const Bucket = "stowage-sig";
  const Key = "backups/host 1/ünïcödé+plus&amp=eq?q#h~t!'()*.bin";
  const body = new TextEncoder().encode("hello");
  const commands = [
    new PutObjectCommand({
      Bucket,
      Key,
      Body: body,
      ContentType: "application/octet-stream",
      ContentMD5: "XUFAKrxLKna5cZ2REBfFkg==",
      StorageClass: "STANDARD_IA",
      ServerSideEncryption: "aws:kms",
      SSEKMSKeyId: "key-1",
    }),
    new GetObjectCommand({ Bucket, Key, Range: "bytes=5-99", IfMatch: '"abc"' }),
    new HeadObjectCommand({ Bucket, Key }),
    new ListObjectsV2Command({
      Bucket,
      Prefix: "backups/host 1/",
      Delimiter: "/",
      MaxKeys: 1000,
      ContinuationToken: "1/abc+def==",
    }),
    new DeleteObjectsCommand({
      Bucket,
      Delete: { Objects: [{ Key: "a" }, { Key: "b&c" }], Quiet: true },
    }),
    new CreateMultipartUploadCommand({ Bucket, Key, ContentType: "application/octet-stream" }),
    new UploadPartCommand({ Bucket, Key, UploadId: "up/1+2", PartNumber: 3, Body: body }),
    new CompleteMultipartUploadCommand({
      Bucket,
      Key,
      UploadId: "up/1+2",
      MultipartUpload: { Parts: [{ ETag: '"e1"', PartNumber: 1 }] },
    }),
  ];
  for (const credentials of keys) {
    for (const command of commands) {
      const req = await sdkSigned(command, credentials);
      const ours = ourSignature(req, credentials);
      assert.equal(
        ours.authorization,
        req.headers["authorization"],
        `${command.constructor.name} with ${credentials.accessKeyId}`,
      );
    }
  }
  // Virtual-hosted addressing on an https endpoint with the default port.
  const req = await sdkSigned(
    new HeadObjectCommand({ Bucket: "vhost", Key: "a/b" }),
    keys[0]!,
    "https://s3.example.com",
  );
  assert.equal(ourSignature(req, keys[0]!).authorization, req.headers["authorization"]);
});
