/**
 * Azure credentials, with duplicity's environment variables, first found
 * wins: the options `connectionString`, or `accountKey` / `sasToken` (with
 * `accountName` or `endpoint`); then the environment:
 * `AZURE_CONNECTION_STRING` (duplicity's name) or
 * `AZURE_STORAGE_CONNECTION_STRING`; `AZURE_STORAGE_ACCOUNT` +
 * `AZURE_STORAGE_KEY` (or duplicity's `AZURE_ACCOUNT_NAME` +
 * `AZURE_ACCOUNT_KEY`); a SAS token in `AZURE_STORAGE_SAS_TOKEN` (or
 * duplicity's `AZURE_SHARED_ACCESS_SIGNATURE`) with the account name or
 * `endpoint`. A connection string is read here (the SDK's rules:
 * `UseDevelopmentStorage=true`, `AccountName` + `AccountKey` with
 * `BlobEndpoint` or `DefaultEndpointsProtocol` + `EndpointSuffix`, or
 * `SharedAccessSignature` with `BlobEndpoint`), so that no request needs the
 * SDK. Keys and tokens never appear in messages.
 *
 * @module
 */

import { BackendError, ErrorCode } from "../../core/errors.ts";
import type { AzureSettings } from "./options.ts";

/** Azurite's well-known development account (`UseDevelopmentStorage=true`). */
const DEV_ACCOUNT = "devstoreaccount1";
const DEV_KEY =
  "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";
const DEV_ENDPOINT = "http://127.0.0.1:10000/devstoreaccount1";

/**
 * How the client authenticates, resolved from options and environment (no
 * I/O): an account key (requests carry a SAS signed locally) or a SAS token;
 * a connection string becomes one of the two. `endpoint` has no trailing `/`.
 */
export type AzureCredentials =
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
    return fromConnectionString(settings.connectionString, "the option connectionString");
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
  if (envCs) return fromConnectionString(envCs.value, envCs.source);
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
 * The credentials a connection string holds, by the SDK's rules (see the
 * module doc); code 23 naming `source` (never the string) when unusable.
 */
export function fromConnectionString(text: string, source: string): AzureCredentials {
  const bad = (what: string): never => {
    throw new BackendError(`the Azure connection string from ${source} is not usable: ${what}`, {
      code: ErrorCode.user_error,
    });
  };
  const dev = /^\s*UseDevelopmentStorage=true/i.test(text);
  const parts = new Map<string, string>();
  for (const piece of text.split(";")) {
    const at = piece.indexOf("=");
    if (at > 0) parts.set(piece.slice(0, at).trim().toLowerCase(), piece.slice(at + 1).trim());
  }
  const get = (k: string) => parts.get(k.toLowerCase()) || undefined;
  if (dev) {
    return {
      kind: "key",
      endpoint: DEV_ENDPOINT,
      accountName: DEV_ACCOUNT,
      accountKey: DEV_KEY,
      source,
    };
  }
  const account = get("AccountName");
  let endpoint = get("BlobEndpoint")?.replace(/\/+$/, "");
  if (endpoint === undefined && account) {
    const protocol = (get("DefaultEndpointsProtocol") ?? "https").toLowerCase();
    if (protocol !== "https" && protocol !== "http") {
      bad("DefaultEndpointsProtocol must be https or http");
    }
    endpoint = `${protocol}://${account}.blob.${get("EndpointSuffix") ?? "core.windows.net"}`;
  }
  if (endpoint !== undefined && !/^https?:\/\/[^/]/.test(endpoint)) {
    bad("BlobEndpoint must be an http:// or https:// URL");
  }
  const key = get("AccountKey");
  if (key) {
    if (!account) return bad("it has an AccountKey but no AccountName");
    return { kind: "key", endpoint: endpoint!, accountName: account, accountKey: key, source };
  }
  const sas = get("SharedAccessSignature");
  if (!sas) return bad("it has neither AccountKey nor SharedAccessSignature");
  if (!endpoint) return bad("a SharedAccessSignature needs BlobEndpoint (or AccountName)");
  return { kind: "sas", endpoint, sasToken: sas.replace(/^\?/, ""), source };
}
