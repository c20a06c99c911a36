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
 *   Requests carry a SAS for the one blob or container, signed locally when
 *   the credential is an account key (the given SAS otherwise). Keys and
 *   tokens never appear in messages.
 * - `transport.ts`: gets, listings and the block-list commit use Deno's
 *   `fetch`; upload bodies a small HTTP/1.1 client on Deno sockets (with a
 *   proxy set in the environment, `fetch` too, the block then read into
 *   memory); container creation, deletes and queries the SDK over
 *   `node:http`. The SDK's own retries are off (`maxTries: 1`): stowage's
 *   wrapper retries, honouring `Retry-After`.
 * - `writer.ts`: puts are block blobs: a file up to `blockSize` goes up in
 *   one Put Blob; a larger one in `blockSize` blocks (Put Block),
 *   `concurrency` at a time, made visible by one Put Block List. Both are
 *   atomic, so a failed or cancelled put leaves nothing (and an overwrite
 *   leaves the old content) under the name. Memory stays flat whatever the
 *   file or block size.
 * - `reader.ts`: a get asks for the first `blockSize` bytes; a larger
 *   blob's rest comes in `concurrency` equal byte ranges (each at least
 *   `blockSize`) fetched in parallel and written at their offsets, every
 *   range pinned to the first answer's ETag (If-Match), so a blob replaced
 *   during the download fails the attempt (retried) instead of mixing
 *   versions. Lengths are checked.
 * - `lister.ts`: listing is paginated (`pageSize`) and returns only the
 *   direct children of the prefix.
 * - `deleter.ts`: deletes of several names use one Blob Batch request per
 *   256 names (falling back to parallel single deletes when the server
 *   refuses batches).
 * - `error.ts`: 404 → code 52, 401/403 → 51 (not retried); 429/503 → 58 and
 *   5xx, refused or dropped connections → retried; an untrusted TLS
 *   certificate → 60.
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
