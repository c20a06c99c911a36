/**
 * The conformance suite (duplicity's `backendtest`): every behaviour the
 * contract promises, runnable against any URL. `stowage test URL` runs it,
 * and the integration tests run it against real servers.
 *
 * @example
 * ```ts
 * import { runConformance } from "@stowage/backends/testing";
 * const report = await runConformance("memory://conformance-example", { manyFiles: 50 });
 * console.log(`${report.passed} passed, ${report.failed} failed`);
 * ```
 *
 * @module
 */

import { BackendError, ErrorCode, reasonOf } from "../core/errors.ts";
import type { ParsedUrl } from "../core/url.ts";
import { getBackend, type GetBackendOptions } from "../registry.ts";
import { CASES } from "./cases.ts";
import type { CaseResult, ConformanceOptions, ConformanceReport } from "./types.ts";
import { type Case, type CaseContext, Skip } from "./util.ts";

export { HOSTILE_NAMES, INVALID_NAMES } from "./cases.ts";

export type { CaseResult, ConformanceOptions, ConformanceReport } from "./types.ts";

/** The names of every case, in the order they run. */
export const CASE_NAMES: readonly string[] = CASES.map((k) => k.name);

async function openContext(
  url: string | ParsedUrl,
  options: ConformanceOptions,
): Promise<CaseContext> {
  const storeOptions: GetBackendOptions = {
    maxAttempts: 3,
    minTimeout: 100,
    maxTimeout: 2000,
    ...options.storeOptions,
  };
  const store = await getBackend(url, storeOptions);
  const tmp = await Deno.makeTempDir({ prefix: "stowage-conformance-" });
  return { store, backend: store.backend, tmp, options, storeOptions, url };
}

/**
 * Run every case against `url` and report. Refuses (code 23) a location that
 * already holds files unless `clean` is set; leaves the location empty.
 *
 * @example
 * ```ts
 * import { runConformance } from "@stowage/backends/testing";
 * const report = await runConformance("memory://suite", { manyFiles: 20 });
 * for (const r of report.results) console.log(r.status, r.name);
 * ```
 */
export async function runConformance(
  url: string | ParsedUrl,
  options: ConformanceOptions = {},
): Promise<ConformanceReport> {
  const c = await openContext(url, options);
  const results: CaseResult[] = [];
  try {
    await prepare(c, options);
    for (const k of CASES) {
      if (options.only && !options.only.some((s) => k.name.includes(s))) continue;
      const r = await runCase(c, k);
      results.push(r);
      options.onResult?.(r);
    }
  } finally {
    await Deno.remove(c.tmp, { recursive: true }).catch(() => {});
    await c.store.close();
  }
  return {
    url: c.store.displayUrl,
    results,
    passed: results.filter((r) => r.status === "passed").length,
    failed: results.filter((r) => r.status === "failed").length,
    skipped: results.filter((r) => r.status === "skipped").length,
  };
}

async function prepare(c: CaseContext, options: ConformanceOptions): Promise<void> {
  let existing: string[];
  try {
    existing = await c.store.list({ all: true });
  } catch (err) {
    // A folder that does not exist yet is an empty location: the first put makes it.
    if (err instanceof BackendError && err.code === ErrorCode.backend_not_found) return;
    throw err;
  }
  if (existing.length === 0) return;
  if (!options.clean) {
    throw new BackendError(
      `Refusing to test "${c.store.displayUrl}": it holds ${existing.length} files (pass clean to delete them)`,
      { code: ErrorCode.user_error },
    );
  }
  await c.store.delete(existing);
}

async function runCase(c: CaseContext, k: Case): Promise<CaseResult> {
  const t0 = performance.now();
  try {
    await k.run(c);
    return { name: k.name, status: "passed", ms: performance.now() - t0 };
  } catch (err) {
    const ms = performance.now() - t0;
    if (err instanceof Skip) return { name: k.name, status: "skipped", reason: err.message, ms };
    // Leave the location empty for the next case.
    try {
      const left = await c.store.list({ all: true });
      if (left.length) await c.store.delete(left);
    } catch {
      // best effort
    }
    return { name: k.name, status: "failed", reason: reasonOf(err), ms };
  }
}

/**
 * Run the suite inside a `Deno.test`, one step per case, failing the test
 * when any case fails.
 *
 * @example
 * ```ts ignore
 * import { testConformance } from "@stowage/backends/testing";
 * Deno.test("memory:// passes the conformance suite", async (t) => {
 *   await testConformance(t, "memory://conformance", { clean: true });
 * });
 * ```
 */
export async function testConformance(
  t: Deno.TestContext,
  url: string | ParsedUrl,
  options: ConformanceOptions = {},
): Promise<void> {
  const c = await openContext(url, options);
  const failed: string[] = [];
  try {
    await prepare(c, options);
    for (const k of CASES) {
      if (options.only && !options.only.some((s) => k.name.includes(s))) continue;
      await t.step({
        name: k.name,
        fn: async (s) => {
          const r = await runCase(c, k);
          options.onResult?.(r);
          if (r.status === "skipped") {
            await s.step({ name: `skipped: ${r.reason}`, ignore: true, fn: () => {} });
          }
          if (r.status === "failed") {
            failed.push(k.name);
            throw new Error(r.reason);
          }
        },
        sanitizeOps: false,
        sanitizeResources: false,
      });
    }
  } finally {
    await Deno.remove(c.tmp, { recursive: true }).catch(() => {});
    await c.store.close();
  }
  if (failed.length) {
    throw new Error(`${failed.length} conformance cases failed: ${failed.join("; ")}`);
  }
}
