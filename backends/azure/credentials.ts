/**
 * Azure credentials, with duplicity's environment variables, first found
 * wins: the options `connectionString`, or `accountKey` / `sasToken` (with
 * `accountName` or `endpoint`); then the environment:
 * `AZURE_CONNECTION_STRING` (duplicity's name) or
 * `AZURE_STORAGE_CONNECTION_STRING`; `AZURE_STORAGE_ACCOUNT` +
 * `AZURE_STORAGE_KEY` (or duplicity's `AZURE_ACCOUNT_NAME` +
 * `AZURE_ACCOUNT_KEY`); a SAS token in `AZURE_STORAGE_SAS_TOKEN` (or
 * duplicity's `AZURE_SHARED_ACCESS_SIGNATURE`) with the account name or
 * `endpoint`. Also the SDK client built from them, and request signing:
 * with an account key, a SAS for one blob or container is signed locally.
 * Keys and tokens never appear in messages.
 *
 * @module
 */

import {
  type BlobClient,
  BlobSASPermissions,
  BlobServiceClient,
  type ContainerClient,
  ContainerSASPermissions,
  type StoragePipelineOptions,
  StorageSharedKeyCredential,
} from "@azure/storage-blob";
import { BackendError, ErrorCode } from "../../core/errors.ts";
import { scrub } from "./error.ts";
import type { AzureSettings } from "./options.ts";

/** How long a locally signed SAS is valid (checked only when a request starts). */
const SAS_LIFETIME_MS = 24 * 3600_000;

/** How the client authenticates, resolved from options and environment (no I/O). */
export type AzureCredentials =
  | { kind: "connectionString"; connectionString: string; source: string }
  | { kind: "key"; endpoint: string; accountName: string; accountKey: string; source: string }
  | { kind: "sas"; endpoint: string; sasToken: string; source: string };

/** The credential settings read here. */
type CredentialSettings = Pick<
  AzureSettings,
  "connectionString" | "accountName" | "accountKey" | "sasToken" | "endpoint"
>;

/** An environment variable; unset, empty or unreadable (no --allow-env) is `undefined`. */
export function envVar(name: string): string | undefined {
  try {
    const v = Deno.env.get(name);
    return v === undefined || v === "" ? undefined : v;
  } catch {
    return undefined; // no --allow-env: as if unset
  }
}

function firstEnv(...names: string[]): { value: string; source: string } | undefined {
  for (const n of names) {
    const value = envVar(n);
    if (value !== undefined) return { value, source: n };
  }
  return undefined;
}

