/**
 * Duplicity-compatible URL parsing: the same URL means the same store here
 * as it does in duplicity, so existing users can paste their URLs.
 *
 * @module
 */

import { BackendError, ErrorCode } from "./errors.ts";

/**
 * Schemes whose URLs carry `user:password@host:port` (duplicity's
 * `uses_netloc`). Every other scheme is path-style: its path is
 * `//netloc/path`.
 */
export const HOST_STYLE_SCHEMES: readonly string[] = [
  "ftp",
  "ftps",
  "fish",
  "hsi",
  "http",
  "https",
  "imap",
  "imaps",
  "rsync",
  "scp",
  "sftp",
  "ssh",
  "webdav",
  "webdavs",
];

/** Words that make a query parameter's value a secret (hidden by {@linkcode ParsedUrl.stripAuth}). */
const SECRET_WORDS: ReadonlySet<string> = new Set([
  "pass",
  "passwd",
  "password",
  "passphrase",
  "secret",
  "token",
  "sig",
  "signature",
  "credential",
  "credentials",
  "auth",
  "authorization",
  "apikey",
  "key",
  "sas",
]);

/**
 * Whether a query key names a secret: one of its words (split at `-`, `_`,
 * `.` and camelCase humps) is a secret word. `sas_token`, `accountKey`,
 * `X-Amz-Signature` are; `max-keys`, `tier`, `prefix` are not.
 */
export function isSecretKey(key: string): boolean {
  const words = key.replace(/([a-z0-9])([A-Z])/g, "$1 $2").toLowerCase().split(/[-_.\s]+/);
  return words.some((w) => SECRET_WORDS.has(w));
}

/**
 * A parsed backend URL with duplicity's field names and rules.
 *
 * - Host-style schemes (ftp, sftp, webdav, ...) take user, password, host and
 *   port from the netloc and need a host; `user@host` takes the last `@`; user
 *   and password are percent-decoded; a bad port is an error.
 * - Path-style schemes (file, s3, azure, rclone, ...) keep `//netloc/path` as
 *   their path: `file:///home` has path `///home`, `file://home` has `//home`.
 *
 * @example
 * ```ts
 * import { ParsedUrl } from "@stowage/backends";
 * const u = new ParsedUrl("sftp://alice:s3cret@example.com:2222/backups");
 * console.log(u.username, u.hostname, u.port, u.path); // alice example.com 2222 /backups
 * console.log(u.stripAuth()); // sftp://example.com:2222/backups
 * ```
 */
export class ParsedUrl {
  /** The scheme, lower-cased (`sftp`, `par2+file`). */
  readonly scheme: string;
  /** The raw netloc (`user:pass@host:port`); empty for path-style schemes. */
  readonly netloc: string;
  /** The percent-decoded path; `//netloc/path` for path-style schemes. */
  readonly path: string;
  /** The percent-decoded user name, if any. */
  readonly username?: string;
  /** The percent-decoded password, if any. */
  readonly password?: string;
  /** The host name, lower-cased, without IPv6 brackets. */
  readonly hostname?: string;
  /** The port, when given. */
  readonly port?: number;
  /** The raw query string without `?`, when given. */
  readonly query?: string;
  /** The query parsed into lists of values per key. */
  readonly queryArgs: Record<string, string[]>;
  /** The raw fragment without `#`, when given. */
  readonly fragment?: string;
  readonly #url: string;

