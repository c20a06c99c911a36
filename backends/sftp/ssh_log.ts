/**
 * What the OpenSSH client printed on stderr (it runs with `-v`): the lines
 * that explain a failure, and the few facts the error messages and the
 * password step need. `error.ts` turns it into a coded error.
 *
 * @module
 */

/** What `ssh -v` printed: the lines that explain a failure (last 20), and a few facts. */
export class SshLog {
  /** The last lines that are not debug chatter (at most 20, each at most 500 characters). */
  readonly lines: string[] = [];
  /** The server is OpenSSH (from its version string). */
  openssh = false;
  /** The server's host key as `type SHA256:…`, once seen. */
  hostKey: string | undefined;
  /** The host and port ssh connected to, after its config was applied. */
  target: { host: string; port: number } | undefined;
  /** The user ssh logged in as, after its config was applied. */
  user: string | undefined;
  /** The login methods the server still accepted at the last refusal (`publickey`, `password`…). */
  methodsLeft: string[] | undefined;
  /** ssh's exit code, once it has exited. */
  exitCode: number | undefined;
  /** The server's software, from its version string (`OpenSSH_9.2p1`). */
  software: string | undefined;
  /** What the server said instead of an SSH version string, when it speaks another protocol. */
  foreignGreeting: string | undefined;

  /** Take one line of ssh's stderr (secrets already scrubbed). */
  add(line: string): void {
    if (!line.trim()) return;
    let m = /remote software version (\S+)/.exec(line);
    if (m) {
      this.software = m[1];
      this.openssh = /^OpenSSH/i.test(m[1]!);
      return;
    }
    if ((m = /kex_exchange_identification: banner line \d+: (.*)$/.exec(line))) {
      if (isForeignGreeting(m[1]!)) this.foreignGreeting ??= m[1]!.slice(0, 200);
      return;
    }
    if ((m = /^debug1: Executing proxy dialer command: .* -- (\S+) (\d+) \d+ \S+$/.exec(line))) {
      this.target = { host: m[1]!, port: Number(m[2]) };
      return;
    }
    if ((m = /^debug1: Server host key: (\S+) (SHA256:\S+)/.exec(line))) {
      this.hostKey = `${m[1]} ${m[2]}`;
      return;
    }
    if ((m = /^debug1: Connecting to (\S+) \[[^\]]*\] port (\d+)/.exec(line))) {
      this.target = { host: m[1]!, port: Number(m[2]) };
      return;
    }
    if ((m = /^debug1: Authenticating to \S+ as '([^']*)'/.exec(line))) {
      this.user = m[1];
      return;
    }
    if ((m = /^debug1: Authentications that can continue: (\S*)/.exec(line))) {
      this.methodsLeft = m[1]!.split(",").filter(Boolean);
      return;
    }
    if (
      /^(debug\d:|OpenSSH_|Authenticated to|Transferred:|Bytes per second|Warning: Permanently added)/
        .test(line)
    ) {
      return;
    }
    this.lines.push(line.length > 500 ? line.slice(0, 500) : line);
    if (this.lines.length > 20) this.lines.shift();
  }

  /** All kept lines as one text. */
  get text(): string {
    return this.lines.join("\n");
  }

  /** ssh was refused the login (rather than failing to connect or to trust the host). */
  get loginRefused(): boolean {
    return /Permission denied|Too many authentication failures|No more authentication methods/i
      .test(this.text);
  }
}

/**
 * Whether a line a server sent before (instead of) its SSH version string
 * is another protocol's greeting (FTP, SMTP, POP3, IMAP, HTTP, VNC) or not
 * text at all. SSH allows other lines first, so only these fail at once.
 */
export function isForeignGreeting(line: string): boolean {
  // deno-lint-ignore no-control-regex
  return /^(\d{3}[ -]|HTTP\/|\+OK|\* OK|RFB \d|AMQP)|[\x00-\x08\x0e-\x1f\x7f]/.test(line);
}
