/**
 * Request URLs that carry their authorisation: with an account key, a
 * shared access signature (SAS) signed locally with WebCrypto (HMAC-SHA256
 * over Azure's string-to-sign, version 2021-12-02) for exactly one blob or
 * container and the permissions the request needs, valid for a day; with a
 * SAS token, the token as given. No SDK is loaded to sign, so a get or a
 * put costs no more memory than its buffers. Names are percent-encoded
 * segment by segment.
 *
 * @module
 */

import { BackendError, ErrorCode } from "../../core/errors.ts";
import type { AzureCredentials } from "./credentials.ts";

/** The REST version of our requests and of the SAS we sign; `Cold` needs 2021-12-02. */
export const API_VERSION = "2021-12-02";
/** How long a locally signed SAS is valid (checked only when a request starts). */
const SAS_LIFETIME_MS = 24 * 3600_000;

/** Builds signed URLs for one account and container. */
export class SasSigner {
  readonly #creds: AzureCredentials;
  readonly #container: string;
  #key: Promise<CryptoKey> | undefined;

  /** URLs under `creds.endpoint` for `container`; nothing is computed until asked. */
  constructor(creds: AzureCredentials, container: string) {
    this.#creds = creds;
    this.#container = container;
  }

  /** The blob service URL, without a trailing `/`. */
  get endpoint(): string {
    return this.#creds.endpoint;
  }

  /**
   * The URL of the blob `path` (the full name in the container, folder
   * included) allowed `permissions` (`r`, `cw`, `d`, in Azure's order).
   */
  async blobUrl(path: string, permissions: string): Promise<string> {
    const base = `${this.#creds.endpoint}/${this.#container}/${escapePath(path)}`;
    return `${base}?${await this.#sas(permissions, "b", `/${this.#container}/${path}`)}`;
  }

  /** The container's URL allowed `permissions` (`l` to list); `extra` query parameters go first. */
  async containerUrl(permissions: string, extra = ""): Promise<string> {
    const base = `${this.#creds.endpoint}/${this.#container}?${extra ? `${extra}&` : ""}`;
    return base + await this.#sas(permissions, "c", `/${this.#container}`);
  }

  /**
   * The container's URL with an account SAS that may create it (`ss=b`,
   * `srt=c`, `sp=c`); with a SAS token, the token (which may or may not
   * allow it: the server says).
   */
  async createContainerUrl(): Promise<string> {
    const base = `${this.#creds.endpoint}/${this.#container}?restype=container&`;
    const c = this.#creds;
    if (c.kind === "sas") return base + c.sasToken;
    const se = expiry();
    const toSign = [c.accountName, "c", "b", "c", "", se, "", "", API_VERSION, "", ""].join("\n");
    const sig = await this.#sign(toSign);
    return `${base}sv=${API_VERSION}&ss=b&srt=c&sp=c&se=${encodeURIComponent(se)}&sig=${
      encodeURIComponent(sig)
    }`;
  }

  /** A service SAS for `resource` (`b` or `c`) at `path` under the account. */
  async #sas(permissions: string, resource: "b" | "c", path: string): Promise<string> {
    const c = this.#creds;
    if (c.kind === "sas") return c.sasToken;
    const se = expiry();
    const toSign = [
      permissions,
      "", // start
      se,
      `/blob/${c.accountName}${path}`,
      "", // identifier
      "", // IP range
      "", // protocol
      API_VERSION,
      resource,
      "", // snapshot time
      "", // encryption scope
      "", // rscc
      "", // rscd
      "", // rsce
      "", // rscl
      "", // rsct
    ].join("\n");
    const sig = await this.#sign(toSign);
    return `sv=${API_VERSION}&se=${encodeURIComponent(se)}&sr=${resource}&sp=${permissions}&sig=${
      encodeURIComponent(sig)
    }`;
  }

  /** Base64 HMAC-SHA256 of `text` with the account key (imported once). */
  async #sign(text: string): Promise<string> {
    const c = this.#creds;
    if (c.kind !== "key") throw new Error("internal: no account key to sign with");
    this.#key ??= crypto.subtle.importKey(
      "raw",
      decodeKey(c.accountKey, c.source),
      { name: "HMAC", hash: "SHA-256" },
      false,
      ["sign"],
    );
    const mac = await crypto.subtle.sign("HMAC", await this.#key, new TextEncoder().encode(text));
    return btoa(String.fromCharCode(...new Uint8Array(mac)));
  }
}

/** Check that an account key is base64 (code 23 naming where it came from, never the key). */
export function checkAccountKey(creds: AzureCredentials): void {
  if (creds.kind === "key") decodeKey(creds.accountKey, creds.source);
}

/** A blob path for a URL: each `/`-separated segment percent-encoded. */
export function escapePath(path: string): string {
  return path.split("/").map(encodeURIComponent).join("/");
}

function decodeKey(key: string, source: string): Uint8Array<ArrayBuffer> {
  try {
    const text = atob(key.replace(/\s+/g, ""));
    if (text.length === 0) throw new Error("empty");
    return Uint8Array.from(text, (ch) => ch.charCodeAt(0));
  } catch {
    throw new BackendError(`the Azure account key from ${source} is not base64`, {
      code: ErrorCode.user_error,
    });
  }
}

/** The SAS expiry: a day from now, to the second (`2024-01-31T12:00:00Z`). */
function expiry(): string {
  return new Date(Date.now() + SAS_LIFETIME_MS).toISOString().replace(/\.\d+Z$/, "Z");
}
