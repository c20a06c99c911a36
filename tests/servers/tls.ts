/**
 * A throw-away certificate authority and a server certificate for
 * 127.0.0.1/localhost signed by it, made with openssl, for the TLS tests
 * (FTPS, WebDAV over TLS). Trusting `ca` must be enough to verify `cert`.
 *
 * @module
 */

import { join } from "node:path";
import { run } from "./common.ts";

/** PEM file paths of a test CA and a server certificate it signed. */
export interface TestCertificates {
  /** The CA certificate to trust (`caFile`). */
  ca: string;
  /** The server's certificate (signed by `ca`). */
  cert: string;
  /** The server certificate's private key. */
  key: string;
}

/** Make a CA and a 127.0.0.1/localhost server certificate (RSA 2048, 2 days) in `dir`. */
export async function makeTestCertificates(dir: string): Promise<TestCertificates> {
  const ca = join(dir, "ca.pem");
  const caKey = join(dir, "ca-key.pem");
  const key = join(dir, "key.pem");
  const csr = join(dir, "server.csr");
  const cert = join(dir, "cert.pem");
  const ext = join(dir, "server.ext");
  const rsa = ["-newkey", "rsa:2048", "-nodes"];
  await run("openssl", [
    ...["req", "-x509", ...rsa, "-keyout", caKey, "-out", ca, "-days", "2"],
    ...["-subj", "/CN=stowage test CA"],
    ...["-addext", "basicConstraints=critical,CA:TRUE"],
    ...["-addext", "keyUsage=critical,keyCertSign,cRLSign"],
  ]);
  await run("openssl", ["req", ...rsa, "-keyout", key, "-out", csr, "-subj", "/CN=127.0.0.1"]);
  await Deno.writeTextFile(
    ext,
    "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\n" +
      "extendedKeyUsage=serverAuth\nsubjectAltName=IP:127.0.0.1,DNS:localhost\n",
  );
  await run("openssl", [
    ...["x509", "-req", "-in", csr, "-CA", ca, "-CAkey", caKey, "-CAcreateserial"],
    ...["-out", cert, "-days", "2", "-extfile", ext],
  ]);
  return { ca, cert, key };
}
