/**
 * The options of `ftp://` and `ftps://`, declared once: type, default, doc.
 *
 * @module
 */

import type { OptionsInput } from "../../core/options.ts";

/** The options of `ftp://` and `ftps://`, declared once: type, default, doc. */
export const FTP_OPTIONS = {
  activeMode: {
    type: "boolean",
    default: false,
    doc:
      "Use active mode (the server connects back: PORT/EPRT) instead of passive mode (EPSV, then PASV).",
  },
  caFile: {
    type: "string",
    doc:
      "ftps:// only: a PEM file of CA certificates to trust instead of the system roots (a self-signed or private CA).",
  },
  insecureSkipVerify: {
    type: "boolean",
    default: false,
    doc: "ftps:// only: accept any certificate (no protection against a man in the middle).",
  },
  tlsServerName: {
    type: "string",
    doc: "ftps:// only: the name to verify the certificate against; default the URL's host.",
  },
  connections: {
    type: "integer",
    min: 1,
    max: 16,
    default: 1,
    doc: "Control connections open at once for concurrent calls (1 queues calls for one).",
  },
  bufferSize: {
    type: "bytes",
    min: 4096,
    max: 67108864,
    default: "256K",
    doc: "Bytes read from the local file per write on the data connection.",
  },
} as const;

/** Options for {@linkcode FtpBackend}. */
export type FtpOptions = OptionsInput<typeof FTP_OPTIONS>;
