/**
 * The options of `par2+`, declared once. Their keys carry a `par2` prefix so
 * they never clash with the inner store's options, which pass through.
 *
 * @module
 */

import type { OptionsInput } from "../../core/options.ts";

/** The options of `par2+<url>`: type, default, doc. */
export const PAR2_OPTIONS = {
  par2Redundancy: {
    type: "integer",
    min: 1,
    max: 1000,
    default: 10,
    doc: "Recovery data per file as a percentage of its size (par2 -r; duplicity's default 10).",
  },
  par2Volumes: {
    type: "integer",
    min: 1,
    max: 31,
    default: 1,
    doc: "Recovery volume files per file (par2 -n; duplicity's default 1).",
  },
  par2Path: {
    type: "string",
    default: "par2",
    doc: "The par2 program (Debian package par2): a name on the PATH or an absolute path.",
  },
  par2Args: {
    type: "list",
    default: [],
    doc: "Extra arguments for every par2 run, e.g. -m256 or -t2 (duplicity's --par2-options).",
  },
} as const;

/** Options for `Par2Backend` (the inner store's options pass through). */
export type Par2Options = OptionsInput<typeof PAR2_OPTIONS>;
