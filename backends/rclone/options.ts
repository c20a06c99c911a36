/**
 * The options of `rclone://`, declared once: type, default and doc.
 *
 * @module
 */

import type { OptionsInput, OptionsParsed } from "../../core/options.ts";

/** The options of `rclone://`. */
export const RCLONE_OPTIONS = {
  program: {
    type: "string",
    default: "rclone",
    doc: "The rclone program to run: a name on PATH or a path.",
  },
  config: {
    type: "string",
    doc: "The rclone config file (rclone's --config); default rclone's own " +
      "(RCLONE_CONFIG, else ~/.config/rclone/rclone.conf).",
  },
  flags: {
    type: "list",
    default: [],
    doc: "Extra rclone flags for every command, such as --sftp-disable-hashcheck " +
      "(comma-separated; from code pass an array when a value holds a comma).",
  },
  env: {
    type: "value",
    secret: true,
    doc: "Extra environment variables for rclone, such as RCLONE_CONFIG_<NAME>_TYPE " +
      "to define the remote (an object of strings, from code; on the command line export them).",
  },
  tempUpload: {
    type: "boolean",
    default: true,
    doc: "Upload to a hidden temporary name, then rclone moveto it into place, so a failed " +
      "upload never shows under the name (object stores are atomic already: false saves a copy).",
  },
} as const;

/** Options for {@linkcode RcloneBackend}, as a caller passes them. */
export type RcloneOptions = OptionsInput<typeof RCLONE_OPTIONS>;

/** The parsed settings the backend keeps. */
export type RcloneSettings = OptionsParsed<typeof RCLONE_OPTIONS>;
