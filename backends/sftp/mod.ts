/**
 * `sftp://` and `scp://` — a folder on an SSH server, over SFTP.
 *
 * URLs are duplicity's: `sftp://user[:pass]@host[:port]/rel/dir` is relative
 * to the login folder, `sftp://user@host//abs/dir` is absolute. The folder is
 * created (like `mkdir -p`) on the first put. `scp://` is the same backend.
 *
 * Two transports ("engines") carry the same small SFTP client
 * (`sftp_client.ts`, SFTP version 3 with the `@openssh.com` extensions):
 *
 * - `openssh` (the default when an `ssh` program is on PATH) runs the system
 *   OpenSSH client as `ssh -s host sftp` and speaks SFTP over its stdin and
 *   stdout (a Unix socket when perl is at hand). Encryption runs in
 *   OpenSSH's native code, 2–3× faster than `ssh2` under Deno, and no npm
 *   code is loaded. OpenSSH reads the ssh config itself (`Match`,
 *   `Include`, `ProxyJump`, certificates, `~/.ssh/id_*`), with
 *   `StrictHostKeyChecking=yes` unless an option says otherwise, and never
 *   prompts on the terminal (`BatchMode=yes`); a password or key passphrase
 *   reaches it only through the environment of a private askpass helper.
 *   For a fast start it offers `curve25519-sha256` first (the `kex` option
 *   changes that) and, on Linux, connects through a small perl dialer that
 *   sets `TCP_NODELAY` (`openssh_dial.ts`), unless the ssh config has its
 *   own settings for those.
 * - `ssh2` (pure JavaScript, the fallback, loaded only when used) reads
 *   `HostName`, `Port`, `User` and `IdentityFile` from `~/.ssh/config` and
 *   checks host keys against `~/.ssh/known_hosts` itself.
 *
 * Both log in as OpenSSH does: the ssh-agent (`SSH_AUTH_SOCK`), then the
 * identity files (the `identityFile` option, else the ssh config's, else
 * `~/.ssh/id_ed25519`, `id_ecdsa` and `id_rsa`), then the password: from the
 * URL, else `FTP_PASSWORD`, else the `askPassword` callback in the options,
 * which is called only when the server refused the agent and the keys and
 * offers password login.
 *
 * An unknown host is refused with code 60 unless `acceptNewHostKey` is set,
 * which records its key (OpenSSH `StrictHostKeyChecking=accept-new`); a host
 * whose key differs from the recorded one is always refused. A wrong
 * password fails once with code 51; a server that greets in another
 * protocol fails at once with code 38. Every wait is bounded by the
 * caller's timeout.
 *
 * Transfers are pipelined (up to `concurrency` outstanding reads or writes of
 * `chunkSize` bytes) and streamed from and to disk, so memory stays flat with
 * file size; `read()` asks for the bytes of a range only, and `write()`
 * streams without a local copy. A put goes to a temporary name in the folder
 * and is renamed over the final name with `posix-rename@openssh.com`
 * (atomic) where the server offers it, once every write, the flush
 * (`fsync@openssh.com`, the `fsync` option) and the close were answered OK;
 * on OpenSSH's sftp-server, which answers in order, the flush and the close
 * are sent right behind the writes. The size check after a put is answered
 * from what the server acknowledged, without another round trip. Listing a
 * folder that does not exist is code 52; the first put makes it. One
 * connection is reused for every call.
 *
 * Where things are: `backend.ts` (the class), `options.ts`, `error.ts` (codes
 * and messages), `known_hosts.ts` (host-key check), `ssh_config.ts`,
 * `auth.ts` (keys and password), `engine_openssh.ts` with `openssh_args.ts`,
 * `openssh_dial.ts`, `openssh_pipe.ts` and `ssh_log.ts`, `engine_ssh2.ts`,
 * `connection.ts`, `session.ts`, `sftp_client.ts` with `sftp_wire.ts`,
 * `writer.ts` and `reader.ts` (pipelined requests), `transfer.ts` (upload,
 * download, streams), `remote_files.ts` (list, mkdir, rename, remove, stat).
 *
 * @example
 * ```ts ignore
 * import { getBackend } from "@stowage/backends";
 * await using store = await getBackend("sftp://backup@example.com/backups/host1", {
 *   identityFile: "/root/.ssh/backup_ed25519",
 * });
 * console.log(await store.list());
 * ```
 *
 * @module
 */

export { SftpBackend } from "./backend.ts";
export { SFTP_OPTIONS, type SftpOptions } from "./options.ts";
