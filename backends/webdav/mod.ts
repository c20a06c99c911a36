/**
 * `webdav://` and `webdavs://` (and their aliases `http://` and `https://`,
 * as in duplicity) — a folder on a WebDAV server (Apache mod_dav, nginx,
 * `rclone serve webdav`, Nextcloud, ...).
 *
 * `webdav://user:pass@host:port/path/` talks to `http://host:port/path/`
 * with Basic auth (the password comes from the URL, else `FTP_PASSWORD`,
 * else the `askPassword` callback, asked at the first request). File
 * uploads go through the shared `Http1Client` (Deno sockets, the body
 * streamed from the file through one reused buffer with `Content-Length`);
 * gets and ranged reads through Deno's `fetch`; streamed writes and the
 * other requests (and every request with `insecureSkipVerify`, which Deno's
 * TLS cannot do) on `node:http`/`node:https`. Connections are kept alive
 * and reused across calls, bodies stream from and to disk or the caller's
 * stream (memory stays flat with file size), and TLS certificates are
 * verified unless the `insecureSkipVerify` option says otherwise.
 *
 * - A put goes to a hidden temporary name in the folder (`PUT`), then
 *   `MOVE`s onto the final name with `Overwrite: T`: two round trips. The
 *   temporary file is deleted when anything fails or the operation is
 *   cancelled (within a second). The folder is checked once per store and
 *   made with `MKCOL` (parents first) before the first put. A size check
 *   right after a put (`validate`) is answered from the upload itself when
 *   the server acknowledged the whole body (201/204 to the `PUT` and the
 *   `MOVE`), without another request.
 * - `read` is one `GET` with a `Range` header (exactly the bytes asked,
 *   even from a server that ignores ranges); `write` streams a `PUT` to a
 *   temporary name (`Content-Length` when the size is given, else chunked)
 *   and `MOVE`s it into place on close.
 * - A list is one `PROPFIND` with `Depth: 1` (never `infinity`, which Apache
 *   refuses); sub-folders are left out; a missing folder is code 52.
 * - Redirects (301, 302, 303, 307, 308) are followed, up to `maxRedirects`;
 *   when the folder itself moved, later requests go straight to the new
 *   place. Credentials are only sent to the URL's own host, and a redirect
 *   from `https` to plain `http` is refused.
 * - Errors: 401/403 → 51 (not retried), 404 → 52, 507 → 53, 429/503 → 58
 *   (retried, honouring `Retry-After`), other 5xx and dropped connections
 *   retried; a name over 255 bytes the server refuses → 59; an untrusted
 *   TLS certificate, or TLS spoken to a plain port → 60 (not retried); a
 *   server that does not speak HTTP → 38 at once, quoting what it said.
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
