/**
 * The settings of `multi://`: `mode`, `onfail` and `subpath`, from the URL
 * query as duplicity reads them (an unknown or repeated query key is code
 * 23) or from options of the same names (which win).
 *
 * @module
 */

import { BackendError, ErrorCode } from "../../core/errors.ts";
import {
  closest,
  type OptionsInput,
  type OptionsParsed,
  parseOptions,
} from "../../core/options.ts";
import type { ParsedUrl } from "../../core/url.ts";

/** The options of `multi://`, declared once; each is also a URL query key. */
export const MULTI_OPTIONS = {
  mode: {
    type: "enum",
    values: ["stripe", "mirror"],
    default: "stripe",
    doc: "mirror: every file to every eligible store; stripe: one store per file, round-robin.",
  },
  onfail: {
    type: "enum",
    values: ["continue", "abort"],
    default: "continue",
    doc: "When a store gives up on a write: go on with the next store, or fail at once.",
  },
  subpath: {
    type: "string",
    default: "",
    doc: "Text appended to every store URL's path, as duplicity does (no / is added).",
  },
} as const;

/** Options for `MultiBackend`. */
export type MultiOptions = OptionsInput<typeof MULTI_OPTIONS>;

/** The parsed settings. */
export type MultiSettings = OptionsParsed<typeof MULTI_OPTIONS>;

/**
 * The settings from the URL query and the options (options win). A query
 * key multi does not know, or one given twice, is code 23.
 */
export function multiSettings(
  url: ParsedUrl,
  options: Readonly<Record<string, unknown>>,
): MultiSettings {
  const known = Object.keys(MULTI_OPTIONS);
  const fromQuery: Record<string, string> = {};
  for (const [key, values] of Object.entries(url.queryArgs)) {
    if (!known.includes(key)) {
      const near = closest(key, known);
      throw new BackendError(
        `Invalid URL "${url.stripAuth()}": unknown query key "${key}"${
          near ? `; did you mean "${near}"?` : `; multi:// knows ${known.join(", ")}`
        }`,
        { code: ErrorCode.user_error },
      );
    }
    if (values.length !== 1) {
      throw new BackendError(
        `Invalid URL "${url.stripAuth()}": the query key "${key}" is given more than once`,
        { code: ErrorCode.user_error },
      );
    }
    fromQuery[key] = values[0]!;
  }
  const given = Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined));
  return parseOptions("multi", MULTI_OPTIONS, { ...fromQuery, ...given });
}
