/**
 * `stowage cp SRC DST [NAME...]` and `stowage sync SRC DST`: copy every (or
 * the named) file between two places, each a URL or a local folder; sync
 * also deletes what the source no longer has.
 *
 * @module
 */

import type { Command } from "./context.ts";
import { COPY_FLAGS, runCopy, TRANSFER_HELP } from "./copy.ts";

const COMMON_HELP = `SRC and DST are each a URL or a local folder. A file already at DST with the
same size is skipped (with --checksum: the same size and checksum).

Options:
${TRANSFER_HELP}
  --force           copy every file, even those already there
  --dry-run         only print what would be copied (and deleted)
  -r, --recursive   also copy sub-folders, each as its own store (sub-folder a/b of
                    URL U is the store U/a/b). A local (or file://) SOURCE is walked
                    recursively. A remote source cannot list its sub-folders (stores
                    list file names only), so -r copies only its top folder and warns;
                    copy a remote sub-folder by naming it: cp U/a/b DIR/a/b

Between two stores each file goes through one temporary local file (one per
transfer in flight; removed at once), never through memory. A file that still
fails after the retries is reported and the run goes on; the exit status is 0
only when every file landed, else the code of the first failure.
With --json: one line per file ({"type":"file",...}) and a summary line.`;

/** `cp`: copy files from SRC to DST. */
export const cp: Command = {
  name: "cp",
  summary: "Copy files between URLs and local folders (skips files already there)",
  usage: "stowage cp [options] SRC DST [NAME...]",
  help: `Copies every file of SRC (or only the NAMEs; a/b/NAME names one in a
sub-folder) to DST. ${COMMON_HELP}`,
  options: { ...COPY_FLAGS },
  arity: [2, Infinity],
  run: (ctx) => runCopy(ctx, false),
};

/** `sync`: make DST hold what SRC holds. */
export const sync: Command = {
  name: "sync",
  summary: "Make DST hold exactly what SRC holds (copies, then deletes extra files)",
  usage: "stowage sync [options] SRC DST",
  help: `Copies as cp does, then deletes the files at DST that SRC does not have.
Deleting is refused (exit 23, before anything changes) when it would remove more
than --max-delete files (default 100) or more than --max-delete-percent of DST's
files (default 50): a net against an empty or wrong SOURCE. --force deletes anyway.
Nothing is deleted when any copy failed. ${COMMON_HELP}
  --max-delete N            the file limit (default 100)
  --max-delete-percent P    the share limit in percent (default 50)`,
  options: {
    ...COPY_FLAGS,
    "max-delete": { type: "string" },
    "max-delete-percent": { type: "string" },
  },
  arity: [2, 2],
  run: (ctx) => runCopy(ctx, true),
};
