/**
 * The kit for backend authors: the helpers stowage's own backends are built
 * from, so a new backend writes only its protocol. Applications do not need
 * this module; they use `@stowage/backends`.
 *
 * - Options: declare a table once ({@linkcode parseOptions}, {@linkcode OptionsInput}).
 * - Names: hidden temporary upload names ({@linkcode tempName}, {@linkcode isTempName}).
 * - Errors: HTTP status → code ({@linkcode httpError}), TLS failures
 *   ({@linkcode tlsErrorCode}), aborts ({@linkcode abortError}).
 * - Transfers: {@linkcode Http1Client} (HTTP/1.1 with file-range bodies of a
 *   real `Content-Length`), {@linkcode writeStreamToFile} (a body into a file at
 *   an offset), {@linkcode rangedDownload} (a ranged, parallel download into a
 *   file), {@linkcode eachLimited} (a bounded pool), {@linkcode BufferPool},
 *   {@linkcode fileRangeStream} / {@linkcode fileWriteStream} (local files as
 *   streams, for `_openRead` / `_openWrite`).
 * - Passwords: {@linkcode resolvePassword} (URL, `FTP_PASSWORD`, then the
 *   caller's `askPassword`).
 * - XML: {@linkcode xmlText}. AWS Signature V4: {@linkcode SigV4Signer}.
 * - External programs: {@linkcode runCommand}.
 *
 * @example
 * ```ts
 * import { Backend, type BackendOptions, ParsedUrl, registerBackend } from "@stowage/backends";
 * import { type OptionsInput, parseOptions } from "@stowage/backends/kit";
 *
 * const NULL_OPTIONS = {
 *   greeting: { type: "string", default: "hello", doc: "What the null store says." },
 * } as const;
 * type NullOptions = OptionsInput<typeof NULL_OPTIONS>;
 *
 * class NullBackend extends Backend {
 *   static readonly options: typeof NULL_OPTIONS = NULL_OPTIONS;
 *   readonly greeting: string;
 *   constructor(url: ParsedUrl, options: NullOptions & BackendOptions = {}) {
 *     super(url, options);
 *     this.greeting = parseOptions(url.scheme, NULL_OPTIONS, options).greeting;
 *   }
 *   async _get(_name: string, localPath: string): Promise<void> {
 *     await Deno.writeTextFile(localPath, this.greeting);
 *   }
 *   async _put(): Promise<void> {}
 *   async _list(): Promise<string[]> {
 *     return [];
 *   }
 *   async _delete(): Promise<void> {}
 * }
 * registerBackend("null", NullBackend);
 * ```
 *
 * @module
 */

export {
  type BooleanSpec,
  type BytesSpec,
  closest,
  COMMON_OPTION_KEYS,
  describeOptions,
  type DurationSpec,
  type EnumSpec,
  type InputOf,
  type ListSpec,
  type NumberSpec,
  type OptionDoc,
  type OptionsInput,
  type OptionsParsed,
  type OptionSpec,
  type OptionSpecs,
  parseBytes,
  parseDuration,
  type ParsedWithRest,
  parseOptions,
  type ParseOptionsMode,
  parseOptionsWithRest,
  type SpecBase,
  type StringSpec,
  unknownOption,
  type ValueOf,
  type ValueSpec,
} from "./core/options.ts";
export { checkName, isTempName, nameProblem, TEMP_PREFIX, tempName } from "./core/names.ts";
export { codeForHttpStatus, httpError, isRetriableHttpStatus } from "./core/http.ts";
export { tlsErrorCode, type TlsProblem, tlsProblem, tlsReason } from "./core/tls.ts";
export { abortError } from "./core/errors.ts";
export {
  type AskPassword,
  askPasswordFrom,
  resolvePassword,
  type ResolvePasswordOptions,
  storedPassword,
} from "./core/password.ts";
export {
  type FileRangeBody,
  type Http1Answer,
  Http1Client,
  type Http1ClientOptions,
  type Http1Request,
} from "./core/http1.ts";
export { BufferPool } from "./core/buffer_pool.ts";
export { xmlText, type XmlTextOptions } from "./core/xml.ts";
export {
  amzDate,
  type AwsCredentials,
  canonicalQuery,
  EMPTY_SHA256,
  sha256Hex,
  type SignedRequest,
  type SigV4Request,
  SigV4Signer,
  type SigV4SignerOptions,
  UNSIGNED_PAYLOAD,
  uriEncode,
} from "./core/sigv4.ts";
export {
  CommandError,
  type CommandResult,
  lastLines,
  runCommand,
  type RunCommandOptions,
} from "./core/command.ts";
export { eachLimited } from "./core/concurrency.ts";
export { type WriteStreamOptions, writeStreamToFile } from "./core/stream_file.ts";
export { type FirstRange, rangedDownload, type RangedDownloadOptions } from "./core/ranged_get.ts";
export { fileRangeStream, fileWriteStream } from "./core/local_file.ts";
export type { ReadRange } from "./core/streams.ts";
export { isPartFile, PART_MARKER } from "./core/local_file.ts";
