/**
 * stowage: one contract for every place a program keeps files — a local
 * folder, SFTP, FTP/FTPS, WebDAV, S3 and S3-compatible stores, Azure Blob —
 * with duplicity's backend semantics: an abstract {@linkcode Backend}, a
 * registry of URL schemes and `prefix+scheme://` meta backends, retries with
 * exponential backoff, duplicity's error codes, and a conformance suite.
 *
 * @example
 * ```ts
 * import { getBackend } from "@stowage/backends";
 *
 * const local = await Deno.makeTempFile();
 * await Deno.writeTextFile(local, "hello");
 * await using store = await getBackend("file:///tmp/stowage-readme");
 * await store.put(local, "hello.txt");
 * console.log(await store.list()); // ["hello.txt", ...]
 * console.log(await store.queryInfo(["hello.txt"])); // { "hello.txt": { size: 5 } }
 * await store.get("hello.txt", local + ".back");
 * await store.delete(["hello.txt"]);
 * ```
 *
 * @module
 */

export {
  Backend,
  type BackendCapabilities,
  type BackendClass,
  type BackendOptions,
  type DeclaredCapabilities,
  type NameLimits,
  type OperationContext,
  type QueryResult,
  type ReadRange,
} from "./core/backend.ts";
export {
  BackendWrapper,
  type CleanupOptions,
  type GetOptions,
  type ListOptions,
  type ProgressEvent,
  type PutOptions,
  type QueryInfo,
  type ReadOptions,
  type WrapperOptions,
  type WriteOptions,
  type WriteSource,
} from "./core/wrapper.ts";
export {
  backendClassFor,
  getBackend,
  getBackendObject,
  type GetBackendOptions,
  knownPrefixes,
  knownSchemes,
  type OptionsFor,
  prefixClassFor,
  type PrefixOptions,
  registerBackend,
  registerBackendPrefix,
  type SchemeOf,
  type SchemeOptions,
  type SchemeOptionsFor,
} from "./registry.ts";
export type { AskPassword } from "./core/password.ts";
export { HOST_STYLE_SCHEMES, isHostStyle, ParsedUrl, redactRaw, secretsOf } from "./core/url.ts";
export {
  BackendError,
  type BackendErrorOptions,
  errnoCode,
  ErrorCode,
  errorCodeName,
  isAbortError,
  isPermanentCode,
  reasonOf,
} from "./core/errors.ts";
export {
  abortableSleep,
  backoffDelay,
  parseRetryAfter,
  retry,
  retryAfterOf,
  RetryError,
  type RetryOptions,
} from "./core/retry.ts";
