/**
 * duplicity's multibackend configuration: a JSON list of stores,
 *
 * ```json
 * [
 *   { "url": "sftp://user@host/backups", "description": "offsite",
 *     "env": [{ "name": "FTP_PASSWORD", "value": "..." }], "prefixes": ["duplicity-full"] },
 *   { "url": "file:///mnt/usb/backups" }
 * ]
 * ```
 *
 * plus one stowage addition, `options`: backend options for that store
 * (e.g. `knownHostsFile` for sftp). Keys are checked: a misspelled one is
 * code 23 rather than silently ignored.
 *
 * @module
 */

import { BackendError, errnoCode, ErrorCode, reasonOf } from "../../core/errors.ts";
import { closest } from "../../core/options.ts";

/** One store of the configuration. */
export interface StoreConfig {
  /** The store's URL, with the subpath appended. */
  url: string;
  /** A name for messages. */
  description?: string;
  /** Environment variables set (process-wide) before the store is built. */
  env: { name: string; value: string }[];
  /** Name prefixes this store has affinity for. */
  prefixes: string[];
  /** Backend options for this store (stowage's addition). */
  options: Record<string, unknown>;
}

const KEYS = ["url", "description", "env", "prefixes", "options"];

/** Read and check the configuration file at `path`. */
export async function readConfig(
  path: string,
  subpath: string,
  mode: string,
): Promise<StoreConfig[]> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (err) {
    const code = errnoCode(err) ?? ErrorCode.user_error;
    const why = code === ErrorCode.backend_not_found ? "no such file" : reasonOf(err);
    throw new BackendError(`Cannot read the multi config "${path}": ${why}`, { code, cause: err });
  }
  return parseConfig(text, path, subpath, mode);
}

/** Check a configuration's text; every problem is code 23 naming the entry. */
export function parseConfig(
  text: string,
  path: string,
  subpath: string,
  mode: string,
): StoreConfig[] {
  const bad = (why: string): never => {
    throw new BackendError(`Invalid multi config "${path}": ${why}`, {
      code: ErrorCode.user_error,
    });
  };
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    return bad(`not valid JSON (${reasonOf(err)})`);
  }
  if (!Array.isArray(raw)) return bad("it must be a JSON list of stores");
  if (raw.length === 0) return bad("it names no stores");
  const stores = raw.map((entry, i) => parseEntry(entry, `store ${i + 1}`, subpath, bad));
  if (mode === "stripe" && stores.some((s) => s.prefixes.length)) {
    bad("prefix affinity is not supported in stripe mode (as in duplicity); use mode=mirror");
  }
  const seen = new Map<string, string>();
  for (const s of stores) {
    for (const { name, value } of s.env) {
      const before = seen.get(name);
      if (before !== undefined && before !== value) {
        bad(
          `two stores set the environment variable ${name} to different values; ` +
            "the environment is shared by the whole process: put the setting in the URL or options",
        );
      }
      seen.set(name, value);
    }
  }
  return stores;
}

function parseEntry(
  entry: unknown,
  where: string,
  subpath: string,
  bad: (why: string) => never,
): StoreConfig {
  if (typeof entry !== "object" || entry === null || Array.isArray(entry)) {
    return bad(`${where} must be an object with a "url"`);
  }
  const e = entry as Record<string, unknown>;
  for (const key of Object.keys(e)) {
    if (!KEYS.includes(key)) {
      const near = closest(key, KEYS);
      bad(`${where} has an unknown key "${key}"${near ? `; did you mean "${near}"?` : ""}`);
    }
  }
  if (typeof e.url !== "string" || !e.url) bad(`${where} has no "url"`);
  if (e.description !== undefined && typeof e.description !== "string") {
    bad(`${where}: "description" must be a string`);
  }
  const env = e.env ?? [];
  if (
    !Array.isArray(env) ||
    !env.every((v) =>
      typeof v === "object" && v !== null && typeof v.name === "string" && v.name &&
      typeof v.value === "string"
    )
  ) {
    bad(`${where}: "env" must be a list of {"name": ..., "value": ...}`);
  }
  const prefixes = e.prefixes ?? [];
  if (!Array.isArray(prefixes) || !prefixes.every((p) => typeof p === "string")) {
    bad(`${where}: "prefixes" must be a list of strings`);
  }
  const options = e.options ?? {};
  if (typeof options !== "object" || options === null || Array.isArray(options)) {
    bad(`${where}: "options" must be an object`);
  }
  return {
    url: withSubpath(e.url as string, subpath),
    ...(typeof e.description === "string" ? { description: e.description } : {}),
    env: (env as { name: string; value: string }[]).map(({ name, value }) => ({ name, value })),
    prefixes: prefixes as string[],
    options: options as Record<string, unknown>,
  };
}

/**
 * `url` with `subpath` appended to its path, as duplicity does (plain text,
 * no `/` added), but before any query or fragment.
 */
export function withSubpath(url: string, subpath: string): string {
  if (!subpath) return url;
  const cut = url.search(/[?#]/);
  return cut === -1 ? url + subpath : url.slice(0, cut) + subpath + url.slice(cut);
}
