/**
 * The host-key check of the ssh2 engine, as OpenSSH does it: the server's key
 * must be in `~/.ssh/known_hosts` (or the `knownHostsFile` option; plain,
 * `[host]:port`, comma lists, wildcards and hashed `|1|` entries;
 * `/etc/ssh/ssh_known_hosts` is read too). `@revoked` keys are refused,
 * `@cert-authority` lines are ignored. An unknown host is refused unless
 * `acceptNewHostKey` is set, which records its key; a changed key is always
 * refused. (The OpenSSH engine leaves the check to ssh itself:
 * `StrictHostKeyChecking=yes` or `accept-new`.)
 *
 * @module
 */

import { Buffer } from "node:buffer";
import { createHash, createHmac, timingSafeEqual } from "node:crypto";
import { dirname, join } from "node:path";
import { BackendError, ErrorCode, reasonOf } from "../../core/errors.ts";
import { expandHome, homeDir, hostMatches } from "./ssh_config.ts";

/** Host key algorithms in ssh2's order; the ones known_hosts holds for the host go first. */
const HOST_KEY_ALGOS = [
  "ssh-ed25519",
  "ecdsa-sha2-nistp256",
  "ecdsa-sha2-nistp384",
  "ecdsa-sha2-nistp521",
  "rsa-sha2-512",
  "rsa-sha2-256",
  "ssh-rsa",
];

/** The known_hosts lines to check against, and the file new keys go to. */
export interface KnownHostsSource {
  /** The file new keys are appended to. */
  file: string;
  /** Every line of the files read. */
  lines: string[];
}

/**
 * Read the known_hosts file (the option, else `~/.ssh/known_hosts` and
 * `/etc/ssh/ssh_known_hosts`); missing files count as empty.
 */
export async function readKnownHosts(option: string | undefined): Promise<KnownHostsSource> {
  const home = homeDir();
  const file = option
    ? expandHome(option, home)
    : home
    ? join(home, ".ssh", "known_hosts")
    : undefined;
  if (!file) {
    throw new BackendError(
      "cannot find a known_hosts file: HOME is not set; give the knownHostsFile option",
      { code: ErrorCode.user_error },
    );
  }
  const texts: string[] = [];
  for (const f of option ? [file] : [file, "/etc/ssh/ssh_known_hosts"]) {
    try {
      texts.push(await Deno.readTextFile(f));
    } catch (err) {
      if (!(err instanceof Deno.errors.NotFound)) throw err;
    }
  }
  return { file, lines: texts.join("\n").split("\n") };
}

/** Verifies one host's key against known_hosts lines, as OpenSSH does. */
export class HostKeyCheck {
  /** Why the key was refused, when it was. */
  problem: string | undefined;
  readonly #entries: { type: string; blob: string; revoked: boolean }[] = [];
  readonly #src: KnownHostsSource;
  readonly #host: string;
  readonly #port: number;
  readonly #acceptNew: boolean;
  readonly #label: string;

  /** Pick the lines for `host:port` (and every `@revoked` line) out of `src`. */
  constructor(src: KnownHostsSource, host: string, port: number, acceptNew: boolean) {
    this.#src = src;
    this.#host = host;
    this.#port = port;
    this.#acceptNew = acceptNew;
    this.#label = port === 22 ? host : `[${host}]:${port}`;
    for (const raw of src.lines) {
      const line = raw.trim();
      if (!line || line.startsWith("#")) continue;
      let fields = line.split(/\s+/);
      let revoked = false;
      if (fields[0]!.startsWith("@")) {
        if (fields[0] === "@revoked") revoked = true;
        else continue; // @cert-authority: certificates are not used here
        fields = fields.slice(1);
      }
      const [hosts, type, blob] = fields;
      if (!hosts || !type || !blob) continue;
      if (revoked || this.#hostsMatch(hosts)) this.#entries.push({ type, blob, revoked });
    }
  }

  /** Host key algorithms for the key types known for this host, so the server offers one we can check. */
  knownAlgorithms(): string[] {
    const types = new Set(this.#entries.filter((e) => !e.revoked).map((e) => e.type));
    const out: string[] = [];
    for (const t of types) {
      if (t === "ssh-rsa") out.push("rsa-sha2-512", "rsa-sha2-256", "ssh-rsa");
      else if (HOST_KEY_ALGOS.includes(t)) out.push(t);
    }
    return out;
  }

  /** Whether to trust `key` (recording it when new and accepted); sets `problem` when not. */
  verify(key: Buffer): boolean {
    const type = keyType(key);
    const blob = key.toString("base64");
    const fp = `${type} SHA256:${
      createHash("sha256").update(key).digest("base64").replace(/=+$/, "")
    }`;
    const where = this.#label;
    if (this.#entries.some((e) => e.revoked && e.blob === blob)) {
      this.problem = `the host key of ${where} (${fp}) is marked @revoked in ${this.#src.file}`;
      return false;
    }
    const mine = this.#entries.filter((e) => !e.revoked);
    if (mine.some((e) => e.blob === blob)) return true;
    if (mine.length) {
      this.problem =
        `the host key of ${where} has CHANGED (it now offers ${fp}, ${this.#src.file} has ${
          [...new Set(mine.map((e) => e.type))].join(", ")
        }): someone may be intercepting the connection; if the change is expected, remove the old entry with ` +
        `ssh-keygen -R '${where}' -f '${this.#src.file}'`;
      return false;
    }
    if (!this.#acceptNew) {
      this.problem =
        `the host key of ${where} (${fp}) is not in ${this.#src.file}; verify the fingerprint, then ` +
        `connect once with the option acceptNewHostKey=true (or add it with ssh-keyscan) to trust it`;
      return false;
    }
    try {
      this.#record(`${where} ${type} ${blob}`);
    } catch (err) {
      this.problem = `cannot add the host key of ${where} to ${this.#src.file}: ${reasonOf(err)}`;
      return false;
    }
    return true;
  }

  /** Append a line to the known_hosts file (a private file in a private folder when new). */
  #record(line: string): void {
    Deno.mkdirSync(dirname(this.#src.file), { recursive: true, mode: 0o700 });
    let prefix = "";
    try {
      const cur = Deno.readFileSync(this.#src.file);
      if (cur.length && cur[cur.length - 1] !== 10) prefix = "\n";
    } catch {
      // a new file
    }
    Deno.writeTextFileSync(this.#src.file, `${prefix}${line}\n`, {
      append: true,
      create: true,
      mode: 0o600,
    });
  }

  #hostsMatch(field: string): boolean {
    const names = this.#port === 22 ? [this.#host] : [`[${this.#host}]:${this.#port}`];
    if (field.startsWith("|1|")) {
      const [, , salt, hash] = field.split("|");
      if (!salt || !hash) return false;
      const want = Buffer.from(hash, "base64");
      return names.some((n) => {
        const got = createHmac("sha1", Buffer.from(salt, "base64")).update(n).digest();
        return got.length === want.length && timingSafeEqual(got, want);
      });
    }
    return names.some((n) => hostMatches(field.split(","), n));
  }
}

/** The key type named at the start of an SSH public key blob. */
function keyType(blob: Buffer): string {
  if (blob.length < 4) return "unknown";
  const len = blob.readUInt32BE(0);
  return blob.subarray(4, 4 + Math.min(len, 64)).toString("latin1");
}
