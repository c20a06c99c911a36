/**
 * Declaring a backend's options once. A backend writes one `as const` table
 * of {@linkcode OptionSpec}s (name, type, default, doc); from it come the
 * TypeScript type users pass ({@linkcode OptionsInput}), the parsed settings
 * the backend reads ({@linkcode OptionsParsed}), the runtime parser for CLI
 * strings and library values ({@linkcode parseOptions}), the help/README table
 * ({@linkcode describeOptions}) and the list of known keys. An unknown key is
 * refused with code 23 before any I/O, naming the closest known key.
 *
 * @module
 */

import { BackendError, ErrorCode } from "./errors.ts";

/** What every option spec has. */
export interface SpecBase {
  /** One sentence for `--help` and the README. */
  readonly doc: string;
  /** The value is a secret: never echoed in errors or help. */
  readonly secret?: boolean;
}

/** A free string. */
export interface StringSpec extends SpecBase {
  /** The kind of value. */
  readonly type: "string";
  /** The default. */
  readonly default?: string;
}

/** A number (`integer` refuses fractions); strings from the CLI are parsed. */
export interface NumberSpec extends SpecBase {
  /** The kind of value. */
  readonly type: "number" | "integer";
  /** The default. */
  readonly default?: number;
  /** Smallest value accepted. */
  readonly min?: number;
  /** Largest value accepted. */
  readonly max?: number;
}

/** A size in bytes: a number or `16M`, `5MiB`, `1G`. */
export interface BytesSpec extends SpecBase {
  /** The kind of value. */
  readonly type: "bytes";
  /** The default (a number or a size string like `"16M"`). */
  readonly default?: number | string;
  /** Smallest size accepted, in bytes. */
  readonly min?: number;
  /** Largest size accepted, in bytes. */
  readonly max?: number;
}

/** A duration in milliseconds: a number of ms or `500ms`, `30s`, `2m`, `1h`. */
export interface DurationSpec extends SpecBase {
  /** The kind of value. */
  readonly type: "duration";
  /** The default (milliseconds or a string like `"30s"`). */
  readonly default?: number | string;
  /** Smallest duration accepted, in ms. */
  readonly min?: number;
  /** Largest duration accepted, in ms. */
  readonly max?: number;
}

/** A boolean: `true/false`, `yes/no`, `1/0`, `on/off`. */
export interface BooleanSpec extends SpecBase {
  /** The kind of value. */
  readonly type: "boolean";
  /** The default. */
  readonly default?: boolean;
}

/** One of a fixed set of strings. */
export interface EnumSpec extends SpecBase {
  /** The kind of value. */
  readonly type: "enum";
  /** The values accepted. */
  readonly values: readonly string[];
  /** The default. */
  readonly default?: string;
  /** Compare without regard to case (the value is returned as declared). */
  readonly ignoreCase?: boolean;
}

/** A list of strings: an array, or a comma-separated string. */
export interface ListSpec extends SpecBase {
  /** The kind of value. */
  readonly type: "list";
  /** The default. */
  readonly default?: readonly string[];
}

/** A value passed only from code (a function or an object); never from the CLI. */
export interface ValueSpec extends SpecBase {
  /** The kind of value. */
  readonly type: "value";
}

/** One option's declaration. */
export type OptionSpec =
  | StringSpec
  | NumberSpec
  | BytesSpec
  | DurationSpec
  | BooleanSpec
  | EnumSpec
  | ListSpec
  | ValueSpec;

/** A backend's whole option table: key → spec. */
export type OptionSpecs = { readonly [key: string]: OptionSpec };

/** The parsed type of one spec. */
export type ValueOf<S> = S extends { type: "enum"; values: readonly (infer V)[] } ? V
  : S extends { type: "string" } ? string
  : S extends { type: "number" | "integer" | "bytes" | "duration" } ? number
  : S extends { type: "boolean" } ? boolean
  : S extends { type: "list" } ? string[]
  : unknown;

/** What a caller may pass for one spec: the parsed type, or a CLI string. */
export type InputOf<S> = S extends { type: "enum"; values: readonly (infer V)[] } ? V
  : S extends { type: "list" } ? string[] | string
  : S extends { type: "value" } ? unknown
  : ValueOf<S> | string;

/**
 * The options a caller passes for a table: every key optional, values typed
 * (CLI strings accepted too). A misspelled key in an object literal fails
 * `deno check`.
 */
export type OptionsInput<T extends OptionSpecs> = { -readonly [K in keyof T]?: InputOf<T[K]> };

/** The parsed settings: keys with a default are always set. */
export type OptionsParsed<T extends OptionSpecs> = {
  -readonly [K in keyof T]: T[K] extends { default: unknown } ? ValueOf<T[K]>
    : ValueOf<T[K]> | undefined;
};