  /**
   * Parse a URL; throws {@linkcode BackendError} with code 23 when it is
   * malformed.
   */
  constructor(url: string) {
    this.#url = url;
    const fail = (why: string): never => {
      throw new BackendError(`Invalid URL "${redactRaw(url)}": ${why}`, {
        code: ErrorCode.user_error,
      });
    };
    const m = /^([A-Za-z][A-Za-z0-9+.-]*):(.*)$/s.exec(url);
    if (!m) fail("it has no scheme (write file:///abs/dir for a local folder)");
    const scheme = m![1]!.toLowerCase();
    let rest = m![2]!;
    if ([...url].some((ch) => ch.charCodeAt(0) < 0x20 || ch.charCodeAt(0) === 0x7f)) {
      fail("it contains control characters");
    }

    let netloc = "";
    if (rest.startsWith("//")) {
      rest = rest.slice(2);
      const end = rest.search(/[/?#]/);
      netloc = end === -1 ? rest : rest.slice(0, end);
      rest = end === -1 ? "" : rest.slice(end);
    }
    let fragment: string | undefined;
    const hash = rest.indexOf("#");
    if (hash !== -1) {
      fragment = rest.slice(hash + 1);
      rest = rest.slice(0, hash);
    }
    let query: string | undefined;
    const q = rest.indexOf("?");
    if (q !== -1) {
      query = rest.slice(q + 1);
      rest = rest.slice(0, q);
    }
    let path = decode(rest, fail, "path");

    let username: string | undefined;
    let password: string | undefined;
    let hostname: string | undefined;
    let port: number | undefined;
    const at = netloc.lastIndexOf("@");
    const userinfo = at === -1 ? undefined : netloc.slice(0, at);
    const hostinfo = at === -1 ? netloc : netloc.slice(at + 1);
    if (userinfo !== undefined) {
      const colon = userinfo.indexOf(":");
      const user = colon === -1 ? userinfo : userinfo.slice(0, colon);
      if (user) username = decode(user, fail, "user name");
      if (colon !== -1) {
        const pw = userinfo.slice(colon + 1);
        if (pw) password = decode(pw, fail, "password");
      }
    }
    let portText: string | undefined;
    if (hostinfo.startsWith("[")) {
      const close = hostinfo.indexOf("]");
      if (close === -1) fail("the IPv6 host has no closing ]");
      hostname = hostinfo.slice(1, close);
      const after = hostinfo.slice(close + 1);
      if (after.startsWith(":")) portText = after.slice(1);
      else if (after) fail("unexpected text after the IPv6 host");
    } else {
      const colon = hostinfo.indexOf(":");
      hostname = colon === -1 ? hostinfo : hostinfo.slice(0, colon);
      if (colon !== -1) portText = hostinfo.slice(colon + 1);
    }
    hostname = hostname ? hostname.toLowerCase() : undefined;

    const hostStyle = isHostStyle(scheme);
    if (portText) {
      const rsyncModule = scheme.includes("rsync") && /::[^:]*$/.test(url);
      if (/^\d+$/.test(portText) && Number(portText) >= 1 && Number(portText) <= 65535) {
        port = Number(portText);
      } else if (hostStyle && !rsyncModule) {
        fail(`the port "${portText}" is not a number from 1 to 65535`);
      }
    }
    if (
      hostStyle && hostname && !hostinfo.startsWith("[") && /[\s<>"{}|\\^`\/?#@\[\]]/.test(hostname)
    ) {
      fail(`the host name "${hostname}" is not valid (it has spaces or reserved characters)`);
    }

    if (!hostStyle) {
      if (netloc) {
        path = `//${decode(netloc, fail, "location")}${path}`;
        netloc = "";
        hostname = undefined;
        username = undefined;
        password = undefined;
        port = undefined;
      } else if (!path.startsWith("//") && path.startsWith("/")) {
        path = `//${path}`;
      }
      if (!path.startsWith("//")) {
        fail(`relative paths are not supported for scheme "${scheme}" (missing //)`);
      }
    } else if (!hostname) {
      fail(`scheme "${scheme}" needs a host name`);
    }

    this.scheme = scheme;
    this.netloc = netloc;
    this.path = path;
    if (username !== undefined) this.username = username;
    if (password !== undefined) this.password = password;
    if (hostname !== undefined) this.hostname = hostname;
    if (port !== undefined) this.port = port;
    if (query !== undefined) this.query = query;
    if (fragment !== undefined) this.fragment = fragment;
    this.queryArgs = parseQuery(query ?? "");
  }

  /** The original URL string, as given. */
  geturl(): string {
    return this.#url;
  }

  /**
   * The URL without user name and password (and with secret-looking query
   * values hidden), for messages and logs.
   */
  stripAuth(): string {
    return redactRaw(this.#url);
  }

  /** The URL for messages: same as {@linkcode ParsedUrl.stripAuth}. */
  toString(): string {
    return this.stripAuth();
  }

  /** The first value of a query parameter, if present. */
  queryArg(name: string): string | undefined {
    return this.queryArgs[name]?.[0];
  }
}

/** Whether a scheme carries user/host/port in its netloc (the last `+` part decides). */
export function isHostStyle(scheme: string): boolean {
  const s = scheme.toLowerCase();
  if (HOST_STYLE_SCHEMES.includes(s)) return true;
  const last = s.slice(s.lastIndexOf("+") + 1);
  return HOST_STYLE_SCHEMES.includes(last);
}

/**
 * Remove the user name and password from a URL string and hide secret query
 * values. Works on any string that looks like `scheme://...`, even one that
 * does not parse.
 */
export function redactRaw(url: string): string {
  let out = url.replace(
    /^([A-Za-z][A-Za-z0-9+.-]*:\/\/)([^/?#]*)/,
    (_all, head: string, authority: string) => {
      const at = authority.lastIndexOf("@");
      if (at === -1) return head + authority;
      // Keep the user (it names the account, which helps); drop the password.
      const userinfo = authority.slice(0, at);
      const colon = userinfo.indexOf(":");
      const user = colon === -1 ? userinfo : userinfo.slice(0, colon);
      return head + (user ? `${user}@` : "") + authority.slice(at + 1);
    },
  );
  out = out.replace(
    /([?&])([^=&#]*)=([^&#]*)/g,
    (all, sep: string, key: string) => isSecretKey(key) ? `${sep}${key}=***` : all,
  );
  return out;
}

/**
 * The secrets in a URL string, whatever its scheme: the password in its
 * authority and the values of secret-looking query parameters. Used to scrub
 * them from messages that a library may have built.
 */
export function secretsOf(url: string): string[] {
  const out: string[] = [];
  const m = /^[A-Za-z][A-Za-z0-9+.-]*:\/\/([^/?#]*)/.exec(url);
  const authority = m?.[1] ?? "";
  const at = authority.lastIndexOf("@");
  if (at !== -1) {
    const userinfo = authority.slice(0, at);
    const colon = userinfo.indexOf(":");
    if (colon !== -1 && colon < userinfo.length - 1) {
      const raw = userinfo.slice(colon + 1);
      out.push(raw);
      try {
        const decoded = decodeURIComponent(raw);
        if (decoded !== raw) out.push(decoded);
      } catch {
        // keep the raw form only
      }
    }
  }
  for (const q of url.matchAll(/[?&]([^=&#]*)=([^&#]*)/g)) {
    if (isSecretKey(q[1]!) && q[2]) out.push(q[2]);
  }
  return out.filter((s) => s.length > 0);
}

function decode(text: string, fail: (why: string) => never, what: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return fail(`the ${what} has a bad percent-escape`);
  }
}

function parseQuery(query: string): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  if (!query) return out;
  for (const [k, v] of new URLSearchParams(query)) {
    (out[k] ??= []).push(v);
  }
  return out;
}
