/**
 * FTPS certificate checks for `caFile`. Deno's TLS cannot resume a session
 * made with a custom `ca` on the data connections (servers such as vsftpd
 * require resumption), so with `caFile` the handshake runs without the
 * built-in check and {@linkcode verifyPeer} checks the control connection's
 * certificate against the file before the password is sent; every data
 * connection must then present the same certificate ({@linkcode pinData}).
 * A refused certificate is an error with an OpenSSL-style `code`, which
 * `core/tls.ts` maps to code 60.
 *
 * @module
 */

import { X509Certificate } from "node:crypto";
import type { AccessOptions, Client, FTPContext, FTPResponse } from "basic-ftp";
import { BackendError, ErrorCode, reasonOf } from "../../core/errors.ts";

/** TLS options as basic-ftp takes them. */
export type TlsOptions = NonNullable<AccessOptions["secureOptions"]>;

/** Checks a TLS socket's certificate; destroys the socket when it is not the expected one. */
export type Pin = (socket: unknown) => void;

/** Whether `host` is an IP address (v4 or v6) rather than a name. */
export function isIp(host: string): boolean {
  return /^[\d.]+$/.test(host) || host.includes(":");
}

/**
 * TLS options for the control connection (data connections reuse them):
 * verify against `name` unless `insecure`, or unless `manual` (the caller
 * checks with {@linkcode verifyPeer} instead).
 */
export function tlsOptions(name: string, insecure: boolean, manual: boolean): TlsOptions {
  const opts: TlsOptions = { host: name, rejectUnauthorized: !insecure && !manual };
  // RFC 6066: SNI carries host names, never IP addresses.
  if (!isIp(name)) opts.servername = name;
  return opts;
}

/** The certificates of a PEM file; code 23 when it cannot be read or holds none. */
export async function readCaFile(path: string): Promise<X509Certificate[]> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (err) {
    throw new BackendError(`Invalid option "caFile": ${reasonOf(err)}`, {
      code: ErrorCode.user_error,
      cause: err,
    });
  }
  const pems = text.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  const certs: X509Certificate[] = [];
  for (const pem of pems) {
    try {
      certs.push(new X509Certificate(pem));
    } catch {
      // skip a damaged block; none at all is an error below
    }
  }
  if (!certs.length) {
    throw new BackendError(`Invalid option "caFile": "${path}" holds no PEM certificate`, {
      code: ErrorCode.user_error,
    });
  }
  return certs;
}

/** A certificate the checks refused; `code` is the OpenSSL name `core/tls.ts` knows. */
class CertificateRejected extends Error {
  override readonly name = "CertificateRejected";
  readonly code: string;
  constructor(code: string, reason: string) {
    super(reason);
    this.code = code;
  }
}

/** The parts of a Node TLS socket the checks read. */
interface PeerSocket {
  getPeerCertificate(detailed?: boolean): { raw?: Uint8Array; fingerprint256?: string } | null;
  prependOnceListener(event: "secureConnect", fn: () => void): unknown;
  destroy(err?: Error): unknown;
}

/**
 * Check the control connection's certificate against the `caFile`
 * certificates: validity dates, the host name (or IP), and a chain of
 * signatures from the certificate up to one of them (the file may hold the
 * server's own self-signed certificate, a CA, or a CA and its
 * intermediates). Returns the certificate's SHA-256 fingerprint, which the
 * data connections must then present too.
 */
export function verifyPeer(socket: unknown, trusted: X509Certificate[], host: string): string {
  const peer = (socket as PeerSocket).getPeerCertificate(true);
  if (!peer?.raw) throw new CertificateRejected("CERT_REJECTED", "the server sent no certificate");
  const leaf = new X509Certificate(peer.raw);
  const now = Date.now();
  if (now < Date.parse(leaf.validFrom)) {
    throw new CertificateRejected("CERT_NOT_YET_VALID", "it is not yet valid");
  }
  if (now > Date.parse(leaf.validTo)) {
    throw new CertificateRejected("CERT_HAS_EXPIRED", "it is expired");
  }
  const nameOk = isIp(host) ? leaf.checkIP(host) !== undefined : leaf.checkHost(host) !== undefined;
  if (!nameOk) {
    throw new CertificateRejected("ERR_TLS_CERT_ALTNAME_INVALID", `it is not valid for "${host}"`);
  }
  const current = (c: X509Certificate) =>
    Date.parse(c.validFrom) <= now && now <= Date.parse(c.validTo);
  let cert = leaf;
  for (let depth = 0; depth < 8; depth++) {
    if (trusted.some((t) => t.fingerprint256 === cert.fingerprint256)) return leaf.fingerprint256;
    const issuer = trusted.find((t) =>
      t.ca && t.subject === cert.issuer && current(t) && cert.verify(t.publicKey)
    );
    if (!issuer) break;
    if (issuer.issuer === issuer.subject) return leaf.fingerprint256; // reached a root
    cert = issuer;
  }
  throw new CertificateRejected(
    "UNABLE_TO_GET_ISSUER_CERT_LOCALLY",
    "it is not signed by a certificate in caFile",
  );
}

/** A {@linkcode Pin} that refuses a TLS data connection whose certificate is not `fingerprint`. */
export function pinData(fingerprint: string): Pin {
  return (socket) => {
    const s = socket as PeerSocket;
    s.prependOnceListener("secureConnect", () => {
      if (s.getPeerCertificate()?.fingerprint256 !== fingerprint) {
        s.destroy(
          new CertificateRejected(
            "CERT_REJECTED",
            "the data connection presented another certificate",
          ),
        );
      }
    });
  };
}

/** Apply `pin` to every passive data connection basic-ftp opens, whatever strategy it settles on. */
export function pinPassive(client: Client, pin: Pin): void {
  let inner = client.prepareTransfer;
  const wrapper = async (ftp: FTPContext): Promise<FTPResponse> => {
    const res = await inner.call(client, ftp);
    // basic-ftp replaces prepareTransfer with the strategy that worked.
    if (client.prepareTransfer !== wrapper) {
      inner = client.prepareTransfer;
      client.prepareTransfer = wrapper;
    }
    if (ftp.dataSocket) pin(ftp.dataSocket);
    return res;
  };
  client.prepareTransfer = wrapper;
}
