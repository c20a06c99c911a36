/**
 * `rsync://` — a folder on an rsync daemon or on any host reachable over
 * ssh, through the Debian `rsync` program run as a subprocess, one run per
 * operation.
 *
 * URLs are duplicity's:
 * - `rsync://[user[:password]@]host[:port]::[/]module/path` — an rsync
 *   daemon. The password (URL, else `FTP_PASSWORD`, else the caller's
 *   `askPassword` when a user is named) reaches rsync only through
 *   `RSYNC_PASSWORD`; without one rsync gets an empty one and never prompts.
 * - `rsync://user@host[:port]/relative/path` — over ssh, relative to the
 *   login folder; `rsync://user@host[:port]//absolute/path` is absolute.
 *   ssh runs with `BatchMode=yes` (keys or an agent; it never prompts); the
 *   options `identityFile`, `knownHostsFile`, `sshConfig`, `sshOptions` and
 *   `port` shape its command line (a port in the URL wins).
 *
 * How each operation runs:
 * - put: `rsync --mkpath -I local host::module/path/name` — rsync writes a
 *   hidden temporary file next to the name and renames it into place, so a
 *   failed or cancelled put never shows under the name.
 * - get: `rsync -I host::module/path/name local` (the remote rsync expands
 *   wildcards in source paths, so `*`, `?`, `[` are escaped).
 * - list and query: one `rsync --list-only` of the folder (regular files
 *   only; a missing folder is code 52).
 * - delete: one `rsync -d --delete --include=/name ... --exclude=*` from
 *   an empty local folder, so missing names are fine.
 * - Exit statuses become codes in error.ts (5 and 10 → 38 or 51 when the
 *   daemon refused the login; 23 with "No such file" → 52; 255 ssh → 38,
 *   60 for a host key; ...).
 *
 * @example
 * ```ts ignore
 * import { getBackend } from "@stowage/backends";
 * await using store = await getBackend("rsync://backup@nas.lan::backups/host1");
 * console.log(await store.list());
 * ```
 *
 * @module
 */

export { RsyncBackend } from "./backend.ts";
export { RSYNC_OPTIONS, type RsyncOptions } from "./options.ts";
export type { RsyncTarget } from "./target.ts";
