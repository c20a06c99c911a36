/**
 * The registry of URL schemes and `prefix+` meta backends. Built-in backends
 * load lazily through string-literal dynamic imports, so `deno compile` and
 * `deno bundle` see every backend while `file://` users never load an SDK.
 *
 * @module
 */

import type { Backend, BackendClass, BackendOptions } from "./core/backend.ts";
import { BackendError, ErrorCode } from "./core/errors.ts";
import { COMMON_OPTION_KEYS, parseOptions, unknownOption } from "./core/options.ts";
import { ParsedUrl } from "./core/url.ts";
import { BackendWrapper, type WrapperOptions } from "./core/wrapper.ts";
import type { FileOptions } from "./backends/file.ts";
import type { MemoryOptions } from "./backends/memory.ts";
import type { SftpOptions } from "./backends/sftp/options.ts";
import type { FtpOptions } from "./backends/ftp/options.ts";
import type { WebdavOptions } from "./backends/webdav/options.ts";
import type { S3Options } from "./backends/s3/options.ts";
import type { AzureOptions } from "./backends/azure/options.ts";
import type { MultiOptions } from "./backends/multi/options.ts";
import type { RcloneOptions } from "./backends/rclone/options.ts";
import type { RsyncOptions } from "./backends/rsync/options.ts";
import type { Par2Options } from "./backends/par2/options.ts";
import type { ChaosOptions } from "./backends/chaos.ts";

type Loader = () => Promise<BackendClass>;

/** Built-in schemes: literal imports, loaded on first use. */
const BUILTIN_SCHEMES: Readonly<Record<string, Loader>> = {
  file: async () => (await import("./backends/file.ts")).FileBackend,
  memory: async () => (await import("./backends/memory.ts")).MemoryBackend,
  sftp: async () => (await import("./backends/sftp/mod.ts")).SftpBackend,
  scp: async () => (await import("./backends/sftp/mod.ts")).SftpBackend,
  ftp: async () => (await import("./backends/ftp/mod.ts")).FtpBackend,
  ftps: async () => (await import("./backends/ftp/mod.ts")).FtpBackend,
  webdav: async () => (await import("./backends/webdav/mod.ts")).WebdavBackend,
  webdavs: async () => (await import("./backends/webdav/mod.ts")).WebdavBackend,
  http: async () => (await import("./backends/webdav/mod.ts")).WebdavBackend,
  https: async () => (await import("./backends/webdav/mod.ts")).WebdavBackend,
  s3: async () => (await import("./backends/s3/mod.ts")).S3Backend,
  gs: async () => (await import("./backends/s3/mod.ts")).S3Backend,
  azure: async () => (await import("./backends/azure/mod.ts")).AzureBackend,
  multi: async () => (await import("./backends/multi/mod.ts")).MultiBackend,
  rclone: async () => (await import("./backends/rclone/mod.ts")).RcloneBackend,
  rsync: async () => (await import("./backends/rsync/mod.ts")).RsyncBackend,
};

/** Built-in prefixes (`prefix+scheme://`). */
const BUILTIN_PREFIXES: Readonly<Record<string, Loader>> = {
  par2: async () => (await import("./backends/par2/mod.ts")).Par2Backend,
  chaos: async () => (await import("./backends/chaos.ts")).ChaosBackend,
};

const schemes = new Map<string, BackendClass>();
const prefixes = new Map<string, BackendClass>();

function checkSchemeName(kind: string, name: string): string {
  const s = name.toLowerCase();
  if (!/^[a-z][a-z0-9.-]*(\+[a-z][a-z0-9.-]*)*$/.test(s)) {
    throw new BackendError(`Cannot register ${kind} "${name}": not a valid URL scheme`, {
      code: ErrorCode.user_error,
    });
  }
  return s;
}

/**
 * Make `scheme://...` URLs use `ctor`. Registering a taken scheme with another
 * class throws; registering the same class again is a no-op.
 *
 * @example
 * ```ts
 * import { Backend, registerBackend } from "@stowage/backends";
 * class MyBackend extends Backend {
 *   async _get(): Promise<void> {}
 *   async _put(): Promise<void> {}
 *   async _list(): Promise<string[]> { return []; }
 *   async _delete(): Promise<void> {}
 * }
 * registerBackend("mine", MyBackend);
 * ```
 */
