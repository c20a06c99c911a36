/**
 * Where an `rclone://` URL points, with duplicity's rule: the text after
 * `rclone://` is an rclone path, and its first `:/` becomes `:`, so
 * `rclone://remote:/dir` means `remote:dir` (relative to the remote's root
 * or login folder) and `rclone://remote://abs/dir` means `remote:/abs/dir`.
 *
 * @module
 */

import { BackendError, ErrorCode } from "../../core/errors.ts";
import type { ParsedUrl } from "../../core/url.ts";

/** The rclone path (`remote:dir`) an `rclone://` URL names. */
export function remotePath(url: ParsedUrl): string {
  const raw = url.path.startsWith("//") ? url.path.slice(2) : url.path;
  if (!raw) {
    throw new BackendError(
      `Invalid URL "${url.stripAuth()}": it names no rclone remote (write rclone://remote:path)`,
      { code: ErrorCode.user_error },
    );
  }
  return raw.replace(":/", ":");
}

/** The rclone path of `name` inside the folder `base`. */
export function joinRemote(base: string, name: string): string {
  return base.endsWith(":") || base.endsWith("/") ? `${base}${name}` : `${base}/${name}`;
}
