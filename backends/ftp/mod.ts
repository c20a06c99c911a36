/**
 * `ftp://` and `ftps://` — an FTP server, with duplicity's URLs:
 * `ftp://user[:password]@host[:port]/dir`, where `dir` is relative to the
 * folder the server logs you in to (`ftp://user@host//abs/dir` is absolute).
 * `ftps://` is explicit TLS (`AUTH TLS` on the normal port), with the
 * server's certificate verified against the system roots, or against
 * `caFile`. The password comes from the URL, else `FTP_PASSWORD`, else the
 * `askPassword` callback (asked once, at the first login).
 *
 * Transfers stream between the local file and the data connection (passive
 * mode by default, active mode with `activeMode`); puts go to a hidden
 * temporary name and are renamed over the final name, so a reader never sees
 * a partial file. Streamed reads ask for their byte range (`REST` + `RETR`,
 * cut short at the range's end) and streamed writes upload to a temporary
 * name too. One control connection is opened on first use and reused
 * (calls queue for it); `connections` allows a few in parallel. The
 * wrapper's `timeout` bounds every wait (connecting, replies, the clean-up
 * of a cancelled upload, which removes the temporary file at once).
 *
 * @example
 * ```ts ignore
 * import { getBackend } from "@stowage/backends";
 * Deno.env.set("FTP_PASSWORD", "secret");
 * await using store = await getBackend("ftps://backup@ftp.example.com/nightly", {
 *   caFile: "/etc/ssl/private-ca.pem",
 * });
 * await store.put("/var/backups/db.tar.gz", "db.tar.gz");
 * console.log(await store.list());
 * ```
 *
 * @module
 */

export { FtpBackend } from "./backend.ts";
export { FTP_OPTIONS, type FtpOptions } from "./options.ts";
