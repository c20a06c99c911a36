/**
 * Logging in: the identity files (read and checked for both engines), the
 * password (from the URL or `FTP_PASSWORD`, else asked through the caller's
 * `askPassword` callback only once the agent and every key were refused),
 * and ssh2's auth handler, which tries the agent, then the keys, then the
 * password, in OpenSSH's order.
 *
 * @module
 */

// @ts-types="npm:@types/ssh2@^1.15.0"
import type { ConnectConfig, ParsedKey } from "ssh2";
import { BackendError, ErrorCode, reasonOf } from "../../core/errors.ts";
import { type AskPassword, resolvePassword, storedPassword } from "../../core/password.ts";
import type { ParsedUrl } from "../../core/url.ts";
import type { Target } from "./ssh_config.ts";

/** One way to log in for ssh2, before the password. */
export type AuthMethod =
  | { type: "agent"; username: string; agent: string }
  | { type: "publickey"; username: string; key: ParsedKey };

/**
 * The password of one backend: the stored one (URL, `FTP_PASSWORD`), else
 * asked through `askPassword` when a login needs it, and remembered for
 * reconnections until a login with it is refused.
 */
export class PasswordSource {
  readonly #url: ParsedUrl;
  readonly #ask: AskPassword | undefined;
  #asked: string | undefined;

  /** Nothing is read or asked until {@linkcode PasswordSource.get}. */
  constructor(url: ParsedUrl, ask: AskPassword | undefined) {
    this.#url = url;
    this.#ask = ask;
  }

