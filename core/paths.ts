/**
 * The three local path helpers the core needs (`basename`, `dirname`,
 * `join`), written here rather than taken from `node:path`: the first
 * `node:` import of a Deno process sets up the Node compatibility layer,
 * about 6 MiB, which a get or a listing never needs otherwise. Separators
 * are `/`, and also `\` on Windows; the results match `node:path` for the
 * paths the core builds (a file path, a folder and a name).
 *
 * @example
 * ```ts
 * import { basename, dirname, join } from "./paths.ts";
 *
 * console.log(basename("/tmp/a/b.txt"), dirname("/tmp/a/b.txt"), join("/tmp/a", "c"));
 * // b.txt /tmp/a /tmp/a/c
 * ```
 *
 * @module
 */

const WINDOWS = Deno.build.os === "windows";

function isSep(c: string | undefined): boolean {
  return c === "/" || (WINDOWS && c === "\\");
}

/** `path` without its trailing separators (a lone root stays). */
function trimEnd(path: string): string {
  let end = path.length;
  while (end > 1 && isSep(path[end - 1])) end--;
  return path.slice(0, end);
}

/** The index of the last separator in `path`, or -1. */
function lastSep(path: string): number {
  for (let i = path.length - 1; i >= 0; i--) if (isSep(path[i])) return i;
  return -1;
}

/** The last part of `path` (`"b.txt"` for `"/tmp/a/b.txt"`), as `node:path`'s `basename`. */
export function basename(path: string): string {
  const p = trimEnd(path);
  if (p.length === 1 && isSep(p)) return "";
  return p.slice(lastSep(p) + 1);
}

/** The folder part of `path` (`"/tmp/a"` for `"/tmp/a/b.txt"`), as `node:path`'s `dirname`. */
export function dirname(path: string): string {
  const p = trimEnd(path);
  const i = lastSep(p);
  if (i === -1) return ".";
  return i === 0 ? p[0]! : p.slice(0, i);
}

/** `folder` and `name` joined with one separator (`"."` for two empty parts). */
export function join(folder: string, name: string): string {
  if (!folder) return name || ".";
  if (!name) return folder;
  return isSep(folder[folder.length - 1]) ? `${folder}${name}` : `${folder}/${name}`;
}
