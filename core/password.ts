/**
 * Where a backend's password comes from, as in duplicity: the URL, else the
 * `FTP_PASSWORD` environment variable, else (only on a terminal) a prompt.
 *
 * @module
 */

import type { ParsedUrl } from "./url.ts";

let promptAllowed = false;

/**
 * Let {@linkcode resolvePassword} ask on the terminal by default (the CLI
 * turns this on; libraries leave it off so they never block on stdin).
 */
export function allowPasswordPrompt(allowed = true): void {
  promptAllowed = allowed;
}

/** Options for {@linkcode resolvePassword}. */
export interface ResolvePasswordOptions {
  /** Ask on the terminal when nothing else gives a password; default: off unless the CLI allowed it. */
  prompt?: boolean;
  /** The environment to read; default `Deno.env`. */
  env?: { get(key: string): string | undefined };
}

/**
 * The password for a URL: its own password, else `FTP_PASSWORD`, else a
 * terminal prompt when allowed and stdin is a terminal, else `undefined`.
 *
 * @example
 * ```ts
 * import { ParsedUrl, resolvePassword } from "@stowage/backends";
 * const pw = resolvePassword(new ParsedUrl("ftp://bob:hunter2@example.com/x"));
 * console.log(pw); // hunter2
 * ```
 */
export function resolvePassword(
  url: ParsedUrl,
  options: ResolvePasswordOptions = {},
): string | undefined {
  if (url.password !== undefined) return url.password;
  const env = options.env ?? Deno.env;
  let fromEnv: string | undefined;
  try {
    fromEnv = env.get("FTP_PASSWORD");
  } catch {
    fromEnv = undefined; // no --allow-env: behave as unset
  }
  if (fromEnv) return fromEnv;
  if ((options.prompt ?? promptAllowed) && Deno.stdin.isTerminal()) {
    const who = `${url.username ?? ""}${url.username ? "@" : ""}${url.hostname ?? ""}`;
    return promptSecret(`Password for ${who}: `);
  }
  return undefined;
}

function promptSecret(message: string): string | undefined {
  const enc = new TextEncoder();
  Deno.stderr.writeSync(enc.encode(message));
  Deno.stdin.setRaw(true);
  const buf = new Uint8Array(1);
  const bytes: number[] = [];
  try {
    while (true) {
      const n = Deno.stdin.readSync(buf);
      if (n === null || n === 0) break;
      const c = buf[0]!;
      if (c === 13 || c === 10) break;
      if (c === 3) return undefined; // Ctrl-C
      if (c === 127 || c === 8) bytes.pop();
      else bytes.push(c);
    }
  } finally {
    Deno.stdin.setRaw(false);
    Deno.stderr.writeSync(enc.encode("\n"));
  }
  return new TextDecoder().decode(new Uint8Array(bytes));
}
