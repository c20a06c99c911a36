/**
 * The options of `azure://`, declared once: type, default, doc. Every
 * credential option also has an environment variable (see credentials.ts).
 *
 * @module
 */

import type { OptionsInput, OptionsParsed } from "../../core/options.ts";

/** The options of {@linkcode AzureBackend}, declared once. */
export const AZURE_OPTIONS = {
  connectionString: {
    type: "string",
    secret: true,
    doc: "A storage connection string; default AZURE_CONNECTION_STRING or " +
      "AZURE_STORAGE_CONNECTION_STRING.",
  },
  accountName: {
    type: "string",
    doc: "The storage account name; default AZURE_STORAGE_ACCOUNT or AZURE_ACCOUNT_NAME.",
  },
  accountKey: {
    type: "string",
    secret: true,
    doc: "The account key (base64); default AZURE_STORAGE_KEY or AZURE_ACCOUNT_KEY.",
  },
  sasToken: {
    type: "string",
    secret: true,
    doc: "A SAS token (with or without the leading ?); default AZURE_STORAGE_SAS_TOKEN or " +
      "AZURE_SHARED_ACCESS_SIGNATURE.",
  },
  endpoint: {
    type: "string",
    doc: "The blob service URL, e.g. Azurite's http://127.0.0.1:10000/devstoreaccount1; " +
      "default https://ACCOUNT.blob.core.windows.net. Not used with a connection string.",
  },
  blockSize: {
    type: "bytes",
    default: "8M",
    min: 1024,
    max: 4194304000,
    doc: "Block size for uploads and the smallest download range; files up to this size go " +
      "in one request. Memory does not grow with it (without a proxy).",
  },
  concurrency: {
    type: "integer",
    default: 4,
    min: 1,
    max: 64,
    doc: "Blocks uploaded, or ranges downloaded, in parallel.",
  },
  pageSize: {
    type: "integer",
    default: 5000,
    min: 1,
    max: 5000,
    doc: "Names per listing page.",
  },
  tier: {
    type: "enum",
    values: ["Hot", "Cool", "Cold", "Archive"],
    ignoreCase: true,
    doc: "Access tier set on upload (duplicity's --azure-blob-tier); default the account's.",
  },
  deleteSnapshots: {
    type: "boolean",
    default: false,
    doc: "Delete a blob's snapshots along with it (else a blob with snapshots fails to " +
      "delete, code 23).",
  },
  batchDelete: {
    type: "boolean",
    default: true,
    doc: "Delete several names with Blob Batch requests (256 names each).",
  },
} as const;

/** Options for {@linkcode AzureBackend}. */
export type AzureOptions = OptionsInput<typeof AZURE_OPTIONS>;

/** The parsed settings of {@linkcode AZURE_OPTIONS}, as the backend's parts read them. */
export type AzureSettings = OptionsParsed<typeof AZURE_OPTIONS>;
