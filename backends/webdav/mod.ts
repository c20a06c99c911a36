/**
 * `webdav://` and `webdavs://` (and their aliases `http://` and `https://`,
 * as in duplicity) — a folder on a WebDAV server (Apache mod_dav, nginx,
 * `rclone serve webdav`, Nextcloud, ...).
 *
 * `webdav://user:pass@host:port/path/` talks to `http://host:port/path/`
 * with Basic auth (the password comes from the URL, else `FTP_PASSWORD`,
 * else the `askPassword` callback, asked at the first request). Uploads go
 * through the shared `Http1Client` (Deno sockets, the body streamed from
 * the file through one reused buffer with `Content-Length`); gets through
 * Deno's `fetch`; the other requests (and every request with
 * `insecureSkipVerify`, which Deno's TLS cannot do) on
 * `node:http`/`node:https`. Connections are kept alive and reused across
 * calls, bodies stream from and to disk (memory stays flat with file size),
 * and TLS certificates are verified unless the `insecureSkipVerify` option
 * says otherwise.
 *
 * - A put goes to a hidden temporary name in the folder (`PUT`), then
 *   `MOVE`s onto the final name with `Overwrite: T`; the temporary file is
 *   deleted when anything fails or the operation is cancelled. Missing
 *   folders are made with `MKCOL` on the first put.
 * - A list is one `PROPFIND` with `Depth: 1` (never `infinity`, which Apache
 *   refuses); sub-folders are left out and a missing folder lists as empty.
 * - Redirects (301, 302, 303, 307, 308) are followed, up to `maxRedirects`;
 *   when the folder itself moved, later requests go straight to the new
 *   place. Credentials are only sent to the URL's own host, and a redirect
 *   from `https` to plain `http` is refused.
 * - Errors: 401/403 → 51 (not retried), 404 → 52, 507 → 53, 429/503 → 58
 *   (retried, honouring `Retry-After`), other 5xx and dropped connections
 *   retried; an untrusted TLS certificate → 60 (not retried).
 *
 * @example
 * ```ts ignore
 * import { getBackend } from "@stowage/backends";
 * await using store = await getBackend("webdavs://alice@dav.example.com/backups/host1", {
 *   caFile: "/etc/ssl/private-ca.pem",
 *   headers: "X-Tenant: ops",
 * });
 * console.log(await store.list());
 * ```
 *
 * @module
 */

export { WebdavBackend } from "./backend.ts";
export { WEBDAV_OPTIONS, type WebdavOptions } from "./options.ts";
