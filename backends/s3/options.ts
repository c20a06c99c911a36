/**
 * The options of `s3://` and `gs://`, declared once: type, default, doc.
 * From the command line each arrives as `-o key=value`.
 *
 * @module
 */

import type { OptionsInput, OptionsParsed } from "../../core/options.ts";

/** The options of {@linkcode S3Backend}, declared once. */
export const S3_OPTIONS = {
  endpoint: {
    type: "string",
    doc: "The service URL of an S3-compatible store (https://minio.example:9000); default " +
      "AWS_ENDPOINT_URL_S3, else AWS_ENDPOINT_URL, else AWS itself (gs://: " +
      "https://storage.googleapis.com, the AWS variables are not read).",
  },
  forcePathStyle: {
    type: "boolean",
    doc: "Address buckets as endpoint/bucket/key rather than bucket.endpoint/key; default true " +
      "with an endpoint and for gs://, false for AWS itself.",
  },
  region: {
    type: "string",
    doc: "The region to sign for; default AWS_REGION, else AWS_DEFAULT_REGION, else the " +
      "profile's region in ~/.aws/config, else us-east-1. On AWS a bucket in another region " +
      "is followed.",
  },
  profile: {
    type: "string",
    doc: "The profile in the shared config and credentials files; default AWS_PROFILE, else " +
      "default.",
  },
  accessKeyId: {
    type: "string",
    secret: true,
    doc: "An access key id, for programs that hold keys themselves (prefer the environment or " +
      "a profile: a command line is visible to other users); needs secretAccessKey.",
  },
  secretAccessKey: {
    type: "string",
    secret: true,
    doc: "The secret key that goes with accessKeyId; never printed.",
  },
  sessionToken: {
    type: "string",
    secret: true,
    doc: "A session token that goes with temporary keys; never printed.",
  },
  uploadCutoff: {
    type: "bytes",
    default: "200M",
    min: 0,
    max: 5368709120,
    doc: "Files up to this size go up in one PutObject, streamed from disk (never held in " +
      "memory); larger ones as a multipart upload in parts of partSize (rclone's upload_cutoff).",
  },
  partSize: {
    type: "bytes",
    default: "16M",
    min: 5242880,
    max: 5368709120,
    doc: "The size of one part of a multipart upload (S3 allows 5 MiB to 5 GiB); raised by " +
      "itself when a file would need more than 10,000 parts. Also the smallest range of a " +
      "parallel download, and of a streamed write's part.",
  },
  concurrency: {
    type: "integer",
    default: 4,
    min: 1,
    max: 64,
    doc: "Parts uploaded, or ranges downloaded, at once; memory does not grow with it.",
  },
  pageSize: {
    type: "integer",
    default: 1000,
    min: 1,
    max: 1000,
    doc: "Keys per listing page (ListObjectsV2 MaxKeys).",
  },
  queryConcurrency: {
    type: "integer",
    default: 16,
    min: 1,
    max: 64,
    doc: "HeadObject (and single DeleteObject) requests in flight for many names.",
  },
  storageClass: {
    type: "string",
    doc: "The storage class of new objects (STANDARD, STANDARD_IA, ONEZONE_IA, " +
      "INTELLIGENT_TIERING, GLACIER, GLACIER_IR, DEEP_ARCHIVE, ...); default the bucket's. " +
      "GLACIER and DEEP_ARCHIVE objects must be restored before a get.",
  },
  sse: {
    type: "enum",
    values: ["AES256", "aws:kms", "aws:kms:dsse"],
    doc: "Server-side encryption: AES256 (SSE-S3), aws:kms (SSE-KMS) or aws:kms:dsse; default " +
      "the bucket's.",
  },
  sseKmsKeyId: {
    type: "string",
    doc: "The KMS key for sse=aws:kms; default the account's S3 key.",
  },
  createBucket: {
    type: "boolean",
    default: false,
    doc: "Create the bucket on first use when it does not exist (else a missing bucket is " +
      "error 52, so a typo never scatters backups into a new bucket).",
  },
  bulkDelete: {
    type: "boolean",
    default: true,
    doc: "Delete many names with one DeleteObjects request per 1000 names; turned off by " +
      "itself when the store answers NotImplemented.",
  },
  contentMd5: {
    type: "boolean",
    default: true,
    doc: "Send a Content-MD5 with every put and part, so the server rejects a changed body.",
  },
} as const;

/** Options for {@linkcode S3Backend}. */
export type S3Options = OptionsInput<typeof S3_OPTIONS>;

/** The parsed settings of {@linkcode S3_OPTIONS}, as the backend's parts read them. */
export type S3Settings = OptionsParsed<typeof S3_OPTIONS>;