/**
 * Keys every backend accepts without declaring them: the wrapper's own
 * options (retries, timeouts, signal, callbacks) and the password prompt.
 */
export const COMMON_OPTION_KEYS: readonly string[] = [
  "maxAttempts",
  "minTimeout",
  "maxTimeout",
  "multiplier",
  "jitter",
  "timeout",
  "signal",
  "sleep",
  "random",
  "log",
  "onProgress",
  "abortGrace",
  "staleAfter",
  "closeGrace",
  "now",
  "askPassword",
];

/** How {@linkcode parseOptions} treats keys outside the table. */
export interface ParseOptionsMode {
  /** Keep unknown keys in `rest` instead of refusing them (meta backends pass them inward). */
  allowUnknown?: boolean;
}

/** The result of {@linkcode parseOptionsWithRest}: the settings and the keys not in the table. */
export interface ParsedWithRest<T extends OptionSpecs> {
  /** The parsed settings. */
  settings: OptionsParsed<T>;
  /** The keys the table does not know (common keys included), untouched. */
  rest: Record<string, unknown>;
}

/**
 * Parse and validate options against a table: unknown keys are refused with
 * code 23 naming the closest known key; each value is checked against its
 * spec (code 23 naming the key and what it accepts); defaults filled in.
 *
 * @example
 * ```ts
 * import { parseOptions } from "@stowage/backends/kit";
 * const SPECS = {
 *   partSize: { type: "bytes", default: "16M", min: 5242880, doc: "Size of one part." },
 * } as const;
 * const settings = parseOptions("s3", SPECS, { partSize: "32M" });
 * console.log(settings.partSize); // 33554432
 * ```
 */
export function parseOptions<T extends OptionSpecs>(
  scheme: string,
  specs: T,
  input: Readonly<Record<string, unknown>> = {},
): OptionsParsed<T> {
  return parseOptionsWithRest(scheme, specs, input, { allowUnknown: false }).settings;
}

/**
 * {@linkcode parseOptions} that also hands back the keys the table does not
 * know, for a meta backend to pass to its inner store.
 */
export function parseOptionsWithRest<T extends OptionSpecs>(
  scheme: string,
  specs: T,
  input: Readonly<Record<string, unknown>> = {},
  mode: ParseOptionsMode = { allowUnknown: true },
): ParsedWithRest<T> {
  const settings: Record<string, unknown> = {};
  const rest: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(input)) {
    if (Object.hasOwn(specs, key)) continue;
    if (!mode.allowUnknown && !COMMON_OPTION_KEYS.includes(key)) {
      throw unknownOption(scheme, key, Object.keys(specs));
    }
    rest[key] = value;
  }
  for (const [key, spec] of Object.entries(specs)) {
    const raw = input[key];
    const given = raw !== undefined && raw !== null && !(raw === "" && spec.type !== "string");
    const value = given ? raw : spec.type === "value" ? undefined : spec.default;
    settings[key] = value === undefined ? undefined : parseValue(scheme, key, spec, value);
  }
  return { settings: settings as OptionsParsed<T>, rest };
}

/** The code-23 error for an unknown key, with a suggestion when one is close. */
export function unknownOption(scheme: string, key: string, known: readonly string[]): BackendError {
  const near = closest(key, known);
  const hint = near
    ? `; did you mean "${near}"?`
    : known.length
    ? `; known options: ${[...known].sort().join(", ")}`
    : `; ${scheme}:// takes no options`;
  return new BackendError(`Unknown option "${key}" for ${scheme}://${hint}`, {
    code: ErrorCode.user_error,
  });
}

/** The known key nearest to `key` (edit distance ≤ a third of its length, at least 2), if any. */
export function closest(key: string, known: readonly string[]): string | undefined {
  const lower = key.toLowerCase();
  let best: string | undefined;
  let bestDist = Math.max(2, Math.floor(key.length / 3)) + 1;
  for (const k of known) {
    const d = k.toLowerCase() === lower ? 0 : editDistance(lower, k.toLowerCase());
    if (d < bestDist) {
      best = k;
      bestDist = d;
    }
  }
  return best;
}

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      const sub = prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1);
      cur[j] = Math.min(prev[j]! + 1, cur[j - 1]! + 1, sub);
    }
    prev = cur;
  }
  return prev[b.length]!;
}

function bad(scheme: string, key: string, spec: OptionSpec, value: unknown, want: string): never {
  const shown = spec.secret ? "the value given" : JSON.stringify(value);
  throw new BackendError(
    `Invalid option "${key}" for ${scheme}://: ${shown} is not ${want}`,
    { code: ErrorCode.user_error },
  );
}

