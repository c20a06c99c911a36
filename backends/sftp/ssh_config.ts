/**
 * The ssh config as the ssh2 engine reads it (`HostName`, `Port`, `User` and
 * `IdentityFile` for a host alias; first match wins per keyword, as in
 * OpenSSH; `Match` blocks other than `Match all` and `Include` are not read),
 * and the local facts both engines need: HOME, `~` and `%` expansion.
 *
 * @module
 */

import { join } from "node:path";
import { BackendError, ErrorCode } from "../../core/errors.ts";
import type { ParsedUrl } from "../../core/url.ts";

/** The key files OpenSSH tries when the config names none. */
export const DEFAULT_IDENTITIES: readonly string[] = ["id_ed25519", "id_ecdsa", "id_rsa"];

/** Where and as whom to connect, after the ssh config is applied. */
export interface Target {
  /** The host to connect to (`HostName`, else the URL's host). */
  host: string;
  /** The port (the URL's, else `Port`, else 22). */
  port: number;
  /** The account (the URL's, else `User`, else the local user). */
  user: string;
  /** Key files in order; `explicit` ones came from the `identityFile` option. */
  identityFiles: { path: string; explicit: boolean }[];
}

/** The settings for one host from an ssh config. */
interface SshHostConfig {
  hostName?: string;
  port?: number;
  user?: string;
  identityFiles: string[];
}

/** An environment variable, or `undefined` when unset or not allowed. */
export function envGet(key: string): string | undefined {
  try {
    return Deno.env.get(key);
  } catch {
    return undefined;
  }
}

/** HOME, when set. */
export function homeDir(): string | undefined {
  return envGet("HOME") || undefined;
}

/** This user's home folder from /etc/passwd (where OpenSSH looks for ~/.ssh). */
export function passwdHome(): string | undefined {
  try {
    const uid = String(Deno.uid());
    for (const line of Deno.readTextFileSync("/etc/passwd").split("\n")) {
      const f = line.split(":");
      if (f[2] === uid) return f[5];
    }
  } catch {
    // unknown
  }
  return undefined;
}

/** `~` and `~/x` under `home`. */
export function expandHome(path: string, home: string | undefined): string {
  if (home && (path === "~" || path.startsWith("~/"))) return join(home, path.slice(1));
  return path;
}

/** Whether `path` is a regular file. */
export async function isFile(path: string): Promise<boolean> {
  return await Deno.stat(path).then((s) => s.isFile, () => false);
}

function expandTokens(s: string, t: Record<string, string>): string {
  return s.replace(/%([%hurd])/g, (_, k: string) => (k === "%" ? "%" : t[k] ?? ""));
}

/**
 * Where to connect for the ssh2 engine: the URL's host as an alias in the
 * ssh config (`sshConfig`: a file, `none`, or `~/.ssh/config`), and the key
 * files to try (the `identityFile` option, else the config's, else the
 * default ones under `~/.ssh`).
 */
export async function resolveTarget(
  url: ParsedUrl,
  sshConfig: string | undefined,
  identityFile: readonly string[] | undefined,
): Promise<Target> {
  const alias = url.hostname!;
  const home = homeDir();
  let cfg: SshHostConfig = { identityFiles: [] };
  if (sshConfig !== "none") {
    const file = sshConfig ? expandHome(sshConfig, home) : home && join(home, ".ssh", "config");
    if (file) {
      let text: string | undefined;
      try {
        text = await Deno.readTextFile(file);
      } catch (err) {
        if (sshConfig && !(err instanceof Deno.errors.NotFound)) throw err;
        if (sshConfig) {
          throw new BackendError(`the ssh config file "${sshConfig}" does not exist`, {
            code: ErrorCode.user_error,
            cause: err,
          });
        }
      }
      if (text !== undefined) cfg = parseSshConfig(text, alias);
    }
  }
  const localUser = envGet("USER") ?? envGet("LOGNAME") ?? "root";
  const user = url.username ?? cfg.user ?? localUser;
  const host = cfg.hostName
    ? expandTokens(cfg.hostName, { h: alias, u: localUser, r: user, d: home ?? "" })
    : alias;
  const port = url.port ?? cfg.port ?? 22;
  const tokens = { h: host, u: localUser, r: user, d: home ?? "" };
  const identityFiles: Target["identityFiles"] = [];
  for (const f of identityFile ?? []) {
    identityFiles.push({ path: expandHome(f, home), explicit: true });
  }
  if (!identityFile) {
    for (const f of cfg.identityFiles) {
      identityFiles.push({ path: expandHome(expandTokens(f, tokens), home), explicit: false });
    }
    if (cfg.identityFiles.length === 0 && home) {
      for (const f of DEFAULT_IDENTITIES) {
        identityFiles.push({ path: join(home, ".ssh", f), explicit: false });
      }
    }
  }
  return { host, port, user, identityFiles };
}

/** The settings for `alias` from an ssh_config text: first value wins per keyword, IdentityFile adds up. */
function parseSshConfig(text: string, alias: string): SshHostConfig {
  const out: SshHostConfig = { identityFiles: [] };
  let active = true; // lines before the first Host apply to all hosts
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (!line || line.startsWith("#")) continue;
    const m = /^(\S+?)(?:\s*=\s*|\s+)(.*)$/.exec(line);
    if (!m) continue;
    const key = m[1]!.toLowerCase();
    const args = splitArgs(m[2]!);
    if (key === "host") {
      active = hostMatches(args, alias);
      continue;
    }
    if (key === "match") {
      active = args.length === 1 && args[0]!.toLowerCase() === "all"; // other Match criteria are not evaluated
      continue;
    }
    if (!active || args.length === 0) continue;
    const value = args[0]!;
    if (key === "hostname") out.hostName ??= value;
    else if (key === "user") out.user ??= value;
    else if (key === "port") {
      const n = Number(value);
      if (out.port === undefined && Number.isInteger(n) && n > 0 && n < 65536) out.port = n;
    } else if (key === "identityfile" && value.toLowerCase() !== "none") {
      out.identityFiles.push(value);
    }
  }
  return out;
}

function splitArgs(s: string): string[] {
  const out: string[] = [];
  for (const m of s.matchAll(/"([^"]*)"|(\S+)/g)) out.push(m[1] ?? m[2]!);
  return out;
}

/** OpenSSH pattern-list match: any positive pattern matches and no negated one does. */
export function hostMatches(patterns: readonly string[], name: string): boolean {
  let matched = false;
  for (const p of patterns.flatMap((x) => x.split(","))) {
    if (!p) continue;
    const negated = p.startsWith("!");
    if (globMatch(negated ? p.slice(1) : p, name)) {
      if (negated) return false;
      matched = true;
    }
  }
  return matched;
}

function globMatch(pattern: string, s: string): boolean {
  const re = pattern.replace(/[.+^${}()|[\]\\]/g, "\\$&").replace(/\*/g, ".*").replace(/\?/g, ".");
  return new RegExp(`^${re}$`, "i").test(s);
}