/** Credentials from options first, then the environment; code 23 naming what to set when none. */
export function resolveCredentials(settings: CredentialSettings): AzureCredentials {
  const endpointOpt = settings.endpoint?.replace(/\/+$/, "");
  const accountOpt = settings.accountName || undefined;
  const endpointFor = (account: string | undefined): string | undefined =>
    endpointOpt ?? (account ? `https://${account}.blob.core.windows.net` : undefined);
  const needEndpoint = (what: string, source: string): never => {
    throw new BackendError(
      `the ${what} from ${source} needs an account name: set AZURE_STORAGE_ACCOUNT (or the option ` +
        `accountName), or the option endpoint`,
      { code: ErrorCode.user_error },
    );
  };
  if (endpointOpt !== undefined && !/^https?:\/\/[^/]/.test(endpointOpt)) {
    throw new BackendError(`Invalid option "endpoint": it must be an http:// or https:// URL`, {
      code: ErrorCode.user_error,
    });
  }
  const envAccount = () => firstEnv("AZURE_STORAGE_ACCOUNT", "AZURE_ACCOUNT_NAME")?.value;

  if (settings.connectionString) {
    return {
      kind: "connectionString",
      connectionString: settings.connectionString,
      source: "the option connectionString",
    };
  }
  if (settings.accountKey) {
    const account = accountOpt ?? envAccount();
    if (!account) return needEndpoint("account key", "the option accountKey");
    return {
      kind: "key",
      endpoint: endpointFor(account)!,
      accountName: account,
      accountKey: settings.accountKey,
      source: "the option accountKey",
    };
  }
  if (settings.sasToken) {
    const endpoint = endpointFor(accountOpt ?? envAccount()) ??
      needEndpoint("SAS token", "the option sasToken");
    return {
      kind: "sas",
      endpoint,
      sasToken: settings.sasToken.replace(/^\?/, ""),
      source: "the option sasToken",
    };
  }

  const envCs = firstEnv("AZURE_CONNECTION_STRING", "AZURE_STORAGE_CONNECTION_STRING");
  if (envCs) {
    return { kind: "connectionString", connectionString: envCs.value, source: envCs.source };
  }
  const account = accountOpt
    ? { value: accountOpt, source: "the option accountName" }
    : firstEnv("AZURE_STORAGE_ACCOUNT", "AZURE_ACCOUNT_NAME");
  const key = firstEnv("AZURE_STORAGE_KEY", "AZURE_ACCOUNT_KEY");
  if (key) {
    if (!account) return needEndpoint("account key", key.source);
    return {
      kind: "key",
      endpoint: endpointFor(account.value)!,
      accountName: account.value,
      accountKey: key.value,
      source: key.source,
    };
  }
  const sas = firstEnv("AZURE_STORAGE_SAS_TOKEN", "AZURE_SHARED_ACCESS_SIGNATURE");
  if (sas) {
    const endpoint = endpointFor(account?.value) ?? needEndpoint("SAS token", sas.source);
    return { kind: "sas", endpoint, sasToken: sas.value.replace(/^\?/, ""), source: sas.source };
  }
  throw new BackendError(
    "no Azure credentials: set AZURE_CONNECTION_STRING (or AZURE_STORAGE_CONNECTION_STRING), or " +
      "AZURE_STORAGE_ACCOUNT with AZURE_STORAGE_KEY or AZURE_STORAGE_SAS_TOKEN, or pass the options " +
      "connectionString / accountName + accountKey / sasToken",
    { code: ErrorCode.user_error },
  );
}

/**
 * The SDK's service client for the credentials, its own retries off
 * (`maxTries: 1`: stowage's wrapper retries). `agent` is honoured by the
 * pipeline (core-rest-pipeline's agentPolicy) though StoragePipelineOptions
 * does not list it. A malformed connection string or endpoint is code 23.
 */
export function serviceClient(creds: AzureCredentials, agent?: unknown): BlobServiceClient {
  const opts = { retryOptions: { maxTries: 1 }, ...(agent ? { agent } : {}) } as
    & StoragePipelineOptions
    & { agent?: unknown };
  try {
    if (creds.kind === "connectionString") {
      return BlobServiceClient.fromConnectionString(creds.connectionString, opts);
    }
    if (creds.kind === "key") {
      return new BlobServiceClient(
        creds.endpoint,
        new StorageSharedKeyCredential(creds.accountName, creds.accountKey),
        opts,
      );
    }
    return new BlobServiceClient(`${creds.endpoint}?${creds.sasToken}`, undefined, opts);
  } catch (err) {
    throw new BackendError(
      `the Azure credentials from ${creds.source} are not usable (${
        creds.kind === "connectionString" ? "the connection string is malformed" : "bad endpoint"
      })`,
      {
        code: ErrorCode.user_error,
        cause: new Error(scrub(err instanceof Error ? err.message : String(err))),
      },
    );
  }
}

/**
 * A URL for the blob with the `permissions` asked (`r`, or `cw` to write):
 * with an account key, a SAS for this one blob signed locally; with a SAS
 * token, the blob URL that already carries it.
 */
export async function signedBlobUrl(blob: BlobClient, permissions: string): Promise<string> {
  if (blob.credential instanceof StorageSharedKeyCredential) {
    return await blob.generateSasUrl({
      permissions: BlobSASPermissions.parse(permissions),
      expiresOn: new Date(Date.now() + SAS_LIFETIME_MS),
    });
  }
  return blob.url;
}

/** The container URL with a SAS that may list it (signed locally with an account key). */
export async function signedContainerUrl(container: ContainerClient): Promise<string> {
  if (container.credential instanceof StorageSharedKeyCredential) {
    return await container.generateSasUrl({
      permissions: ContainerSASPermissions.parse("l"),
      expiresOn: new Date(Date.now() + SAS_LIFETIME_MS),
    });
  }
  return container.url;
}
