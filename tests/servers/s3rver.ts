/**
 * A real S3 server for the tests and benchmarks: s3rver 3.7.1 (npm, already
 * in deno.json) run as its own process under Node.js, bound to 127.0.0.1 on
 * a port the kernel picks (read back from its ready line), with its data in
 * a scratch folder that `stop()` removes.
 *
 * s3rver checks SigV4 signatures with the fixed key pair `S3RVER`/`S3RVER`.
 *
 * s3rver checks that the access key exists but does not verify SigV4
 * signatures, so a wrong secret goes unnoticed; the tests inject the
 * SignatureDoesNotMatch answer through {@linkcode startFaultProxy} instead.
 *
 * Two s3rver quirks the tests work around:
 * - Its ListObjectsV2 continuation tokens are DES-encrypted, which OpenSSL 3
 *   refuses: every listing longer than one page fails with InternalError
 *   (`ERR_OSSL_EVP_UNSUPPORTED` under Node 20, `ERR_CRYPTO_UNKNOWN_CIPHER`
 *   under Deno). Node's `--openssl-legacy-provider` brings DES back, which is
 *   why it runs under Node rather than Deno.
 * - Its DeleteObjects deletes the keys concurrently and each delete removes
 *   the key's folder on disk when it is empty; two deletes racing for the
 *   last files of a folder make one fail with ENOENT (InternalError). Tests
 *   that bulk-delete a whole prefix keep a file one level deeper
 *   ({@linkcode keepFolder}), which list() does not show.
 *
 * @module
 */

import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import {
  readyOrCleanUp,
  requireProgram,
  scratchDir,
  type ServerProcess,
  startProcess,
  stopAndRemove,
  waitForLog,
} from "./common.ts";
import { npmServerPath, npmServersInstalled } from "./npm_servers.ts";

/** The access key and secret s3rver accepts. */
export const S3RVER_KEY = "S3RVER";

/** Store options that reach s3rver (or a proxy in front of it) at `endpoint` with its keys. */
export function s3rverOptions(endpoint: string): {
  endpoint: string;
  region: string;
  accessKeyId: string;
  secretAccessKey: string;
} {
  return { endpoint, region: "us-east-1", accessKeyId: S3RVER_KEY, secretAccessKey: S3RVER_KEY };
}

/** A running s3rver. */
export interface S3rverServer {
  /** `http://127.0.0.1:PORT`. */
  endpoint: string;
  /** The port it listens on. */
  port: number;
  /** Its data folder (buckets are sub-folders). */
  directory: string;
  /** The process. */
  process: ServerProcess;
  /** Stop it and remove its data. */
  stop(): Promise<void>;
}

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..");

/** The s3rver start script (tests/servers/npm_servers.ts installs it). */
export const S3RVER_BIN: string = npmServerPath("s3rver", "bin", "s3rver.js");

/**
 * Whether s3rver can run here: needs `node` (Debian package "nodejs");
 * prints one skip line, or throws under CI, when it is missing.
 */
export function haveS3rver(): boolean {
  if (!requireProgram("node", "nodejs")) return false;
  if (npmServersInstalled()) return true;
  const line = "s3rver not installed: run `deno task test` (it installs s3rver with npm)";
  if (Deno.env.get("CI")) throw new Error(line);
  console.log(`SKIP ${line}`);
  return false;
}

