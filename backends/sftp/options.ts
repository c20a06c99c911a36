/**
 * The options of `sftp://` and `scp://`, declared once: type, default, doc.
 *
 * @module
 */

import type { OptionsInput, OptionsParsed } from "../../core/options.ts";

/** The options of `sftp://` and `scp://`, declared once: type, default, doc. */
export const SFTP_OPTIONS = {
  identityFile: {
    type: "list",
    doc:
      "Private key file(s) to log in with (a list, or comma-separated); with the openssh engine passed as -i with IdentitiesOnly=yes. Default: IdentityFile from the ssh config, else ~/.ssh/id_ed25519, id_ecdsa and id_rsa when they exist.",
  },
  passphrase: {
    type: "string",
    secret: true,
    doc:
      "Passphrase for encrypted identity files (to the openssh engine through an askpass helper's environment); without it encrypted default keys are skipped.",
  },
  knownHostsFile: {
    type: "string",
    doc:
      "The known_hosts file (openssh: UserKnownHostsFile); default ~/.ssh/known_hosts, plus /etc/ssh/ssh_known_hosts read only.",
  },
  acceptNewHostKey: {
    type: "boolean",
    default: false,
    doc:
      "Trust a host that is not in known_hosts yet and record its key there (OpenSSH StrictHostKeyChecking=accept-new); a changed key is refused regardless.",
  },
  insecureSkipHostKeyCheck: {
    type: "boolean",
    default: false,
    doc:
      "DANGEROUS: do not verify the server's host key at all, so anyone between you and the server can read and change what you transfer.",
  },
  sshConfig: {
    type: "string",
    doc:
      "The ssh config file (openssh: -F, read in full; ssh2: HostName, Port, User and IdentityFile only); default ~/.ssh/config (openssh: also /etc/ssh/ssh_config); none to read none.",
  },
  agent: {
    type: "string",
    doc:
      "The ssh-agent socket to log in with (openssh: IdentityAgent); default SSH_AUTH_SOCK; none to use no agent.",
  },
  concurrency: {
    type: "integer",
    min: 1,
    max: 1024,
    doc:
      "Outstanding read or write requests per transfer; default 64 (as OpenSSH), fewer for large requests so at most 8 MiB is in flight.",
  },
  chunkSize: {
    type: "bytes",
    min: 1024,
    max: 4194304,
    doc:
      "Bytes per read or write request, capped at what the server accepts (255 KiB on OpenSSH servers); default 256 KiB with openssh, 64 KiB with ssh2.",
  },
  metaConcurrency: {
    type: "integer",
    min: 1,
    max: 256,
    default: 16,
    doc: "Parallel stat or remove requests for queryInfo and delete.",
  },
  connectTimeout: {
    type: "duration",
    min: 1,
    default: 20000,
    doc:
      "How long the SSH handshake and login may take (openssh: also ConnectTimeout); a number is milliseconds.",
  },
  keepaliveInterval: {
    type: "number",
    min: 0,
    default: 15,
    doc:
      "Seconds between SSH keepalives (openssh: ServerAliveInterval); a dead connection fails after 3 unanswered; 0 turns them off.",
  },
  ciphers: {
    type: "list",
    doc:
      "Ciphers to offer, in order of preference (OpenSSH Ciphers, -c); default AES-GCM first (with openssh when the CPU has AES instructions).",
  },
  macs: {
    type: "list",
    doc:
      "MACs to offer for non-AEAD ciphers, in order (OpenSSH MACs, -m); default the engine's order.",
  },
  kex: {
    type: "list",
    doc:
      "Key exchanges to offer, in order (OpenSSH KexAlgorithms); default curve25519-sha256 first (openssh: unless the ssh config sets KexAlgorithms) — OpenSSH 9's post-quantum sntrup761x25519-sha512@openssh.com costs 50-100 ms per login; name it first to prefer it.",
  },
  fsync: {
    type: "boolean",
    default: true,
    doc:
      "Ask the server to flush an upload to disk before renaming it into place (fsync@openssh.com, when offered), so a put that succeeded survives a server crash; costs the server's disk flush per file.",
  },
  engine: {
    type: "enum",
    values: ["auto", "openssh", "ssh2"],
    default: "auto",
    doc:
      "The SSH transport: openssh runs the system ssh client (native encryption, the full ssh config), ssh2 is pure JavaScript; auto picks openssh when ssh is on PATH.",
  },
} as const;

/** Options for {@linkcode SftpBackend}; from the CLI as `-o key=value`. */
export type SftpOptions = OptionsInput<typeof SFTP_OPTIONS>;

/** The parsed settings of `sftp://`, as the engines and transfers read them. */
export type SftpSettings = OptionsParsed<typeof SFTP_OPTIONS>;
