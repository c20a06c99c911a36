/**
 * The command line of the OpenSSH engine's `ssh -s host sftp`, from the
 * options: config file, known_hosts and host-key policy, identity files,
 * agent, ciphers. Secrets never go on it: a password or key passphrase
 * reaches ssh only through the environment of a private askpass helper, and
 * without one ssh runs with `BatchMode=yes`, so it never prompts on the
 * terminal.
 *
 * @module
 */

import { dirname, join } from "node:path";
import { BackendError, ErrorCode, reasonOf } from "../../core/errors.ts";
import type { ParsedUrl } from "../../core/url.ts";
import { checkIdentity } from "./auth.ts";
import { configKeywords, dialerOptions } from "./openssh_dial.ts";
import type { SftpSettings } from "./options.ts";
import {
  DEFAULT_IDENTITIES,
  envGet,
  expandHome,
  homeDir,
  isFile,
  passwdHome,
} from "./ssh_config.ts";

/** One ssh invocation: its arguments and environment, and what the messages name. */
export interface SshCommand {
  /** The arguments, ending with `-s -- host sftp`. */
  args: string[];
  /** The environment to add (the askpass helper and its secrets). */
  env: Record<string, string>;
  /** The methods ssh will try, for messages (`ssh-agent`, `key /path`, `password`). */
  tried: string[];
  /** The known_hosts file set on the command line, if any. */
  knownHostsFile: string | undefined;
  /** The secrets in `env`, to scrub from what ssh prints. */
  secrets: string[];
  /** ssh connects through the perl dialer. */
  dialer: boolean;
  /** Remove the askpass helper (once ssh no longer needs it); idempotent. */
  removeHelper(): Promise<void>;
}

/** The key exchange offered first: fast (see `openssh_dial.ts`). */
const FAST_KEX = "curve25519-sha256,curve25519-sha256@libssh.org";

/** Answers ssh's passphrase and password prompts from its own environment, never argv. */
const ASKPASS_SCRIPT = `#!/bin/sh
case "$1" in
*"passphrase for"*) [ -n "\${STOWAGE_SSH_PASSPHRASE+x}" ] || exit 1; printf '%s\\n' "$STOWAGE_SSH_PASSPHRASE" ;;
*assword*) [ -n "\${STOWAGE_SSH_PASSWORD+x}" ] || exit 1; printf '%s\\n' "$STOWAGE_SSH_PASSWORD" ;;
*) exit 1 ;;
esac
`;

/**
 * Build the ssh command for the store's URL and options. With `password`
 * ssh tries the keys, then that password once; without it ssh only tries
 * the agent and the keys. `perl`, when it may run, starts the connection
 * (see `openssh_dial.ts`; its helper stays while `marker` exists);
 * `loginTimeout` is in ms. With `prefer` (default), fast key exchange and
 * ciphers go first in ssh's lists ("^", OpenSSH 8.2 and later) unless the
 * options or the ssh config name their own.
 */
