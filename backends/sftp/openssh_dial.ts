/**
 * A faster start for the OpenSSH client, without changing what it does:
 *
 * - The TCP connection. ssh turns Nagle's algorithm off only once a session
 *   is open, so during the login two of its small writes in a row wait for
 *   the server's delayed acknowledgement (about 40 ms on Linux). A tiny perl
 *   "proxy dialer" (`ProxyCommand` with `ProxyUseFdpass=yes`) connects to
 *   the host and port ssh resolved, sets `TCP_NODELAY` (and `SO_KEEPALIVE`,
 *   as ssh would), passes the socket to ssh and exits: ssh then talks to the
 *   server directly, as without a proxy. While the session opens, a child of
 *   the dialer also has the kernel acknowledge packets at once, sparing the
 *   40 ms sshd's own Nagle delay costs there. Used only on Linux with perl, and
 *   only when the ssh config names none of the settings a dialer would
 *   bypass (`ProxyCommand`, `ProxyJump`, `BindAddress`, `AddressFamily`…):
 *   then ssh connects by itself, exactly as configured.
 * - The key exchange. `curve25519-sha256` is offered first (as rclone and
 *   ssh2 do): OpenSSH 9's default, the post-quantum hybrid
 *   `sntrup761x25519-sha512@openssh.com`, costs 50–100 ms of CPU per login.
 *   The `kex` option puts it back first; a `KexAlgorithms` line in the ssh
 *   config is left alone.
 *
 * @module
 */

import { basename, dirname, join } from "node:path";
import { expandHome, passwdHome } from "./ssh_config.ts";

/** ssh config keywords whose effect a proxy dialer would bypass. */
const DIAL_CONFLICTS = [
  "proxycommand",
  "proxyjump",
  "bindaddress",
  "bindinterface",
  "addressfamily",
  "connectionattempts",
  "tcpkeepalive",
  "checkhostip",
  "canonicalizehostname",
];

/** The `sendmsg` system call number, by CPU (Deno runs on these two on Linux). */
const SYS_SENDMSG: Readonly<Record<string, number>> = { x86_64: 46, aarch64: 211 };

/**
 * The dialer, as perl source: connect to ARGV host and port within ARGV
 * seconds (IPv4 from gethostbyname; else getaddrinfo, IPv6 included), set
 * TCP_NODELAY and SO_KEEPALIVE, hand the socket to ssh over stdout
 * (SCM_RIGHTS) and exit. Failures are printed as ssh prints its own.
 *
 * A child stays while the ARGV marker path exists (this process removes it
 * once SFTP answers: the session is open), at most the login time, and
 * asks the kernel to acknowledge at once (TCP_QUICKACK) every millisecond:
 * sshd sends two small packets in a row when the session opens, and
 * Nagle's algorithm holds the second until the first is acknowledged,
 * which the client's kernel delays by 40 ms. No single quotes (shell), no
 * percent signs (ssh tokens).
 */
function dialScript(sendmsg: number): string {
  return [
    "use strict;",
    "my ($h, $p, $t, $mark) = @ARGV;",
    "my $ssh = getppid();",
    'sub fail { print STDERR "ssh: connect to host $h port $p: $_[0]\\n"; exit 255 }',
    // IPv4 first (no module to load), then every address getaddrinfo gives (IPv6 too).
    "my @a; my $more = 1;",
    'if ($h =~ /^\\d+\\.\\d+\\.\\d+\\.\\d+$/) { @a = ([2, pack("C4", split(/\\./, $h))]); $more = 0 }',
    "elsif (my @g = gethostbyname($h)) { @a = map { [2, $_] } @g[4 .. $#g] }",
    "my ($s, $why, $v4) = (undef, undef, scalar @a);",
    "while (!$s) {",
    "  unless (@a) {",
    "    last unless $more;",
    "    $more = 0;",
    "    require Socket;",
    "    my ($e, @r) = Socket::getaddrinfo($h, $p, { socktype => 1 });",
    '    if ($e && !$why) { print STDERR "ssh: Could not resolve hostname $h: $e\\n"; exit 255 }',
    "    @a = map { [$_->{family}, $_->{addr}, 1] } grep { !$v4 || $_->{family} != 2 } @r;",
    "    last unless @a;",
    "  }",
    "  my $x = shift @a;",
    '  my $sa = $x->[2] ? $x->[1] : pack("S n a4 x8", 2, $p, $x->[1]);',
    "  socket(my $c, $x->[0], 1, 6) or do { $why = $!; next };",
    '  my $ok = eval { local $SIG{ALRM} = sub { die "t\\n" }; alarm($t); my $r = connect($c, $sa); alarm(0); $r };',
    '  if ($ok) { $s = $c } else { $why = $@ ? "Connection timed out" : "$!" }',
    "}",
    "fail($why) unless $s;",
    "setsockopt($s, 6, 1, 1); setsockopt($s, 1, 9, 1);",
    'my $b = "\\0"; my $iov = pack("P Q", $b, 1);',
    'my $cm = pack("Q i i i x4", 20, 1, 1, fileno($s));',
    'my $m = pack("Q L x4 P Q P Q i x4", 0, 0, $iov, 1, $cm, 24, 0);',
    `syscall(${sendmsg}, 1, $m, 0) >= 0 or fail("cannot pass the socket: $!");`,
    // ssh waits for this process: a child stays, detached from ssh's pipes.
    "my $pid = fork;",
    "exit 0 if !defined $pid || $pid;",
    "close STDIN; close STDOUT; close STDERR;",
    "my $end = time + $t;",
    // TCP_QUICKACK (12).
    "while (-e $mark && time < $end && kill(0, $ssh)) {",
    "  setsockopt($s, 6, 12, 1);",
    "  select(undef, undef, undef, 0.001);",
    "}",
  ].join(" ");
}

