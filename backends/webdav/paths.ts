/**
 * WebDAV paths: percent-encoding names and folders for request targets,
 * decoding hrefs from answers, and the `Host` header for a server.
 *
 * @module
 */

/** Percent-encode one path segment: everything but RFC 3986's unreserved characters. */
export function encodeSegment(name: string): string {
  return encodeURIComponent(name).replace(
    /[!'()*]/g,
    (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`,
  );
}

/** A decoded path as an encoded one, with a leading `/` (and a trailing one for a folder). */
export function encodePath(path: string, folder: boolean): string {
  const segments = path.split("/").filter((s) => s !== "");
  const joined = "/" + segments.map(encodeSegment).join("/");
  return folder && !joined.endsWith("/") ? joined + "/" : joined;
}

/** The parent of an encoded folder path (`/a/b/` → `/a/`), `/` at the top. */
export function parentOf(folder: string): string {
  const trimmed = folder.replace(/\/+$/, "");
  return trimmed.slice(0, trimmed.lastIndexOf("/") + 1) || "/";
}

/** Percent-decode, leaving malformed escapes as they are. */
export function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s.replace(/(?:%[0-9A-Fa-f]{2})+/g, (run) => {
      try {
        return decodeURIComponent(run);
      } catch {
        return run;
      }
    });
  }
}

/** The `Host` header for a server: `host:port`, the port left out when standard, IPv6 in brackets. */
export function hostHeader(protocol: string, hostname: string, port: number): string {
  const host = hostname.includes(":") ? `[${hostname}]` : hostname;
  const standard = (protocol === "https:" && port === 443) || (protocol === "http:" && port === 80);
  return standard ? host : `${host}:${port}`;
}
