/**
 * The `headers` option (duplicity's `--webdav-headers`): extra request
 * headers given as text or as an object.
 *
 * @module
 */

import { BackendError, ErrorCode } from "../../core/errors.ts";

const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

/**
 * Parse `--webdav-headers` style text (`"A: 1, B: 2"`, a comma only
 * separating headers when a `Name:` follows it) or an object into headers.
 *
 * @throws {BackendError} Code 23 for anything malformed (no colon, a bad
 * name, a line break in a value, a value that is not a string).
 */
export function parseHeaders(value: unknown): Record<string, string> {
  if (value === undefined || value === null || value === "") return {};
  const out: Record<string, string> = {};
  const bad = (why: string): never => {
    throw new BackendError(`Invalid option "headers": ${why}`, { code: ErrorCode.user_error });
  };
  let pairs: [string, string][];
  if (typeof value === "string") {
    pairs = value.split(/,\s*(?=[!#$%&'*+.^_`|~0-9A-Za-z-]+\s*:)/).filter((p) => p.trim()).map(
      (p) => {
        const colon = p.indexOf(":");
        if (colon <= 0) bad(`expected "Name: value", got ${JSON.stringify(p.trim().slice(0, 40))}`);
        return [p.slice(0, colon).trim(), p.slice(colon + 1).trim()];
      },
    );
  } else if (typeof value === "object" && !Array.isArray(value)) {
    pairs = Object.entries(value as Record<string, unknown>).map(([k, v]) => {
      if (typeof v !== "string") bad(`the value of ${JSON.stringify(k)} is not a string`);
      return [k, v as string];
    });
  } else {
    return bad("expected a string or an object");
  }
  for (const [name, v] of pairs) {
    if (!TOKEN.test(name)) bad(`${JSON.stringify(name)} is not a header name`);
    if (/[\r\n\0]/.test(v)) bad(`the value of ${JSON.stringify(name)} contains a line break`);
    out[name] = v;
  }
  return out;
}

/** Whether `headers` has `name` (given in lower case), in any case. */
export function hasHeader(headers: Record<string, string>, name: string): boolean {
  return Object.keys(headers).some((k) => k.toLowerCase() === name);
}
