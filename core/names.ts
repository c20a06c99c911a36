/**
 * Remote file names: what a valid name is, and the temporary names backends
 * upload to before renaming into place.
 *
 * @module
 */

import type { NameLimits } from "./backend.ts";
import { BackendError, ErrorCode } from "./errors.ts";

const encoder = new TextEncoder();

/**
 * Why a name cannot be used, or `undefined` when it can: names are flat (no
 * `/`), not empty, not `.` or `..`, free of NUL, and within the store's
 * declared limits.
 */
export function nameProblem(name: unknown, limits: NameLimits = {}): string | undefined {
  if (typeof name !== "string") return "a name must be a string";
  if (name === "") return "the name is empty";
  if (name === "." || name === "..") return `"${name}" is not a file name`;
  if (name.includes("/")) return "a name cannot contain /";
  if (name.includes("\0")) return "a name cannot contain a NUL character";
  if (limits.maxBytes !== undefined && encoder.encode(name).length > limits.maxBytes) {
    return `the name is longer than ${limits.maxBytes} bytes`;
  }
  if (limits.forbiddenChars) {
    for (const c of name) {
      if (limits.forbiddenChars.includes(c)) {
        return `this store cannot hold ${JSON.stringify(c)} in a name`;
      }
    }
  }
  if (limits.noLeadingSpace && name.startsWith(" ")) {
    return "this store cannot hold a leading space";
  }
  if (limits.noTrailingSpace && name.endsWith(" ")) {
    return "this store cannot hold a trailing space";
  }
  return undefined;
}

/** Throw a code-23 {@linkcode BackendError} when a name cannot be used. */
export function checkName(name: unknown, limits: NameLimits = {}, operation?: string): string {
  const problem = nameProblem(name, limits);
  if (problem) {
    throw new BackendError(`Invalid name ${JSON.stringify(name)}: ${problem}`, {
      code: ErrorCode.user_error,
      ...(operation ? { operation } : {}),
    });
  }
  return name as string;
}

/** The prefix of temporary upload names; `stowage` cleans these up and tools may hide them. */
export const TEMP_PREFIX = ".stowage-tmp-";

/**
 * A temporary name to upload `name` to before renaming it into place:
 * hidden, unique, carrying the time it was made (so a later run can tell a
 * stale one left by a killed process from a fresh one still being written,
 * on any store, without asking for modification times), and short (the
 * final name is cut to 40 safe characters).
 *
 * `now` is injectable for tests; default `Date.now()`.
 */
export function tempName(name: string, now: number = Date.now()): string {
  // Unique, not secret: Math.random is enough, and cheaper than a call into the runtime.
  const tag = Math.floor(Math.random() * 0x1_0000_0000).toString(16).padStart(8, "0");
  const safe = name.replace(/[^A-Za-z0-9._-]/g, "_").slice(0, 40);
  return `${TEMP_PREFIX}${Math.floor(now).toString(36)}-${tag}-${safe}`;
}

/** Whether a name is one of stowage's temporary upload names. */
export function isTempName(name: string): boolean {
  return name.startsWith(TEMP_PREFIX);
}

/**
 * When a temporary upload name was made (ms since the epoch), or `undefined`
 * for a name without a time (not stowage's, or from before times were kept).
 */
export function tempNameTime(name: string): number | undefined {
  if (!isTempName(name)) return undefined;
  const m = /^([0-9a-z]{6,11})-[0-9a-f]{8}-/.exec(name.slice(TEMP_PREFIX.length));
  if (!m) return undefined;
  const t = parseInt(m[1]!, 36);
  return Number.isFinite(t) ? t : undefined;
}