export function registerBackend(scheme: string, ctor: BackendClass): void {
  const s = checkSchemeName("scheme", scheme);
  const have = schemes.get(s);
  if (have === ctor) return;
  if (have || (s in BUILTIN_SCHEMES)) {
    throw new BackendError(`Cannot register scheme "${s}": it is already taken`, {
      code: ErrorCode.user_error,
    });
  }
  schemes.set(s, ctor);
}

/**
 * Make `prefix+scheme://...` URLs use `ctor`, which receives the inner URL
 * (`scheme://...`) and reaches the inner store with `getBackendObject`.
 */
export function registerBackendPrefix(prefix: string, ctor: BackendClass): void {
  const p = checkSchemeName("prefix", prefix);
  const have = prefixes.get(p);
  if (have === ctor) return;
  if (have || (p in BUILTIN_PREFIXES)) {
    throw new BackendError(`Cannot register prefix "${p}": it is already taken`, {
      code: ErrorCode.user_error,
    });
  }
  prefixes.set(p, ctor);
}

/** Every known scheme, built-in and registered, sorted. */
export function knownSchemes(): string[] {
  return [...new Set([...Object.keys(BUILTIN_SCHEMES), ...schemes.keys()])].sort();
}

/** Every known prefix, built-in and registered, sorted. */
export function knownPrefixes(): string[] {
  return [...new Set([...Object.keys(BUILTIN_PREFIXES), ...prefixes.keys()])].sort();
}

async function resolveClass(
  table: Map<string, BackendClass>,
  builtins: Readonly<Record<string, Loader>>,
  key: string,
): Promise<BackendClass | undefined> {
  const have = table.get(key);
  if (have) return have;
  if (!Object.hasOwn(builtins, key)) return undefined;
  const ctor = await builtins[key]!();
  table.set(key, ctor);
  return ctor;
}

/** The backend class for a scheme, loading a built-in one if needed. */
export function backendClassFor(scheme: string): Promise<BackendClass | undefined> {
  return resolveClass(schemes, BUILTIN_SCHEMES, scheme.toLowerCase());
}

/** The meta-backend class for a prefix, loading a built-in one if needed. */
export function prefixClassFor(prefix: string): Promise<BackendClass | undefined> {
  return resolveClass(prefixes, BUILTIN_PREFIXES, prefix.toLowerCase());
}

/**
 * The raw backend for a URL (no retries): what meta backends use to reach
 * their inner store. Throws code 23 for a bad URL or an unknown scheme.
 */
export async function getBackendObject(
  url: string | ParsedUrl,
  options: BackendOptions = {},
): Promise<Backend> {
  const parsed = typeof url === "string" ? new ParsedUrl(url) : url;
  const scheme = parsed.scheme;
  const direct = await backendClassFor(scheme);
  if (direct) {
    // Refuse unknown option keys before any I/O, even for a class whose
    // constructor does not parse its declared table itself.
    if (direct.options) parseOptions(scheme, direct.options, options);
    return new direct(parsed, options);
  }
  const plus = scheme.indexOf("+");
  if (plus !== -1) {
    const prefix = scheme.slice(0, plus);
    const meta = await prefixClassFor(prefix);
    if (meta) {
      const inner = new ParsedUrl(parsed.geturl().slice(plus + 1));
      // The meta backend opens its inner store lazily; refuse a key that
      // neither it nor the inner backend knows now, before any I/O.
      await checkPrefixedOptions(scheme, meta, inner, options);
      return new meta(inner, options);
    }
    throw new BackendError(
      `Unknown backend prefix "${prefix}" in "${parsed.stripAuth()}"; known prefixes: ${
        knownPrefixes().join(", ") || "none"
      }`,
      { code: ErrorCode.user_error },
    );
  }
  throw new BackendError(
    `Unknown backend scheme "${scheme}" in "${parsed.stripAuth()}"; known schemes: ${
      knownSchemes().join(", ")
    }`,
    { code: ErrorCode.user_error },
  );
}

/**
 * Refuse (code 23) an option key that neither the meta backend `meta` nor
 * the backends under it declare; a key is fine when any class on the way
 * has no declared table (a third-party backend takes any keys).
 */
