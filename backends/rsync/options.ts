/**
 * The options of `rsync://`, declared once: type, default and doc.
 *
 * @module
 */

import type { OptionsInput, OptionsParsed } from "../../core/options.ts";

/** The options of `rsync://`. */
export const RSYNC_OPTIONS = {
  program: {
    type: "string",
    default: "rsync",
    doc: "The rsync program to run: a name on PATH or a path.",
  },
  flags: {
    type: "list",
    default: [],
    doc: "Extra rsync options for every command, such as --bwlimit=10m (duplicity's " +
      "--rsync-options; comma-separated, from code pass an array when a value holds a comma).",
  },
  port: {
    type: "integer",
    min: 1,
    max: 65535,
    doc:
      "The port: the rsync daemon's (default 873) or ssh's (default 22); a port in the URL wins.",
  },
  sshCommand: {
    type: "string",
    default: "ssh",
    doc: "The ssh program rsync runs for rsync://user@host/path URLs.",
  },
  identityFile: {
    type: "string",
    doc: "The private key ssh logs in with (ssh -i, with IdentitiesOnly=yes).",
  },
  knownHostsFile: {
    type: "string",
    doc: "The known_hosts file ssh checks the host key against (UserKnownHostsFile).",
  },
  sshConfig: {
    type: "string",
    doc: 'The ssh config file (ssh -F); "none" reads none.',
  },
  sshOptions: {
    type: "list",
    default: [],
    doc: "Extra ssh arguments, such as -oCompression=yes (duplicity's --ssh-options).",
  },
} as const;

/** Options for {@linkcode RsyncBackend}, as a caller passes them. */
export type RsyncOptions = OptionsInput<typeof RSYNC_OPTIONS>;

/** The parsed settings the backend keeps. */
export type RsyncSettings = OptionsParsed<typeof RSYNC_OPTIONS>;