/** Start s3rver with the given buckets already created. */
export async function startS3rver(buckets: string[] = []): Promise<S3rverServer> {
  const directory = await scratchDir("s3rver");
  const data = join(directory, "data");
  await Deno.mkdir(data);
  const args = [
    "--openssl-legacy-provider",
    S3RVER_BIN,
    "-d",
    data,
    "-a",
    "127.0.0.1",
    "-p",
    "0",
    "-s",
  ];
  for (const b of buckets) args.push("--configure-bucket", b);
  const proc = await startProcess("node", args, {
    cwd: ROOT,
    logDir: directory,
    name: "s3rver",
    env: { PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin", NO_COLOR: "1" },
  });
  const m = await readyOrCleanUp(
    proc,
    directory,
    () => waitForLog(proc, /S3rver listening on 127\.0\.0\.1:(\d+)/, 20000),
  );
  const port = Number(m[1]);
  return {
    endpoint: `http://127.0.0.1:${port}`,
    port,
    directory: data,
    process: proc,
    stop: stopAndRemove(proc, directory),
  };
}

/**
 * Make an empty sub-folder inside the prefix's folder in s3rver's data, so
 * that s3rver never removes the prefix's folder during a DeleteObjects (see
 * above). It holds no object, so no listing shows it.
 */
export async function keepFolder(
  server: S3rverServer,
  bucket: string,
  prefix: string,
): Promise<void> {
  await Deno.mkdir(join(server.directory, bucket, prefix, ".s3rver-keep"), { recursive: true });
}

/** One request seen by {@linkcode startFaultProxy}. */
export interface ProxiedRequest {
  /** HTTP method. */
  method: string;
  /** Path and query, as sent. */
  url: string;
  /** Request headers, lower-case names. */
  headers: Record<string, string>;
  /** The status the client got. */
  status: number;
}

/** A canned answer the proxy gives instead of forwarding. */
export interface FaultAnswer {
  /** HTTP status. */
  status: number;
  /** Response headers. */
  headers?: Record<string, string>;
  /** Response body. */
  body?: string;
}

/** A loopback HTTP proxy in front of a server: records requests, injects faults. */
export interface FaultProxy {
  /** `http://127.0.0.1:PORT`. */
  endpoint: string;
  /** Every request so far, in order. */
  requests: ProxiedRequest[];
  /** Stop listening and close connections. */
  stop(): Promise<void>;
}

/**
 * Start a tiny reverse proxy on 127.0.0.1 in front of `upstreamPort`. Each
 * request is passed to `fault` (with its 0-based index); when it returns an
 * answer the proxy gives that answer, else it forwards the request unchanged
 * (the Host header too, so SigV4 signatures still match).
 */
export function startFaultProxy(
  upstreamPort: number,
  fault: (req: Request, index: number) => FaultAnswer | undefined = () => undefined,
): FaultProxy {
  const requests: ProxiedRequest[] = [];
  const server = Deno.serve(
    {
      hostname: "127.0.0.1",
      port: 0,
      onListen: () => {},
      // A client that drops a request mid-body makes forwarding fail; that is expected here.
      onError: () => new Response(null, { status: 502 }),
    },
    async (req) => {
      const u = new URL(req.url);
      const headers: Record<string, string> = {};
      req.headers.forEach((v, k) => headers[k] = v);
      const entry: ProxiedRequest = {
        method: req.method,
        url: u.pathname + u.search,
        headers,
        status: 0,
      };
      const index = requests.length;
      requests.push(entry);
      const canned = fault(req, index);
      if (canned) {
        await req.body?.cancel();
        entry.status = canned.status;
        return new Response(canned.body ?? null, {
          status: canned.status,
          headers: canned.headers ?? {},
        });
      }
      const res = await forward(upstreamPort, req, u.pathname + u.search, headers);
      entry.status = res.status;
      return res;
    },
  );
  const port = server.addr.port;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    requests,
    async stop() {
      await server.shutdown();
    },
  };
}

/** Forward one request with node:http (which, unlike fetch, keeps the Host header as signed). */
async function forward(
  port: number,
  req: Request,
  path: string,
  headers: Record<string, string>,
): Promise<Response> {
  const http = await import("node:http");
  const { Readable } = await import("node:stream");
  return await new Promise<Response>((resolve, reject) => {
    const up = http.request(
      { host: "127.0.0.1", port, method: req.method, path, headers, agent: false },
      (res) => {
        const h = new Headers();
        for (const [k, v] of Object.entries(res.headers)) {
          if (v === undefined || k === "connection" || k === "transfer-encoding") continue;
          for (const one of Array.isArray(v) ? v : [v]) h.append(k, one);
        }
        const noBody = req.method === "HEAD" || res.statusCode === 204 || res.statusCode === 304;
        if (noBody) res.resume();
        resolve(
          new Response(
            noBody ? null : (Readable.toWeb(res) as unknown as ReadableStream<Uint8Array>),
            { status: res.statusCode ?? 502, headers: h },
          ),
        );
      },
    );
    up.on("error", reject);
    if (req.body) {
      // The client may drop the request mid-body (an aborted upload): stop forwarding quietly.
      const body = Readable.fromWeb(req.body as never);
      body.on("error", () => up.destroy());
      body.pipe(up);
    } else up.end();
  });
}
