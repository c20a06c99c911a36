/**
 * Where an `rsync://` URL points, with duplicity's meanings, and how rsync
 * reaches it:
 *
 * - `rsync://[user[:password]@]host[:port]::[/]module/path` — an rsync
 *   daemon (`rsync [--port=port] [user@]host::module/path/`); the password
 *   goes in `RSYNC_PASSWORD`, never on the command line.
 * - `rsync://user@host[:port]/relative/path` — over ssh, relative to the
 *   login folder (`rsync -e 'ssh -p port' user@host:relative/path/`);
 *   `rsync://user@host[:port]//absolute/path` is absolute. ssh logs in with
 *   keys only (BatchMode=yes: it never prompts).
 *
 * @module
 */

import { BackendError, ErrorCode } from "../../core/errors.ts";
import type { ParsedUrl } from "../../core/url.ts";
import type { RsyncSettings } from "./options.ts";

/** How rsync reaches the folder. */
export interface RsyncTarget {
  /** `daemon` (`host::module`) or `ssh` (`host:path`). */
  mode: "daemon" | "ssh";
  /** The folder as rsync writes it (`user@host::module/path` or `user@host:path`), no trailing `/`. */
  folder: string;
  /** The options that say how to connect (`--port=N`, or `-e "ssh ..."`). */
  transport: string[];
}

/** Read the URL (and the connection options) into an {@linkcode RsyncTarget}. */
export function rsyncTarget(url: ParsedUrl, settings: RsyncSettings): RsyncTarget {
  const raw = url.geturl().replace(/[?#].*$/s, "");
  const host = url.hostname!.includes(":") ? `[${url.hostname}]` : url.hostname!;
  const user = url.username !== undefined ? `${url.username}@` : "";
  const daemon = /(:\d+|)?::([^:]*)$/.exec(raw);
  if (daemon) {
    const path = decode(daemon[2]!, url).replace(/^[/:]+/, "").replace(/\/+$/, "");
    if (!path) {
      throw new BackendError(
        `Invalid URL "${url.stripAuth()}": it names no rsync module (write rsync://host::module/path)`,
        { code: ErrorCode.user_error },
      );
    }
    const port = daemon[1] ? Number(daemon[1].slice(1)) : settings.port;
    return {
      mode: "daemon",
      folder: `${user}${host}::${path}`,
      transport: port !== undefined ? [`--port=${port}`] : [],
    };
  }
  const absolute = url.path.startsWith("//");
  let path = url.path.replace(/^\/+/, "").replace(/\/+$/, "");
  if (absolute) path = `/${path}`;
  return {
    mode: "ssh",
    folder: `${user}${host}:${path || "."}`,
    transport: ["-e", sshCommand(settings, url.port ?? settings.port)],
  };
}

/** The `-e` command: ssh with the store's options, each quoted the way rsync splits it. */
function sshCommand(settings: RsyncSettings, port: number | undefined): string {
  const args = [settings.sshCommand, "-o", "BatchMode=yes"];
  if (port !== undefined) args.push("-p", String(port));
  if (settings.sshConfig) {
    args.push("-F", settings.sshConfig === "none" ? "/dev/null" : settings.sshConfig);
  }
  if (settings.identityFile) args.push("-i", settings.identityFile, "-o", "IdentitiesOnly=yes");
  if (settings.knownHostsFile) {
    args.push("-o", `UserKnownHostsFile=${settings.knownHostsFile}`);
    args.push("-o", "GlobalKnownHostsFile=/dev/null");
  }
  args.push(...settings.sshOptions);
  return args.map(quoteForRsync).join(" ");
}

/**
 * One word of rsync's `-e` command: rsync splits it on spaces and honours
 * single quotes (a doubled quote inside stands for one), not backslashes.
 */
export function quoteForRsync(word: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(word) ? word : `'${word.replaceAll("'", "''")}'`;
}

/** The duplicity regex took the module path from the raw URL: percent-decode it here. */
function decode(text: string, url: ParsedUrl): string {
  try {
    return decodeURIComponent(text);
  } catch {
    throw new BackendError(`Invalid URL "${url.stripAuth()}": the path has a bad percent-escape`, {
      code: ErrorCode.user_error,
    });
  }
}

/**
 * A name or folder as a source argument: the remote rsync expands `*`, `?`
 * and `[` there, so when a name holds one of them, each of those and `\`
 * are escaped with `\` (without them a `\` is taken literally). Filter
 * patterns follow the same rule.
 */
export function escapeWildcards(text: string): string {
  return /[*?[]/.test(text) ? text.replace(/[\\*?[]/g, "\\$&") : text;
}
