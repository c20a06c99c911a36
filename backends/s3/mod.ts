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
 * - `credentials.ts`: keys from the options (for `gs://`, from
 *   `GS_ACCESS_KEY_ID`/`GS_SECRET_ACCESS_KEY` as in duplicity), else
 *   `AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY`, else the AWS SDK's standard
 *   chain (`~/.aws/credentials` and `~/.aws/config` profiles, `AWS_PROFILE`,
 *   SSO, web identity, container and instance metadata), loaded only then.
 *   The SDK is used for nothing else.
 * - `transport.ts` (with `http.ts`): every request is signed by
 *   core/sigv4.ts and sent by the runtime's `fetch`, or, for an object or
 *   part body, by core/http1.ts, which streams a file range (or sends
 *   bytes) with a real `Content-Length` through one reused buffer. No
 *   `aws-chunked` framing, which several S3-compatible servers store
 *   verbatim. On first use the bucket is checked with HeadBucket (a
 *   listing's first page serves as the check): a missing bucket is a clear
 *   not-found error (code 52), never created silently unless `createBucket`
 *   is set. A bucket in another region (AWS) and a skewed clock
 *   (`RequestTimeTooSkewed`) are corrected once, here. Every wait follows
 *   the attempt's signal, so `--timeout` bounds it.
 * - `writer.ts`, `multipart.ts`: a put up to `partSize` is one PutObject (a
 *   small file read whole and sent from memory); a larger file a multipart
 *   upload whose parts stream from the file by byte range, `concurrency` at
 *   a time. A failed or cancelled multipart upload is aborted on the server
 *   before the put returns; S3 puts are atomic, so nothing partial is ever
 *   visible. Every body carries a `Content-MD5` (option `contentMd5`), so
 *   the server rejects a body that changed.
 * - `stream_writer.ts`: `write()` from a stream gathers parts of `partSize`:
 *   one PutObject when the stream fits a part, else a multipart upload with
 *   at most two parts in flight while the next fills (memory: three parts).
 * - `recent.ts`: the size an upload's answer confirmed answers the size
 *   check right after it (`validate`), instead of a HeadObject.
 * - `reader.ts`: gets stream to the file; an object larger than `partSize`
 *   comes as byte ranges, `concurrency` at once, all pinned to one ETag
 *   (If-Match) so a replaced object can never be mixed from two versions.
 *   `read()` is a ranged GetObject.
 * - `lister.ts`: listings parsed by stowage (Key, IsTruncated,
 *   NextContinuationToken, with XML entities and character references
 *   decoded). A prefix that holds nothing lists empty.
 * - `deleter.ts`: DeleteObject, or DeleteObjects in batches of 1000.
 * - `error.ts`: S3 error names and HTTP statuses to codes. TLS certificates
 *   are always verified, against Deno's trust store (code 60 when not
 *   trusted, or when the server does not speak TLS); for a store with a
 *   private CA, give Deno the CA (`DENO_CERT=/path/ca.pem`, or
 *   `DENO_TLS_CA_STORE=system`). `AWS_CA_BUNDLE` is not read. Archived
 *   objects (GLACIER, DEEP_ARCHIVE) must be restored before a get; until
 *   then a get fails with InvalidObjectState (code 51, not retried). A name
 *   the store finds too long (KeyTooLongError) is code 59.
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
