/**
 * Real WebDAV servers on 127.0.0.1 for the tests and the benchmark:
 * Apache httpd with mod_dav (runs as root, drops to www-data; the whole
 * configuration lives in a temp folder) and `rclone serve webdav` (plain or
 * TLS with a self-signed certificate for 127.0.0.1), and a small loopback
 * proxy that puts faults (503, dropped connections, an ignored `Range`) in
 * front of a real server and counts connections and requests.
 *
 * @module
 */

import http from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import {
  freePort,
  readyOrCleanUp,
  requireProgram,
  run,
  scratchDir,
  type ServerProcess,
  startProcess,
  stopAndRemove,
  waitForLog,
  waitForPort,
  withServer,
} from "./common.ts";
import { makeTestCertificates } from "./tls.ts";

/** A running WebDAV server. */
export interface DavServer {
  /** `http://127.0.0.1:PORT/` (or `https://`), without credentials. */
  baseUrl: string;
  /** The port it listens on. */
  port: number;
  /** The folder on disk that `/` (Apache: the DAV root) maps to. */
  root: string;
  /** The scratch folder holding config, logs and data. */
  dir: string;
  /** The user name for Basic auth. */
  user: string;
  /** The password for Basic auth. */
  pass: string;
  /** The server process. */
  process: ServerProcess;
  /** Apache only: the access log, one line per request (`METHOD PATH X-Stowage-Test`). */
  accessLog?: string;
  /** Stop the server and remove its scratch folder. */
  stop(): Promise<void>;
}

const APACHE = "/usr/sbin/apache2";
/** The Basic auth login of both servers. */
const USER = "u";
const PASS = "p-secret";
const MODULES = "/usr/lib/apache2/modules";

/** Whether Apache (Debian package apache2 + apache2-utils) can run; prints the skip line otherwise. */
export function haveApache(): boolean {
  return requireProgram(APACHE, "apache2") && requireProgram("htpasswd", "apache2-utils");
}

/** Whether rclone can run; prints the skip line otherwise. */
export function haveRclone(): boolean {
  return requireProgram("rclone", "rclone");
}

/** Options for {@linkcode startApache}. */
export interface ApacheOptions {
  /** Extra lines for httpd.conf (e.g. `Redirect 307 /old /new`). */
  extraConfig?: string;
  /** `LimitRequestBody`; default 0 (no limit; Apache's own default is 1 GiB). */
  limitRequestBody?: number;
}

/**
 * Start Apache with mod_dav on the whole document root, Basic auth (`u`/`p`
 * via htpasswd), and an access log that records the `X-Stowage-Test` header.
 * Also loads mod_alias so tests can add `Redirect` lines.
 */
export async function startApache(options: ApacheOptions = {}): Promise<DavServer> {
  const dir = await scratchDir("apache");
  const root = join(dir, "root");
  const lock = join(dir, "lock");
  await Deno.mkdir(root);
  await Deno.mkdir(lock);
  await Deno.chmod(dir, 0o755);
  await run("chown", ["www-data:www-data", root, lock]);
  await run("htpasswd", ["-bc", join(dir, "htpasswd"), USER, PASS]);
  const port = freePort();
  const accessLog = join(dir, "access.log");
  const mods = [
    "mpm_event",
    "authz_core",
    "authn_core",
    "authn_file",
    "auth_basic",
    "authz_user",
    "dav",
    "dav_fs",
    "alias",
  ].map((m) => `LoadModule ${m}_module ${MODULES}/mod_${m}.so`).join("\n");
  const conf = `Listen 127.0.0.1:${port}
ServerName 127.0.0.1
PidFile ${dir}/httpd.pid
ErrorLog ${dir}/error.log
LogLevel warn
User www-data
Group www-data
${mods}
LogFormat "%m %U %>s %{X-Stowage-Test}i" stowage
CustomLog ${accessLog} stowage
LimitRequestBody ${options.limitRequestBody ?? 0}
KeepAlive On
MaxKeepAliveRequests 0
DavLockDB ${lock}/DavLock
DocumentRoot ${root}
<Directory ${root}>
  Dav On
  AuthType Basic
  AuthName dav
  AuthUserFile ${dir}/htpasswd
  Require valid-user
</Directory>
${options.extraConfig ?? ""}
`;
  const confFile = join(dir, "httpd.conf");
  await Deno.writeTextFile(confFile, conf);
  const proc = await startProcess(APACHE, ["-f", confFile, "-DFOREGROUND"], {
    logDir: dir,
    name: "apache",
  });
  try {
    // Apache exits at once on a bad config: watch for that while waiting for the port.
    await Promise.race([
      waitForPort(port, 10000),
      proc.child.status.then((st) => {
        throw new Error(`apache exited with code ${st.code}`);
      }),
    ]);
  } catch (err) {
    await proc.stop();
    const log = await Deno.readTextFile(join(dir, "error.log")).catch(() => "");
    await Deno.remove(dir, { recursive: true }).catch(() => {});
    throw new Error(`apache did not start: ${err} ${proc.log()} ${log}`);
  }
  return { ...davServer(proc, dir, root, port, false), accessLog };
}

