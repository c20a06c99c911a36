/**
 * Where a backend's password comes from, as in duplicity: the URL, else the
 * `FTP_PASSWORD` environment variable, else the `askPassword` callback the
 * caller passed in its options (the CLI passes a terminal prompt; a library
 * passes nothing, so it never blocks on stdin).
 *
 * @module
 */

import type { ParsedUrl } from "./url.ts";

/**
 * Asks the user for a password; `prompt` names the account
 * (`Password for alice@host: `). Resolves `undefined` when there is no one
 * to ask; rejects (code 61) when the user cancels.
 */
export type AskPassword = (prompt: string) => Promise<string | undefined>;

/** Options for {@linkcode resolvePassword}. */
export interface ResolvePasswordOptions {
  /** Asked last, when neither the URL nor `FTP_PASSWORD` gives a password. */
  askPassword?: AskPassword;
  /** The environment to read; default `Deno.env`. */
  env?: { get(key: string): string | undefined };
}

/**
 * The password for a URL: its own password, else `FTP_PASSWORD`, else what
 * `askPassword` answers, else `undefined`.
 *
 * @example
 * ```ts
 * import { ParsedUrl } from "@stowage/backends";
 * import { resolvePassword } from "@stowage/backends/kit";
 * const pw = await resolvePassword(new ParsedUrl("ftp://bob:hunter2@example.com/x"));
 * console.log(pw); // hunter2
 * ```
 */
export async function resolvePassword(
  url: ParsedUrl,
  options: ResolvePasswordOptions = {},
): Promise<string | undefined> {
  const known = storedPassword(url, options.env);
  if (known !== undefined) return known;
  if (!options.askPassword) return undefined;
  const who = `${url.username ?? ""}${url.username ? "@" : ""}${url.hostname ?? ""}`;
  return await options.askPassword(`Password for ${who}: `);
}

/** The password the URL or `FTP_PASSWORD` gives, without asking anyone. */
export function storedPassword(
  url: ParsedUrl,
  env: { get(key: string): string | undefined } = Deno.env,
): string | undefined {
  if (url.password !== undefined) return url.password;
  try {
    return env.get("FTP_PASSWORD") || undefined;
  } catch {
    return undefined; // no --allow-env: behave as unset
  }
}

/** The `askPassword` callback in a backend's options, when the caller passed one. */
export function askPasswordFrom(
  options: Readonly<Record<string, unknown>>,
): AskPassword | undefined {
  const ask = options.askPassword;
  return typeof ask === "function" ? ask as AskPassword : undefined;
}
