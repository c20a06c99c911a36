/**
 * The npm-packaged emulators (s3rver, Azurite) live outside deno.json so that
 * using the library, or running the quick-start demo, never downloads them:
 * they are installed with npm into `.tmp/npm-servers/` the first time the
 * tests (or benchmarks) need them. `deno task test` runs this file first.
 *
 * Usage: deno run -A tests/servers/npm_servers.ts
 *
 * @module
 */

import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { haveProgram, run } from "./common.ts";

const ROOT = join(fileURLToPath(new URL(".", import.meta.url)), "..", "..");

/** Where the emulators are installed. */
export const NPM_SERVERS_DIR: string = join(ROOT, ".tmp", "npm-servers");

/** The emulators and their pinned versions. */
export const NPM_SERVERS: Readonly<Record<string, string>> = { s3rver: "3.7.1", azurite: "3.37.0" };

/** A path inside the emulators' node_modules. */
export function npmServerPath(...parts: string[]): string {
  return join(NPM_SERVERS_DIR, "node_modules", ...parts);
}

function installedVersion(pkg: string): string | undefined {
  try {
    return JSON.parse(Deno.readTextFileSync(npmServerPath(pkg, "package.json"))).version;
  } catch {
    return undefined;
  }
}

/** Whether every emulator is installed at its pinned version. */
export function npmServersInstalled(): boolean {
  return Object.entries(NPM_SERVERS).every(([pkg, v]) => installedVersion(pkg) === v);
}

/**
 * Install the emulators with npm when missing (one install at a time across
 * processes: a lock folder, waited on for at most 5 minutes). Returns whether
 * they are there afterwards; without npm it returns false.
 */
export async function ensureNpmServers(): Promise<boolean> {
  if (npmServersInstalled()) return true;
  if (!haveProgram("npm")) return false;
  await Deno.mkdir(NPM_SERVERS_DIR, { recursive: true });
  const lock = join(NPM_SERVERS_DIR, ".installing");
  const deadline = Date.now() + 5 * 60_000;
  while (true) {
    try {
      await Deno.mkdir(lock);
      break;
    } catch (err) {
      if (!(err instanceof Deno.errors.AlreadyExists)) throw err;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${lock}`);
      await new Promise((r) => setTimeout(r, 250));
      if (npmServersInstalled()) return true;
    }
  }
  try {
    if (npmServersInstalled()) return true;
    const specs = Object.entries(NPM_SERVERS).map(([pkg, v]) => `${pkg}@${v}`);
    await run("npm", [
      ...["install", "--prefix", NPM_SERVERS_DIR, "--no-audit", "--no-fund", "--loglevel=error"],
      ...specs,
    ]);
  } finally {
    await Deno.remove(lock).catch(() => {});
  }
  return npmServersInstalled();
}

if (import.meta.main) {
  if (await ensureNpmServers()) {
    console.log(`npm test servers ready in ${NPM_SERVERS_DIR}`);
  } else {
    console.log(
      "SKIP npm not found: the s3rver and Azurite suites will be skipped (install Node.js/npm)",
    );
  }
}
