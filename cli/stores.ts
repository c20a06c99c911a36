/**
 * Opening stores for commands: local folders and URLs told apart, sub-folder
 * URLs (the store `U/a/b` for sub-folder `a/b` of `U`), `-o` options handed
 * only to the store that knows them (so `cp` between two schemes works), and
 * with `-v` every backend call logged with its time and outcome.
 *
 * @module
 */

import { resolve, sep } from "node:path";
import type { Backend } from "../core/backend.ts";
import { COMMON_OPTION_KEYS } from "../core/options.ts";
import { ParsedUrl } from "../core/url.ts";
import { BackendWrapper, type ProgressEvent } from "../core/wrapper.ts";
import { reasonOf } from "../core/errors.ts";
import { backendClassFor, getBackendObject, type GetBackendOptions } from "../registry.ts";
import type { Output } from "./output.ts";

/** Whether a command-line argument is a URL (`scheme://…` or `scheme:…`) rather than a local path. */
export function isUrl(arg: string): boolean {
  return /^[A-Za-z][A-Za-z0-9+.-]*:\/\//.test(arg) || /^file:/i.test(arg);
}

/** The `file://` URL of a local folder (each path segment percent-encoded). */
export function fileUrlOf(path: string): string {
  const abs = resolve(path);
  return `file://${abs.split(sep).map(encodeURIComponent).join("/")}`;
}

/**
 * The URL of sub-folder `rel` (`a/b`) of the store `url`: the path gets the
 * encoded segments, the query and fragment stay at the end.
 */
export function subUrl(url: string, rel: string): string {
  if (!rel) return url;
  const cut = url.search(/[?#]/);
  const head = cut === -1 ? url : url.slice(0, cut);
  const tail = cut === -1 ? "" : url.slice(cut);
  const segs = rel.split("/").filter(Boolean).map(encodeURIComponent).join("/");
  return `${head.replace(/\/+$/, "")}/${segs}${tail}`;
}

/** The keys a store class declares (undefined: it declares none, or is a prefix backend). */
async function declaredKeys(url: string): Promise<Set<string> | undefined> {
  try {
    const scheme = new ParsedUrl(url).scheme;
    const ctor = await backendClassFor(scheme);
    return ctor?.options ? new Set(Object.keys(ctor.options)) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The options for the store at `url` when a command also opens `others`: a
 * `-o` key this store does not declare, but another one does, is left out
 * (it was meant for the other); a key nobody declares stays, so the store
 * refuses it with its "did you mean" message.
 */
export async function optionsFor(
  url: string,
  base: GetBackendOptions,
  others: readonly string[] = [],
): Promise<GetBackendOptions> {
  const mine = await declaredKeys(url);
  if (!mine) return base;
  const theirs = await Promise.all(others.map(declaredKeys));
  const out: GetBackendOptions = {};
  for (const [key, value] of Object.entries(base)) {
    const common = COMMON_OPTION_KEYS.includes(key);
    if (!common && !mine.has(key) && theirs.some((t) => t?.has(key))) continue;
    out[key] = value;
  }
  return out;
}

/** Only the wrapper's own options (for the file:// store over a plain local folder). */
export function commonOptions(base: GetBackendOptions): GetBackendOptions {
  const out: GetBackendOptions = {};
  for (const [key, value] of Object.entries(base)) {
    if (COMMON_OPTION_KEYS.includes(key)) out[key] = value;
  }
  return out;
}

/** How to open a store. */
export interface OpenOptions {
  /** Where -v logs go. */
  out: Output;
  /** Progress events of this store (replaces the output's default counter). */
  onProgress?: (e: ProgressEvent) => void;
}

/**
 * The wrapped store for a URL, as `getBackend` makes it; with -v, each
 * backend call is logged (`store: _put "name" 12 ms ok`).
 */
export async function openStore(
  url: string,
  options: GetBackendOptions,
  { out, onProgress }: OpenOptions,
): Promise<BackendWrapper> {
  const opts: GetBackendOptions = { ...options };
  if (onProgress) opts.onProgress = onProgress;
  let backend = await getBackendObject(url, opts);
  if (out.verbosity >= 2) backend = logCalls(backend, out);
  return new BackendWrapper(backend, opts);
}

const LOGGED = new Set([
  "_get",
  "_put",
  "_list",
  "_delete",
  "_deleteList",
  "_query",
  "_queryList",
  "_move",
  "_retryCleanup",
  "_close",
]);

/** A view of `backend` that logs each underscore call with its duration and result. */
function logCalls(backend: Backend, out: Output): Backend {
  const where = backend.url.stripAuth();
  return new Proxy(backend, {
    get(target, prop) {
      const value = Reflect.get(target, prop, target);
      if (typeof prop !== "string" || !LOGGED.has(prop) || typeof value !== "function") {
        return value;
      }
      return async (...args: unknown[]) => {
        const what = describeArgs(prop, args);
        const t0 = performance.now();
        try {
          const result = await (value as (...a: unknown[]) => Promise<unknown>).apply(target, args);
          const ms = Math.round(performance.now() - t0);
          out.info(`${where}: ${prop}${what} ${ms} ms ok${describeResult(result)}`);
          return result;
        } catch (err) {
          const ms = Math.round(performance.now() - t0);
          out.info(`${where}: ${prop}${what} ${ms} ms failed: ${reasonOf(err)}`);
          throw err;
        }
      };
    },
  });
}

function describeArgs(method: string, args: unknown[]): string {
  const quote = (v: unknown) => JSON.stringify(v);
  switch (method) {
    case "_get":
    case "_delete":
    case "_query":
      return ` ${quote(args[0])}`;
    case "_put":
    case "_move":
      return ` ${quote(args[1])}`;
    case "_deleteList":
    case "_queryList": {
      const names = args[0] as string[];
      return names.length === 1 ? ` ${quote(names[0])}` : ` (${names.length} names)`;
    }
    default:
      return "";
  }
}

function describeResult(result: unknown): string {
  if (Array.isArray(result)) return ` (${result.length} names)`;
  if (result && typeof result === "object" && "size" in result) {
    return ` (size ${(result as { size: unknown }).size})`;
  }
  return "";
}
