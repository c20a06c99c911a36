/**
 * `s3://` — Amazon S3 and every S3-compatible store (MinIO, Ceph, Garage,
 * Cloudflare R2, Backblaze B2, Wasabi, ...), and `gs://` — Google Cloud
 * Storage through its S3-compatible XML API with HMAC keys.
 *
 * URLs are duplicity's: `s3://bucket/prefix` and `s3:///bucket/prefix` mean
 * the same thing (the first path segment is the bucket, the rest is a key
 * prefix that acts as the folder); likewise `gs://bucket/prefix`. Names are
 * flat: only the objects directly under the prefix are listed.
 *
 * How it talks to the store (one part of this folder each):
 * - `options.ts`: the options, declared once; an unknown key (say
 *   `endpont`) is refused with code 23 before any request, so a typo never
 *   sends the credentials to AWS itself.
 * - `transport.ts`: credentials from the AWS SDK's standard chain
 *   (environment, `~/.aws/credentials` and `~/.aws/config` profiles,
 *   `AWS_PROFILE`, SSO, web identity, container and instance metadata) — or,
 *   for `gs://`, from `GS_ACCESS_KEY_ID`/`GS_SECRET_ACCESS_KEY` as in
 *   duplicity. The SDK's own retries are off (`maxAttempts: 1`): stowage's
 *   wrapper retries, with backoff that honours the server's `Retry-After`.
 *   Checksums are computed only where S3 requires them (`WHEN_REQUIRED`):
 *   the newer default frames streamed bodies as `aws-chunked`, which several
 *   S3-compatible servers store verbatim. On first use the bucket is checked
 *   with HeadBucket (a listing's first page serves as the check): a missing
 *   bucket is a clear not-found error (code 52), never created silently
 *   unless `createBucket` is set.
 * - `handlers.ts`: requests without a file body go through the runtime's
 *   `fetch`; a put or part is sent by core/http1.ts over `Deno.connect` (TLS
 *   verified as for `fetch`), reading the file into one reused buffer and
 *   writing it to the socket with backpressure: `fetch` sends a stream body
 *   chunked, which S3 refuses, and the SDK's node:http handler left every
 *   chunk to the garbage collector (peak RSS 156–173 MiB against about
 *   90 MiB now, the same at 256 MiB and 1 GiB).
 * - `writer.ts`: files up to `partSize` go up in one streamed PutObject;
 *   larger files as a multipart upload whose parts stream from the file by
 *   byte range, `concurrency` at a time. A failed or cancelled multipart
 *   upload is aborted on the server; S3 puts are atomic, so nothing partial
 *   is ever visible. Small puts and every part carry a `Content-MD5`
 *   (option `contentMd5`), so the server rejects a body that changed.
 * - `reader.ts`: gets stream to the file; an object larger than `partSize`
 *   comes as byte ranges, `concurrency` at once, all pinned to one ETag
 *   (If-Match) so a replaced object can never be mixed from two versions.
 * - `lister.ts`: listings are parsed by stowage (Key, IsTruncated,
 *   NextContinuationToken, with XML entities and character references
 *   decoded), not by the SDK's generic XML parser.
 * - `error.ts`: S3 error names and HTTP statuses to codes. TLS certificates
 *   are always verified, against Deno's trust store (code 60 when not
 *   trusted); for a store with a private CA, give Deno the CA
 *   (`DENO_CERT=/path/ca.pem`, or `DENO_TLS_CA_STORE=system`).
 *   `AWS_CA_BUNDLE` is not read. Archived objects (GLACIER, DEEP_ARCHIVE)
 *   must be restored before a get; until then a get fails with
 *   InvalidObjectState (code 51, not retried).
 *
 * @example
 * ```ts ignore
 * import { getBackend } from "@stowage/backends";
 * // AWS: credentials and region from the environment or ~/.aws
 * await using aws = await getBackend("s3://my-backups/host1", { storageClass: "STANDARD_IA" });
 * // MinIO (path-style addressing is the default with an endpoint)
 * await using minio = await getBackend("s3://backups/host1", { endpoint: "https://minio.lan:9000" });
 * // Google Cloud Storage with HMAC keys in GS_ACCESS_KEY_ID / GS_SECRET_ACCESS_KEY
 * await using gcs = await getBackend("gs://my-bucket/host1");
 * console.log(await aws.list(), await minio.list(), await gcs.list());
 * ```
 *
 * @module
 */

export { S3Backend } from "./backend.ts";
export { S3_OPTIONS, type S3Options } from "./options.ts";