async function checkPrefixedOptions(
  scheme: string,
  meta: BackendClass,
  inner: ParsedUrl,
  options: BackendOptions,
): Promise<void> {
  const known = new Set(COMMON_OPTION_KEYS);
  let ctor: BackendClass | undefined = meta;
  let url: ParsedUrl | undefined = inner;
  while (ctor) {
    if (!ctor.options) return;
    for (const k of Object.keys(ctor.options)) known.add(k);
    if (!url) break;
    const s: string = url.scheme;
    const plus: number = s.indexOf("+");
    const direct: BackendClass | undefined = await backendClassFor(s);
    if (direct) {
      ctor = direct;
      url = undefined;
    } else if (plus !== -1) {
      ctor = await prefixClassFor(s.slice(0, plus));
      url = new ParsedUrl(url.geturl().slice(plus + 1));
    } else return; // an unknown scheme: the inner store reports it
  }
  for (const key of Object.keys(options)) {
    if (!known.has(key)) throw unknownOption(scheme, key, [...known]);
  }
}

/** Options for {@linkcode getBackend} when the scheme is not known at compile time. */
export type GetBackendOptions = WrapperOptions & BackendOptions;

/**
 * Each built-in scheme's option type. `getBackend` with a literal URL takes
 * the matching type (plus {@linkcode WrapperOptions}), so a misspelled key
 * fails `deno check`; other schemes take {@linkcode GetBackendOptions}.
 */
export interface SchemeOptions {
  /** `file://` */
  file: FileOptions;
  /** `memory://` */
  memory: MemoryOptions;
  /** `sftp://` */
  sftp: SftpOptions;
  /** `scp://` (same as sftp) */
  scp: SftpOptions;
  /** `ftp://` */
  ftp: FtpOptions;
  /** `ftps://` */
  ftps: FtpOptions;
  /** `webdav://` */
  webdav: WebdavOptions;
  /** `webdavs://` */
  webdavs: WebdavOptions;
  /** `http://` (WebDAV) */
  http: WebdavOptions;
  /** `https://` (WebDAV) */
  https: WebdavOptions;
  /** `s3://` */
  s3: S3Options;
  /** `gs://` (S3 interoperability) */
  gs: S3Options;
  /** `azure://` */
  azure: AzureOptions;
  /** `multi://` (duplicity's multibackend) */
  multi: MultiOptions;
  /** `rclone://` (every provider rclone reaches) */
  rclone: RcloneOptions;
  /** `rsync://` */
  rsync: RsyncOptions;
}

/** Each built-in prefix's option type (`par2+…`, `chaos+…`): its own keys plus the inner store's. */
export interface PrefixOptions {
  /** `par2+` */
  par2: Par2Options;
  /** `chaos+` */
  chaos: ChaosOptions;
}

/** The lower-cased scheme of a literal URL (`"S3://b"` → `"s3"`), or `never`. */
export type SchemeOf<U> = U extends `${infer S}://${string}` ? Lowercase<S>
  : U extends `${infer S}:${string}` ? Lowercase<S>
  : never;

/**
 * The options type for a URL string: typed for a built-in scheme (and for a
 * built-in prefix over one: `par2+s3://…` takes par2's keys and s3's), open
 * otherwise.
 */
export type OptionsFor<U> = string extends U ? GetBackendOptions
  : U extends `${infer P}+${infer Rest}`
    ? P extends `${string}${":" | "/"}${string}` ? SchemeOptionsFor<U>
    : Lowercase<P> extends keyof PrefixOptions ? PrefixOptions[Lowercase<P>] & OptionsFor<Rest>
    : GetBackendOptions
  : SchemeOptionsFor<U>;

/** The options type of a URL without a prefix. */
export type SchemeOptionsFor<U> = SchemeOf<U> extends keyof SchemeOptions
  ? SchemeOptions[SchemeOf<U>] & WrapperOptions
  : GetBackendOptions;

/**
 * The store for a URL, wrapped with retries, timeouts and validation.
 *
 * @example
 * ```ts
 * import { getBackend } from "@stowage/backends";
 * await using store = await getBackend("file:///tmp/stowage-example", { maxAttempts: 3 });
 * console.log(await store.list());
 * ```
 */
export async function getBackend<U extends string>(
  url: U | ParsedUrl,
  options: OptionsFor<U> = {} as OptionsFor<U>,
): Promise<BackendWrapper> {
  const opts = options as GetBackendOptions;
  const backend = await getBackendObject(url, opts);
  return new BackendWrapper(backend, opts);
}
