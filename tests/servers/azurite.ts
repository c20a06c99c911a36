/**
 * Azurite (the Azure Storage emulator, npm `azurite`), blob service only, on
 * 127.0.0.1 with a port it picks itself (read from its ready line), run with
 * Node when it is installed, else with Deno.
 *
 * @module
 */

import {
  haveProgram,
  readyOrCleanUp,
  scratchDir,
  type ServerProcess,
  startProcess,
  stopAndRemove,
  waitForLog,
} from "./common.ts";
import { npmServerPath } from "./npm_servers.ts";

/** Azurite's well-known development account. */
export const AZURITE_ACCOUNT = "devstoreaccount1";
/** The development account's key (public, documented by Microsoft). */
export const AZURITE_KEY =
  "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

/** A running Azurite blob service. */
export interface Azurite {
  /** Its port on 127.0.0.1. */
  port: number;
  /** The blob service URL, `http://127.0.0.1:PORT/devstoreaccount1`. */
  endpoint: string;
  /** A connection string for the development account. */
  connectionString: string;
  /** The server process. */
  server: ServerProcess;
  /** Stop it and remove its scratch folder. */
  stop(): Promise<void>;
}

/**
 * Store options for the development account at a server on 127.0.0.1:`port`
 * (Azurite, or a proxy or fake in its place) over `scheme`.
 */
export function accountAt(
  port: number,
  scheme = "http",
): { accountName: string; accountKey: string; endpoint: string } {
  return {
    accountName: AZURITE_ACCOUNT,
    accountKey: AZURITE_KEY,
    endpoint: `${scheme}://127.0.0.1:${port}/${AZURITE_ACCOUNT}`,
  };
}

/** Options for {@linkcode startAzurite}. */
export interface AzuriteOptions {
  /** In-memory extent limit in MB (`--extentMemoryLimit`); default 256. */
  memoryLimitMB?: number;
  /** Keep data on disk in this folder (`--location`) instead of in memory. */
  location?: string;
}

const MAIN = npmServerPath("azurite", "dist", "src", "blob", "main.js");

/** Whether Azurite can be started: the npm package is installed (tests/servers/npm_servers.ts). */
export function haveAzurite(): boolean {
  try {
    return Deno.statSync(MAIN).isFile;
  } catch {
    return false;
  }
}

/** Start Azurite's blob service; ready within 20 s or it throws. */
export async function startAzurite(options: AzuriteOptions = {}): Promise<Azurite> {
  const dir = await scratchDir("azurite");
  const args = [
    "--blobHost",
    "127.0.0.1",
    "--blobPort",
    "0",
    ...(options.location
      ? ["--location", options.location]
      : ["--inMemoryPersistence", "--extentMemoryLimit", String(options.memoryLimitMB ?? 256)]),
    // The SDK speaks a newer API version than this Azurite knows.
    "--skipApiVersionCheck",
    "--disableTelemetry",
    "--silent",
  ];
  const useNode = haveProgram("node");
  const server = await startProcess(
    useNode ? "node" : Deno.execPath(),
    useNode ? [MAIN, ...args] : ["run", "-A", MAIN, ...args],
    { logDir: dir, name: "azurite", cwd: dir, env: { PATH: Deno.env.get("PATH") ?? "" } },
  );
  const m = await readyOrCleanUp(
    server,
    dir,
    () => waitForLog(server, /successfully listens on http:\/\/127\.0\.0\.1:(\d+)/, 20000),
  );
  const port = Number(m[1]);
  const endpoint = `http://127.0.0.1:${port}/${AZURITE_ACCOUNT}`;
  return {
    port,
    endpoint,
    connectionString:
      `DefaultEndpointsProtocol=http;AccountName=${AZURITE_ACCOUNT};AccountKey=${AZURITE_KEY};BlobEndpoint=${endpoint};`,
    server,
    stop: stopAndRemove(server, dir),
  };
}

/**
 * Run `fn` with a fresh Azurite and a scratch folder; both are stopped and
 * removed afterwards, whatever `fn` does.
 */
export async function withAzurite(
  fn: (az: Azurite, tmp: string) => Promise<void>,
  options: AzuriteOptions = {},
): Promise<void> {
  const az = await startAzurite(options);
  const tmp = await scratchDir("azure-test");
  try {
    await fn(az, tmp);
  } finally {
    await Deno.remove(tmp, { recursive: true }).catch(() => {});
    await az.stop();
  }
}
