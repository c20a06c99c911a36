/**
 * `azure://container[/prefix]` — Azure Blob Storage (and Azurite), with
 * duplicity's URL form and environment variables.
 *
 * One concern per file in this folder:
 * - `options.ts`: the options, declared once; an unknown key (say
 *   `blocksize`) is refused with code 23 before any request, naming the
 *   closest known one (`blockSize`).
 * - `credentials.ts`: credentials, first found wins: the options
 *   `connectionString`, or `accountKey` / `sasToken` (with `accountName` or
 *   `endpoint`); then the environment: `AZURE_CONNECTION_STRING`
 *   (duplicity's name) or `AZURE_STORAGE_CONNECTION_STRING`;
 *   `AZURE_STORAGE_ACCOUNT` + `AZURE_STORAGE_KEY` (or duplicity's
 *   `AZURE_ACCOUNT_NAME` + `AZURE_ACCOUNT_KEY`); a SAS token in
 *   `AZURE_STORAGE_SAS_TOKEN` (or duplicity's
 *   `AZURE_SHARED_ACCESS_SIGNATURE`) with the account name or `endpoint`.
 *   A connection string is read here too, so no request needs the SDK.
 * - `sas.ts`: requests carry a SAS for the one blob or container, signed
 *   locally with WebCrypto when the credential is an account key (the given
 *   SAS otherwise). Keys and tokens never appear in messages.
 * - `transport.ts`: every request goes through Deno's `fetch`, except
 *   upload bodies, which a small HTTP/1.1 client on Deno sockets streams
 *   from the file (with a proxy set in the environment, `fetch` too, the
 *   block then read into memory). No SDK is loaded: a get or a put costs no
 *   more memory than its buffers (a 1 GiB get stays under 64 MiB of RSS).
 *   Every request carries the operation's signal, so `--timeout` and Ctrl-C
 *   end it at once; a server that does not speak HTTP fails at once (38,
 *   quoting what it said); TLS to a plain port is 60.
 * - `writer.ts`: puts are block blobs: a file up to `blockSize` goes up in
 *   one Put Blob; a larger one in `blockSize` blocks (Put Block),
 *   `concurrency` at a time, made visible by one Put Block List. Both are
 *   atomic, so a failed or cancelled put leaves nothing (and an overwrite
 *   leaves the old content) under the name. Memory stays flat whatever the
 *   file or block size. The container is created when a put finds it
 *   missing (then the put is sent again), so a small put is one request.
 * - `stream_writer.ts`: `write()` (`_openWrite`) stages the stream's blocks
 *   as they fill, `concurrency` at a time with back pressure, and commits
 *   them at the end (one Put Blob when it all fits one block).
 * - `committed.ts`: the size of a blob this store just committed answers
 *   the size check that follows a put (`validate`), once, instead of a Get
 *   Blob Properties request (why that is safe is written there).
 * - `reader.ts`: a get asks for the first `blockSize` bytes; a larger
 *   blob's rest comes in `concurrency` equal byte ranges (each at least
 *   `blockSize`) fetched in parallel and piped into the file at their
 *   offsets, every range pinned to the first answer's ETag (If-Match), so
 *   a blob replaced during the download fails the attempt (retried) instead
 *   of mixing versions. Lengths are checked. `read()` (`_openRead`) is one
 *   ranged GET whose body is the stream.
 * - `lister.ts`: listing is paginated (`pageSize`) and returns only the
 *   direct children of the prefix; a prefix that holds nothing lists
 *   empty, a container that does not exist is code 52 naming it.
 * - `deleter.ts`, `batch.ts`: deletes of several names use one Blob Batch
 *   request per 256 names (falling back to parallel single deletes when the
 *   server refuses batches).
 * - `error.ts`: 404 → code 52, 401/403 → 51 (not retried); 429/503 → 58 and
 *   5xx, refused or dropped connections → retried; a name too long (more
 *   than 1,024 characters with the folder, or 400 OutOfRangeInput) → 59;
 *   an untrusted TLS certificate, or TLS to a plain port → 60.
 *
 * @example
 * ```ts ignore
 * import { getBackend } from "@stowage/backends";
 * // AZURE_CONNECTION_STRING (or account + key, or a SAS token) in the environment
 * await using store = await getBackend("azure://backups/host1", { tier: "Cool" });
 * await store.put("/var/backups/full.tar.gpg");
 * console.log(await store.list());
 * ```
 *
 * @module
 */

export { AzureBackend } from "./backend.ts";
export { AZURE_OPTIONS, type AzureOptions } from "./options.ts";