/** What the ssh config files say about the settings this file changes, cached per set of files. */
const scans = new Map<string, Promise<Set<string>>>();

/**
 * The keywords (lower case) of `DIAL_CONFLICTS`, `kexalgorithms` and
 * `ciphers` that appear anywhere in the ssh config files ssh will read
 * (`files`, following `Include`); `*` when a file could not be followed.
 */
export function configKeywords(files: readonly string[]): Promise<Set<string>> {
  const key = files.join("\0");
  let p = scans.get(key);
  if (!p) {
    p = scanFiles(files);
    scans.set(key, p);
  }
  return p;
}

async function scanFiles(files: readonly string[]): Promise<Set<string>> {
  const found = new Set<string>();
  const wanted = new Set([...DIAL_CONFLICTS, "kexalgorithms", "ciphers"]);
  const seen = new Set<string>();
  const visit = async (file: string, base: string, depth: number): Promise<void> => {
    if (seen.has(file) || depth > 16) return;
    seen.add(file);
    let text: string;
    try {
      text = await Deno.readTextFile(file);
    } catch (err) {
      if (!(err instanceof Deno.errors.NotFound)) found.add("*");
      return;
    }
    for (const raw of text.split("\n")) {
      const m = /^\s*([A-Za-z]+)(?:\s*=\s*|\s+)(.*)$/.exec(raw);
      if (!m) continue;
      const kw = m[1]!.toLowerCase();
      if (wanted.has(kw)) found.add(kw);
      if (kw !== "include") continue;
      for (const pattern of m[2]!.trim().split(/\s+/)) {
        const path = expandHome(pattern, passwdHome());
        const abs = path.startsWith("/") ? path : join(base, path);
        const paths = await globFiles(abs);
        if (!paths) found.add("*");
        for (const f of paths ?? []) await visit(f, base, depth + 1);
      }
    }
  };
  for (const f of files) await visit(f, f.startsWith("/etc/") ? "/etc/ssh" : dirname(f), 0);
  return found;
}

/** Files matching `pattern` (wildcards in the last part only), sorted; `undefined` when unsure. */
async function globFiles(pattern: string): Promise<string[] | undefined> {
  const dir = dirname(pattern);
  const name = basename(pattern);
  if (/[*?[]/.test(dir)) return undefined;
  if (!/[*?[]/.test(name)) return [pattern];
  if (name.includes("[")) return undefined;
  const re = new RegExp(
    `^${name.replace(/[.+^${}()|\\]/g, "\\$&").replace(/\*/g, ".*").replace(/\?/g, ".")}$`,
  );
  const out: string[] = [];
  try {
    for await (const e of Deno.readDir(dir)) if (re.test(e.name)) out.push(join(dir, e.name));
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound)) return undefined;
  }
  return out.sort();
}

/**
 * The `-o` options that make ssh connect through the dialer, or `[]` when
 * it may not: another OS or CPU, no perl allowed, a path ssh or the shell
 * would read differently, or a config keyword the dialer would bypass
 * (`found` from {@linkcode configKeywords}). The dialer's child stays
 * while `marker` exists.
 */
export function dialerOptions(
  perl: string | undefined,
  found: ReadonlySet<string>,
  timeoutSeconds: number,
  marker: string | undefined,
): string[] {
  const sendmsg = SYS_SENDMSG[Deno.build.arch];
  if (Deno.build.os !== "linux" || !sendmsg || !perl || !marker) return [];
  if (found.has("*") || DIAL_CONFLICTS.some((k) => found.has(k))) return [];
  if (!/^[\w./-]+$/.test(perl) || !/^[\w./-]+$/.test(marker)) return [];
  const command = `${perl} -e '${dialScript(sendmsg)}' -- %h %p ${timeoutSeconds} ${marker}`;
  return ["ProxyUseFdpass=yes", `ProxyCommand=${command}`];
}
