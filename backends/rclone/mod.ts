/**
 * `rclone://` — every provider rclone reaches (S3, Google Drive, OneDrive,
 * Dropbox, B2, SFTP, WebDAV, ...), through the Debian `rclone` program run
 * as a subprocess, one command per operation.
 *
 * URLs are duplicity's: `rclone://remote:/dir` means the rclone path
 * `remote:dir` (the first `:/` becomes `:`), `rclone://remote://abs/dir`
 * means `remote:/abs/dir`. The remote comes from rclone's config file
 * (option `config`, else rclone's default) or entirely from
 * `RCLONE_CONFIG_<NAME>_*` environment variables, inherited or given in
 * the `env` option.
 *
 * - Gets stream from `rclone cat`; puts stream into `rclone rcat --size`
 *   under a hidden temporary name, then `rclone moveto` it into place, so a
 *   failed put never leaves a partial file under the name (rclone 1.60
 *   writes in place on local, SFTP and FTP remotes); on failure the
 *   temporary file is deleted. Object stores' uploads are atomic already:
 *   option `tempUpload: false` puts straight to the name.
 * - Lists with `rclone lsjson --files-only`; queries with
 *   `lsjson --stat` or `lsjson --files-from-raw`; deletes with
 *   `rclone deletefile` and `rclone delete --files-from-raw`, with
 *   `--low-level-retries 1` so a missing file fails once, not three times.
 * - Every command runs with `--retries 1` (the wrapper retries) and
 *   `--ask-password=false` (never prompts); option `flags` adds flags.
 * - Exit statuses become codes (error.ts): 3 and 4 → 52 (not found),
 *   7 → 51 (fatal, not retried), 10 → 57, others → 54, refined by rclone's
 *   error line (credentials 51, host key 60, space 53, connection 38).
 *
 * @example
 * ```ts ignore
 * import { getBackend } from "@stowage/backends";
 * // A remote defined only by environment variables:
 * await using store = await getBackend("rclone://nas:/backups/host1", {
 *   env: {
 *     RCLONE_CONFIG_NAS_TYPE: "sftp",
 *     RCLONE_CONFIG_NAS_HOST: "nas.lan",
 *     RCLONE_CONFIG_NAS_USER: "backup",
 *     RCLONE_CONFIG_NAS_KEY_FILE: "/home/me/.ssh/id_ed25519",
 *   },
 * });
 * console.log(await store.list());
 * ```
 *
 * @module
 */

export { RcloneBackend } from "./backend.ts";
export { RCLONE_OPTIONS, type RcloneOptions } from "./options.ts";