function inRange(
  scheme: string,
  key: string,
  spec: NumberSpec | BytesSpec | DurationSpec,
  raw: unknown,
  n: number,
  unit: string,
): number {
  if (spec.min !== undefined && n < spec.min) {
    bad(scheme, key, spec, raw, `at least ${spec.min}${unit}`);
  }
  if (spec.max !== undefined && n > spec.max) {
    bad(scheme, key, spec, raw, `at most ${spec.max}${unit}`);
  }
  return n;
}

function parseValue(scheme: string, key: string, spec: OptionSpec, v: unknown): unknown {
  switch (spec.type) {
    case "value":
      return v;
    case "string":
      if (typeof v === "string") return v;
      if (typeof v === "number" || typeof v === "boolean") return String(v);
      return bad(scheme, key, spec, v, "a string");
    case "number":
    case "integer": {
      const n = typeof v === "number" ? v : typeof v === "string" ? Number(v.trim()) : NaN;
      if (!Number.isFinite(n)) return bad(scheme, key, spec, v, "a number");
      if (spec.type === "integer" && !Number.isInteger(n)) {
        return bad(scheme, key, spec, v, "a whole number");
      }
      return inRange(scheme, key, spec, v, n, "");
    }
    case "bytes": {
      const n = parseBytes(v);
      if (n === undefined) return bad(scheme, key, spec, v, "a size such as 16M");
      return inRange(scheme, key, spec, v, n, " bytes");
    }
    case "duration": {
      const n = parseDuration(v);
      if (n === undefined) return bad(scheme, key, spec, v, "a duration such as 30s or 500ms");
      return inRange(scheme, key, spec, v, n, " ms");
    }
    case "boolean": {
      if (typeof v === "boolean") return v;
      const s = typeof v === "string" ? v.trim().toLowerCase() : "";
      if (["1", "true", "yes", "on"].includes(s)) return true;
      if (["0", "false", "no", "off"].includes(s)) return false;
      return bad(scheme, key, spec, v, "true or false");
    }
    case "enum": {
      const s = typeof v === "string" ? v.trim() : undefined;
      const hit = s === undefined
        ? undefined
        : spec.values.find((x) => spec.ignoreCase ? x.toLowerCase() === s.toLowerCase() : x === s);
      return hit ?? bad(scheme, key, spec, v, `one of ${spec.values.join(", ")}`);
    }
    case "list":
      if (Array.isArray(v) && v.every((x) => typeof x === "string")) return [...v];
      if (typeof v === "string") return v.split(",").map((s) => s.trim()).filter(Boolean);
      return bad(scheme, key, spec, v, "a list of strings");
  }
}

/** A byte size from a number or a string like `16M`, `5MiB`, `1.5G`; `undefined` when malformed. */
export function parseBytes(v: unknown): number | undefined {
  let n: number;
  if (typeof v === "number") n = v;
  else if (typeof v === "string") {
    const m = /^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(i?b?)\s*$/i.exec(v);
    if (!m) return undefined;
    const unit = { "": 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4 }[
      m[2]!.toLowerCase() as "" | "k" | "m" | "g" | "t"
    ];
    n = Math.round(Number(m[1]) * unit);
  } else return undefined;
  return Number.isFinite(n) && n >= 0 ? n : undefined;
}

/** A duration in ms from a number (ms) or `500ms`, `30s`, `2m`, `1h`; `undefined` when malformed. */
export function parseDuration(v: unknown): number | undefined {
  if (typeof v === "number") return Number.isFinite(v) && v >= 0 ? v : undefined;
  if (typeof v !== "string") return undefined;
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$/i.exec(v);
  if (!m) return undefined;
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[
    (m[2] ?? "ms").toLowerCase() as "ms" | "s" | "m" | "h"
  ];
  return Math.round(Number(m[1]) * unit);
}

/** One row of an options table, for `--help`, `stowage backends` and the README. */
export interface OptionDoc {
  /** The key. */
  name: string;
  /** What it accepts (`bytes`, `integer 1..64`, `one of a, b`). */
  type: string;
  /** The default, as text; empty when none. */
  default: string;
  /** The sentence from the spec. */
  doc: string;
}

/** The rows of a table's documentation, in declaration order. */
export function describeOptions(specs: OptionSpecs): OptionDoc[] {
  return Object.entries(specs).map(([name, s]) => {
    let type: string = s.type;
    if (s.type === "enum") type = `one of ${s.values.join(", ")}`;
    else if ("min" in s || "max" in s) {
      const r = s as NumberSpec;
      type += ` ${r.min ?? ""}..${r.max ?? ""}`;
    }
    const d = "default" in s && s.default !== undefined && !s.secret
      ? Array.isArray(s.default) ? s.default.join(",") : String(s.default)
      : "";
    return { name, type, default: d, doc: s.doc };
  });
}
