/**
 * Reading backend options. Options come from code (typed values) or from the
 * command line (`-o key=value`, strings), so each reader accepts both and
 * rejects anything else with a clear code-23 error naming the option.
 *
 * @module
 */

import type { BackendOptions } from "./backend.ts";
import { BackendError, ErrorCode } from "./errors.ts";

function bad(key: string, value: unknown, want: string): never {
  throw new BackendError(`Invalid option "${key}": ${JSON.stringify(value)} is not ${want}`, {
    code: ErrorCode.user_error,
  });
}

/** A string option, or `undefined` when unset. */
export function optString(options: BackendOptions, key: string): string | undefined {
  const v = options[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v === "string") return v;
  if (typeof v === "number" || typeof v === "boolean") return String(v);
  return bad(key, v, "a string");
}

/** A number option (strings are parsed), or `undefined` when unset. */
export function optNumber(
  options: BackendOptions,
  key: string,
  range: { min?: number; max?: number; integer?: boolean } = {},
): number | undefined {
  const v = options[key];
  if (v === undefined || v === null || v === "") return undefined;
  const n = typeof v === "number" ? v : typeof v === "string" ? Number(v.trim()) : NaN;
  if (!Number.isFinite(n)) return bad(key, v, "a number");
  if (range.integer && !Number.isInteger(n)) return bad(key, v, "a whole number");
  if (range.min !== undefined && n < range.min) return bad(key, v, `at least ${range.min}`);
  if (range.max !== undefined && n > range.max) return bad(key, v, `at most ${range.max}`);
  return n;
}

/** A byte-size option: a number or a string like `16M`, `5MiB`, `1G`. */
export function optBytes(
  options: BackendOptions,
  key: string,
  range: { min?: number; max?: number } = {},
): number | undefined {
  const v = options[key];
  if (v === undefined || v === null || v === "") return undefined;
  let n: number;
  if (typeof v === "number") n = v;
  else if (typeof v === "string") {
    const m = /^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(i?b?)\s*$/i.exec(v);
    if (!m) return bad(key, v, "a size such as 16M");
    const unit = { "": 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4 }[
      m[2]!.toLowerCase() as "" | "k" | "m" | "g" | "t"
    ];
    n = Math.round(Number(m[1]) * unit);
  } else return bad(key, v, "a size");
  if (!Number.isFinite(n) || n < 0) return bad(key, v, "a size");
  if (range.min !== undefined && n < range.min) return bad(key, v, `at least ${range.min} bytes`);
  if (range.max !== undefined && n > range.max) return bad(key, v, `at most ${range.max} bytes`);
  return n;
}

/** A boolean option: `true/false`, `yes/no`, `1/0`, `on/off`; `undefined` when unset. */
export function optBool(options: BackendOptions, key: string): boolean | undefined {
  const v = options[key];
  if (v === undefined || v === null || v === "") return undefined;
  if (typeof v === "boolean") return v;
  if (typeof v === "string") {
    const s = v.trim().toLowerCase();
    if (["1", "true", "yes", "on"].includes(s)) return true;
    if (["0", "false", "no", "off"].includes(s)) return false;
  }
  return bad(key, v, "true or false");
}

/** A string option restricted to some values. */
export function optEnum<T extends string>(
  options: BackendOptions,
  key: string,
  values: readonly T[],
): T | undefined {
  const v = optString(options, key);
  if (v === undefined) return undefined;
  if ((values as readonly string[]).includes(v)) return v as T;
  return bad(key, v, `one of ${values.join(", ")}`);
}

/** A list-of-strings option: an array, or a comma-separated string. */
export function optList(options: BackendOptions, key: string): string[] | undefined {
  const v = options[key];
  if (v === undefined || v === null || v === "") return undefined;
  if (Array.isArray(v) && v.every((x) => typeof x === "string")) return v as string[];
  if (typeof v === "string") return v.split(",").map((s) => s.trim()).filter(Boolean);
  return bad(key, v, "a list of strings");
}
