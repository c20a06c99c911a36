/**
 * The options of `webdav://` and `webdavs://` (and `http://`, `https://`),
 * declared once: type, default, doc.
 *
 * @module
 */

import type { OptionsInput } from "../../core/options.ts";

/** The options of `webdav://`, declared once: type, default, doc. */
export const WEBDAV_OPTIONS = {
  caFile: {
    type: "string",
    doc: "A PEM file with certificate authorities to trust for webdavs:// (besides the system's).",
  },
  insecureSkipVerify: {
    type: "boolean",
    default: false,
    doc: "Accept any TLS certificate (expired, self-signed, wrong host). Dangerous.",
  },
  headers: {
    type: "value",
    doc:
      'Extra request headers, "Name: value, Name2: value2" or an object; sent with every request.',
  },
  maxRedirects: {
    type: "integer",
    min: 0,
    max: 100,
    default: 10,
    doc: "How many redirects one request follows.",
  },
  bufferSize: {
    type: "bytes",
    min: 4096,
    max: 67108864,
    default: "1M",
    doc: "Read buffer for uploads (the piece moved at once).",
  },
} as const;

/**
 * Options for `WebdavBackend`: `caFile`, `insecureSkipVerify`, `headers`
 * (duplicity's `--webdav-headers`: a string `"Name: value, Name2: value2"`,
 * where a comma only separates headers when a `Name:` follows it, or an
 * object), `maxRedirects`, `bufferSize`.
 */
export type WebdavOptions = OptionsInput<typeof WEBDAV_OPTIONS>;