/** Options for {@linkcode startRcloneWebdav}. */
export interface RcloneWebdavOptions {
  /** Serve over TLS with a fresh self-signed certificate for 127.0.0.1. */
  tls?: boolean;
}

/** A running rclone server; with TLS, `certFile` is the CA to trust. */
export interface RcloneDavServer extends DavServer {
  /** The test CA's certificate (PEM) that signed the server's, when `tls` was asked. */
  certFile?: string;
}

/**
 * Start `rclone serve webdav` on a local folder with `--user/--pass`; with
 * `tls`, a self-signed certificate (CN and SAN 127.0.0.1) made by openssl.
 */
export async function startRcloneWebdav(
  options: RcloneWebdavOptions = {},
): Promise<RcloneDavServer> {
  const dir = await scratchDir("rclone-dav");
  const root = join(dir, "root");
  await Deno.mkdir(root);
  const args = [
    "serve",
    "webdav",
    `:local:${root}`,
    "--addr",
    "127.0.0.1:0",
    ...(Deno.env.get("RCLONE_DEBUG") ? ["-vv"] : []),
    "--user",
    USER,
    "--pass",
    PASS,
  ];
  let certFile: string | undefined;
  if (options.tls) {
    // A small CA and a leaf certificate for 127.0.0.1 signed by it (rustls, behind Deno's
    // fetch, refuses a CA certificate used as the server's own).
    const certs = await makeTestCertificates(dir);
    certFile = certs.ca;
    args.push("--cert", certs.cert, "--key", certs.key);
  }
  const proc = await startProcess("rclone", args, {
    logDir: dir,
    name: "rclone",
    env: { RCLONE_CONFIG: "/dev/null", HOME: dir, PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin" },
  });
  const m = await readyOrCleanUp(
    proc,
    dir,
    () => waitForLog(proc, /WebDav Server started on https?:\/\/127\.0\.0\.1:(\d+)\//, 10000),
  );
  const port = Number(m[1]);
  return {
    ...davServer(proc, dir, root, port, options.tls ?? false),
    ...(certFile ? { certFile } : {}),
  };
}

/** What both servers have in common, for `proc` serving `root` on `port` (over TLS or not). */
function davServer(
  proc: ServerProcess,
  dir: string,
  root: string,
  port: number,
  tls: boolean,
): DavServer {
  return {
    baseUrl: `${tls ? "https" : "http"}://127.0.0.1:${port}/`,
    port,
    root,
    dir,
    user: USER,
    pass: PASS,
    process: proc,
    stop: stopAndRemove(proc, dir, debugLog(proc)),
  };
}

/** With `RCLONE_DEBUG` set, what prints the server's log once it has stopped. */
function debugLog(proc: ServerProcess): () => void {
  return () => {
    if (Deno.env.get("RCLONE_DEBUG")) console.log(proc.log());
  };
}

/**
 * The stowage URL for a server: `webdav://u:pass@127.0.0.1:PORT/path`
 * (`webdavs://` for TLS).
 */
export function davUrl(server: DavServer, path: string, withPassword = true): string {
  const scheme = server.baseUrl.startsWith("https") ? "webdavs" : "webdav";
  const auth = withPassword
    ? `${encodeURIComponent(server.user)}:${encodeURIComponent(server.pass)}@`
    : `${encodeURIComponent(server.user)}@`;
  return `${scheme}://${auth}127.0.0.1:${server.port}/${path.replace(/^\/+/, "")}`;
}

/** A running fault proxy. */
export interface FaultProxy {
  /** The port it listens on. */
  port: number;
  /** Method and path of every request seen, in order. */
  seen: string[];
  /** How many connections clients opened to it. */
  connections: number;
  /** Stop it, closing every connection. */
  close(): Promise<void>;
}

/** What {@linkcode startFaultProxy} does besides forwarding. */
export interface FaultRules {
  /** Answer this many first requests with 503 and `Retry-After: 1`. */
  fail503?: number;
  /** Drop the connection of requests that match, after forwarding ~1 MiB of body. */
  cut?: (method: string) => boolean;
  /** Drop only the first matching request. */
  cutOnce?: boolean;
  /** Forward requests without their `Range` header (a server that ignores ranges). */
  stripRange?: boolean;
}

/**
 * A loopback HTTP proxy in front of the server on `upstreamPort` (one
 * upstream connection per request), injecting the faults `rules` asks for.
 */
export function startFaultProxy(upstreamPort: number, rules: FaultRules = {}): Promise<FaultProxy> {
  const seen: string[] = [];
  let failures = rules.fail503 ?? 0;
  let cutDone = false;
  const server = http.createServer((req, res) => {
    seen.push(`${req.method} ${req.url}`);
    if (failures > 0) {
      failures--;
      req.resume();
      res.writeHead(503, { "Retry-After": "1", "Content-Length": "0" });
      res.end();
      return;
    }
    const cut = !(rules.cutOnce && cutDone) && (rules.cut?.(req.method ?? "") ?? false);
    if (cut) cutDone = true;
    const headers = { ...req.headers };
    if (rules.stripRange) delete headers["range"];
    const up = http.request({
      hostname: "127.0.0.1",
      port: upstreamPort,
      method: req.method,
      path: req.url,
      headers,
      agent: false,
    }, (upRes) => {
      // The upstream connection closes after each answer; the client's stays open.
      const { connection: _c, "keep-alive": _k, ...answerHeaders } = upRes.headers;
      res.writeHead(upRes.statusCode ?? 502, answerHeaders);
      let sent = 0;
      upRes.on("data", (chunk: Uint8Array) => {
        sent += chunk.length;
        res.write(chunk);
        if (cut && req.method === "GET" && sent >= 1 << 20) {
          upRes.destroy();
          res.socket?.destroy();
        }
      });
      upRes.on("end", () => res.end());
    });
    up.on("error", () => res.socket?.destroy());
    let received = 0;
    req.on("data", (chunk: Uint8Array) => {
      received += chunk.length;
      up.write(chunk);
      if (cut && req.method === "PUT" && received >= 1 << 20) {
        up.destroy();
        req.socket.destroy();
      }
    });
    req.on("end", () => up.end());
  });
  const proxy = { port: 0, seen, connections: 0, close: () => Promise.resolve() };
  server.on("connection", () => proxy.connections++);
  return new Promise((resolve) => {
    server.listen(0, "127.0.0.1", () => {
      proxy.port = (server.address() as AddressInfo).port;
      proxy.close = () =>
        new Promise<void>((r) => {
          server.closeAllConnections();
          server.close(() => r());
        });
      resolve(proxy);
    });
  });
}

/** The stowage URL for `server` reached through `proxy`. */
export function proxiedUrl(server: DavServer, proxy: FaultProxy, path: string): string {
  return `webdav://${server.user}:${server.pass}@127.0.0.1:${proxy.port}/${
    path.replace(/^\/+/, "")
  }`;
}

/** How many requests with `method` the proxy has seen. */
export function seenCount(proxy: FaultProxy, method: string): number {
  return proxy.seen.filter((s) => s.startsWith(`${method} `)).length;
}

/**
 * Run `fn` with a fresh Apache (`options`) and a fault proxy in front of it
 * (`rules`); the proxy is closed and the server stopped afterwards.
 */
export function withProxiedApache(
  rules: FaultRules,
  fn: (server: DavServer, proxy: FaultProxy) => Promise<void>,
  options: ApacheOptions = {},
): Promise<void> {
  return withServer(() => startApache(options), async (server) => {
    const proxy = await startFaultProxy(server.port, rules);
    try {
      await fn(server, proxy);
    } finally {
      await proxy.close();
    }
  });
}