export async function sshCommand(
  url: ParsedUrl,
  settings: SftpSettings,
  password: string | undefined,
  perl: string | undefined,
  loginTimeout: number,
  marker?: string,
  prefer = true,
): Promise<SshCommand> {
  const home = homeDir();
  // OpenSSH finds ~ from the password database, not HOME: when HOME points
  // elsewhere, pin the config, known_hosts and default keys to HOME.
  const pinHome = home !== undefined && home !== passwdHome();
  const args = ["-x", "-a", "-T", "-e", "none", "-v"];
  const o = (kv: string) => args.push("-o", kv);
  const seconds = Math.max(1, Math.ceil(loginTimeout / 1000));
  o(`ConnectTimeout=${seconds}`);
  o(`ServerAliveInterval=${Math.round(settings.keepaliveInterval)}`);
  o("ServerAliveCountMax=3");
  if (url.port) args.push("-p", String(url.port));
  if (url.username !== undefined) args.push("-l", url.username);

  const cfg = settings.sshConfig;
  // The config files ssh reads: -F names the only one.
  let configFiles: string[] = [];
  if (cfg === "none") args.push("-F", "/dev/null");
  else if (cfg) {
    const file = expandHome(cfg, home);
    if (!(await isFile(file))) {
      throw new BackendError(`the ssh config file "${cfg}" does not exist`, {
        code: ErrorCode.user_error,
      });
    }
    args.push("-F", file);
    configFiles = [file];
  } else if (pinHome) {
    const file = join(home!, ".ssh", "config");
    const exists = await isFile(file);
    args.push("-F", exists ? file : "/dev/null");
    if (exists) configFiles = [file];
  } else {
    const passwd = passwdHome();
    configFiles = [...(passwd ? [join(passwd, ".ssh", "config")] : []), "/etc/ssh/ssh_config"];
  }
  const found = await configKeywords(configFiles);

  const khOpt = settings.knownHostsFile;
  const khFile = khOpt
    ? expandHome(khOpt, home)
    : pinHome
    ? join(home!, ".ssh", "known_hosts")
    : undefined;
  if (settings.insecureSkipHostKeyCheck) {
    o("StrictHostKeyChecking=no");
    o("UserKnownHostsFile=/dev/null");
    o("GlobalKnownHostsFile=/dev/null");
  } else {
    o(`StrictHostKeyChecking=${settings.acceptNewHostKey ? "accept-new" : "yes"}`);
    if (khFile) o(`UserKnownHostsFile=${sshConfigValue(khFile)}`);
    if (khOpt) o("GlobalKnownHostsFile=/dev/null");
    if (settings.acceptNewHostKey && khFile) await makeKnownHosts(khFile);
  }

  const passphrase = settings.passphrase;
  const tried: string[] = [];
  const explicit = settings.identityFile;
  const ids = explicit?.map((f) => expandHome(f, home)) ?? [];
  for (const f of ids) await checkIdentity(f, passphrase);
  if (!explicit && pinHome) {
    for (const f of DEFAULT_IDENTITIES) {
      const path = join(home!, ".ssh", f);
      if (await isFile(path)) ids.push(path);
    }
  }
  for (const f of ids) {
    args.push("-i", f.replaceAll("%", "%%"));
    tried.push(`key ${f}`);
  }
  if (explicit) o("IdentitiesOnly=yes");
  const agent = settings.agent;
  if (agent === "none") o("IdentityAgent=none");
  else {
    if (agent) o(`IdentityAgent=${sshConfigValue(expandHome(agent, home))}`);
    if (agent || envGet("SSH_AUTH_SOCK")) tried.unshift("ssh-agent");
  }
  if (settings.ciphers) args.push("-c", settings.ciphers.join(","));
  else if (prefer && !found.has("ciphers") && cpuHasAes()) {
    o("Ciphers=^aes128-gcm@openssh.com,aes256-gcm@openssh.com");
  }
  if (settings.macs) args.push("-m", settings.macs.join(","));
  if (settings.kex) o(`KexAlgorithms=${settings.kex.join(",")}`);
  else if (prefer && !found.has("kexalgorithms")) o(`KexAlgorithms=^${FAST_KEX}`);

  const env: Record<string, string> = {};
  const dial = dialerOptions(perl, found, seconds, marker);
  for (const kv of dial) o(kv);
  if (dial.length) env.SHELL = "/bin/sh"; // ssh runs the dialer through $SHELL
  let helperDir: string | undefined;
  if (password !== undefined || passphrase !== undefined) {
    helperDir = await Deno.makeTempDir({ prefix: "stowage-askpass-" });
    await Deno.chmod(helperDir, 0o700);
    const script = join(helperDir, "askpass");
    await Deno.writeTextFile(script, ASKPASS_SCRIPT, { mode: 0o700 });
    await Deno.chmod(script, 0o700);
    env.SSH_ASKPASS = script;
    env.SSH_ASKPASS_REQUIRE = "force";
    if (password !== undefined) env.STOWAGE_SSH_PASSWORD = password;
    if (passphrase !== undefined) env.STOWAGE_SSH_PASSPHRASE = passphrase;
    o("BatchMode=no");
    o("NumberOfPasswordPrompts=1");
  } else o("BatchMode=yes");
  if (password !== undefined) {
    o("PreferredAuthentications=publickey,password");
    tried.push("password");
  } else if (passphrase !== undefined) o("PreferredAuthentications=publickey");
  args.push("-s", "--", url.hostname!, "sftp");

  return {
    args,
    env,
    tried,
    knownHostsFile: khFile,
    secrets: [password, passphrase].filter((x): x is string => !!x),
    dialer: dial.length > 0,
    async removeHelper() {
      const d = helperDir;
      helperDir = undefined;
      if (d) await Deno.remove(d, { recursive: true }).catch(() => {});
    },
  };
}

/** OpenSSH makes neither the known_hosts folder nor a private file: make both. */
async function makeKnownHosts(file: string): Promise<void> {
  try {
    await Deno.mkdir(dirname(file), { recursive: true, mode: 0o700 });
    (await Deno.open(file, { append: true, create: true, mode: 0o600 })).close();
  } catch (err) {
    throw new BackendError(`cannot create the known_hosts file "${file}": ${reasonOf(err)}`, {
      code: ErrorCode.user_error,
      cause: err,
    });
  }
}

/** A path as an OpenSSH `-o key=value` value: `%` escaped, quoted when it has spaces. */
function sshConfigValue(path: string): string {
  const v = path.replaceAll("%", "%%");
  return /[\s"'\\]/.test(v) ? `"${v.replace(/(["\\])/g, "\\$1")}"` : v;
}

let aes: boolean | undefined;

/** Whether the CPU encrypts AES in hardware (then AES-GCM beats ChaCha20-Poly1305 for OpenSSH). */
function cpuHasAes(): boolean {
  if (aes === undefined) {
    try {
      aes = /^(flags|Features)\s*:.*\baes\b/m.test(Deno.readTextFileSync("/proc/cpuinfo"));
    } catch {
      aes = false;
    }
  }
  return aes;
}