  /** The password from the URL or `FTP_PASSWORD`, without asking anyone. */
  stored(): string | undefined {
    return storedPassword(this.#url);
  }

  /** The password known without asking: stored, else asked earlier and not refused since. */
  known(): string | undefined {
    return this.stored() ?? this.#asked;
  }

  /** Whether a login may ask for a password (no stored one, but a callback). */
  get mayAsk(): boolean {
    return this.known() === undefined && this.#ask !== undefined;
  }

  /**
   * The password: stored, else remembered, else asked now. While the user
   * types, and when the answer comes, `progress` is called, so no-progress
   * timeouts wait for the user.
   */
  async get(progress?: () => void): Promise<string | undefined> {
    const known = this.known();
    if (known !== undefined) return known;
    if (!this.#ask) return undefined;
    const ticker = progress ? setInterval(progress, 1000) : undefined;
    try {
      this.#asked = await resolvePassword(this.#url, { askPassword: this.#ask });
    } finally {
      if (ticker !== undefined) clearInterval(ticker);
      progress?.(); // a prompt that blocked the event loop let no tick through
    }
    return this.#asked;
  }

  /** Drop an asked password the server refused, so the next login asks again. */
  forget(): void {
    this.#asked = undefined;
  }
}

/** Read a private key file (code 23 when it cannot be read). */
async function readKeyFile(path: string): Promise<Uint8Array> {
  try {
    return await Deno.readFile(path);
  } catch (err) {
    throw new BackendError(`cannot read the identity file "${path}": ${reasonOf(err)}`, {
      code: ErrorCode.user_error,
      cause: err,
    });
  }
}

/** Parse a private key with ssh2 (loaded now): the key, or ssh2's reason it cannot use it. */
async function parseKey(
  data: Uint8Array,
  passphrase: string | undefined,
): Promise<ParsedKey | Error> {
  const { utils } = await import("ssh2");
  const { Buffer } = await import("node:buffer");
  const parsed = utils.parseKey(Buffer.from(data), passphrase);
  const key = Array.isArray(parsed) ? parsed[0] : parsed;
  return key ?? new Error("no key in the file");
}

/** Read and parse a private key file: the key, or ssh2's reason it cannot use it. */
async function parseKeyFile(
  path: string,
  passphrase: string | undefined,
): Promise<ParsedKey | Error> {
  return await parseKey(await readKeyFile(path), passphrase);
}

/**
 * Whether a private key file is encrypted, read from its format (OpenSSH,
 * PEM, PKCS#8, PuTTY) without parsing the key; `undefined` for a format
 * not known here.
 */
export function keyIsEncrypted(data: Uint8Array): boolean | undefined {
  const text = new TextDecoder().decode(data.subarray(0, 64 * 1024));
  const m = /-----BEGIN OPENSSH PRIVATE KEY-----([\s\S]*?)-----END/.exec(text);
  if (m) {
    try {
      const raw = Uint8Array.from(atob(m[1]!.replace(/\s+/g, "")), (c) => c.charCodeAt(0));
      const magic = "openssh-key-v1\0";
      if (new TextDecoder().decode(raw.subarray(0, magic.length)) !== magic) return undefined;
      const p = magic.length;
      const len = new DataView(raw.buffer).getUint32(p);
      return new TextDecoder().decode(raw.subarray(p + 4, p + 4 + len)) !== "none";
    } catch {
      return undefined;
    }
  }
  if (/-----BEGIN ENCRYPTED PRIVATE KEY-----/.test(text)) return true;
  if (/-----BEGIN PRIVATE KEY-----/.test(text)) return false;
  if (/-----BEGIN (RSA|DSA|EC) PRIVATE KEY-----/.test(text)) {
    return /Proc-Type:\s*4,ENCRYPTED/i.test(text);
  }
  const putty = /^PuTTY-User-Key-File-\d+:.*\r?\nEncryption:\s*(\S+)/m.exec(text);
  if (putty) return putty[1] !== "none";
  return undefined;
}

function isEncrypted(err: Error): boolean {
  return /encrypt|passphrase|decrypt/i.test(err.message);
}

function refuseKey(path: string, why: string): BackendError {
  return new BackendError(`cannot use the identity file "${path}": ${why}`, {
    code: ErrorCode.user_error,
  });
}

function passphraseProblem(passphrase: string | undefined): string {
  return passphrase === undefined
    ? "it is encrypted; give the passphrase option"
    : "the passphrase does not decrypt it";
}

/**
 * For the OpenSSH engine: refuse an identity file that is unreadable, or
 * encrypted without the right passphrase (code 23). The format tells
 * whether it is encrypted; ssh2 is loaded only to try a passphrase. Keys
 * ssh2 cannot parse (security keys, new formats) are left to ssh.
 */
export async function checkIdentity(path: string, passphrase: string | undefined): Promise<void> {
  const data = await readKeyFile(path);
  const encrypted = keyIsEncrypted(data);
  if (encrypted === false) return;
  if (encrypted === true && passphrase === undefined) {
    throw refuseKey(path, passphraseProblem(passphrase));
  }
  // Encrypted with a passphrase given, or a format not known here: ask ssh2 (rarely needed).
  const key = await parseKey(data, passphrase);
  if (key instanceof Error && isEncrypted(key)) {
    throw refuseKey(path, passphraseProblem(passphrase));
  }
}

/**
 * For the ssh2 engine: the agent (the `agent` option, else `SSH_AUTH_SOCK`;
 * `none` for none) and the keys of `target` that load, in OpenSSH's order,
 * and their names for messages. A key the option named must load (code 23);
 * a default key that does not (missing, encrypted) is skipped.
 */
export async function keyMethods(
  target: Target,
  agent: string | undefined,
  passphrase: string | undefined,
): Promise<{ methods: AuthMethod[]; tried: string[] }> {
  const methods: AuthMethod[] = [];
  const tried: string[] = [];
  if (agent) {
    methods.push({ type: "agent", username: target.user, agent });
    tried.push("ssh-agent");
  }
  for (const f of target.identityFiles) {
    let key: ParsedKey | Error;
    try {
      key = await parseKeyFile(f.path, passphrase);
    } catch (err) {
      if (f.explicit) throw err;
      continue;
    }
    if (key instanceof Error) {
      // An encrypted default key without a passphrase is skipped, as a non-interactive ssh would.
      if (!f.explicit) continue;
      const why = isEncrypted(key)
        ? passphraseProblem(passphrase)
        : "it is not a private key ssh2 can read";
      throw refuseKey(f.path, why);
    }
    methods.push({ type: "publickey", username: target.user, key });
    tried.push(`key ${f.path}`);
  }
  return { methods, tried };
}

/**
 * ssh2's auth handler: each method once (skipping those the server does not
 * offer), then the password, fetched only now (asking the user, perhaps) and
 * only when the server offers password login. `password` resolves
 * `undefined` when there is none; when it rejects, the login ends and
 * `failure()` returns its error. "password" is added to `tried` when sent.
 */
export function authHandler(
  methods: readonly AuthMethod[],
  user: string,
  password: () => Promise<string | undefined>,
  tried: string[],
): { handler: NonNullable<ConnectConfig["authHandler"]>; failure: () => unknown } {
  let i = 0;
  let noneSent = false;
  let passwordDone = false;
  let failure: unknown;
  type Next = (method: unknown) => void;
  const handler = (left: string[] | null, _partial: boolean, next: Next): unknown => {
    while (i < methods.length) {
      const m = methods[i++]!;
      const wire = m.type === "agent" ? "publickey" : m.type;
      if (!left || left.includes(wire)) return m;
    }
    if (passwordDone) return false;
    // Nothing tried yet: learn what the server offers before asking anyone.
    if (!left) {
      if (noneSent) return false;
      noneSent = true;
      return { type: "none", username: user };
    }
    if (!left.includes("password")) return false;
    passwordDone = true;
    password().then((pw) => {
      if (pw === undefined) return next(false);
      tried.push("password");
      next({ type: "password", username: user, password: pw });
    }, (err) => {
      failure = err;
      next(false);
    });
    return undefined;
  };
  return {
    handler: handler as unknown as NonNullable<ConnectConfig["authHandler"]>,
    failure: () => failure,
  };
}
