/**
 * What the conformance cases share: their context, and helpers to make,
 * compare and check files.
 *
 * @module
 */

import { join } from "node:path";
import type { Backend } from "../core/backend.ts";
import { BackendError, reasonOf } from "../core/errors.ts";
import { readFull } from "../core/local_file.ts";
import type { ParsedUrl } from "../core/url.ts";
import type { BackendWrapper } from "../core/wrapper.ts";
import type { GetBackendOptions } from "../registry.ts";
import type { ConformanceOptions } from "./types.ts";

/** What a case gets to work with. */
export interface CaseContext {
  /** The wrapped store under test. */
  store: BackendWrapper;
  /** The raw backend (for capability checks and spies). */
  backend: Backend;
  /** A private local scratch folder. */
  tmp: string;
  /** The suite's options. */
  options: ConformanceOptions;
  /** The options every store of the run is opened with. */
  storeOptions: GetBackendOptions;
  /** The URL under test. */
  url: string | ParsedUrl;
}

/** Thrown by a case to mark itself skipped. */
export class Skip extends Error {}

export interface Case {
  /** A sentence about the behaviour. */
  name: string;
  /** Run the case; throw to fail, throw {@linkcode Skip} to skip. */
  run(c: CaseContext): Promise<void>;
}

/** The hostile and unicode names every backend must round-trip (unless it declares otherwise). */

/** UTF-8 encoder for the cases. */
export const enc: TextEncoder = new TextEncoder();

/** Fail the case with `message` unless `cond`. */
export function assert(cond: unknown, message: string): asserts cond {
  if (!cond) throw new Error(message);
}

/** Fail unless `err` is a BackendError with `code`. */
export function expectCode(err: unknown, code: number, what: string): void {
  if (!(err instanceof BackendError)) {
    throw new Error(`${what}: expected a BackendError with code ${code}, got ${reasonOf(err)}`);
  }
  if (err.code !== code) {
    throw new Error(`${what}: expected code ${code}, got ${err.code} (${err.message})`);
  }
}

/** The error `p` rejects with; fails when it resolves. */
export async function rejects(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (err) {
    return err;
  }
  throw new Error("expected the call to fail, but it succeeded");
}

/** Write `size` deterministic pseudo-random bytes (seeded) to `path`, 1 MiB at a time. */
export async function writeData(path: string, size: number, seed: number): Promise<void> {
  const file = await Deno.open(path, { write: true, create: true, truncate: true });
  try {
    let x = (seed * 2654435761) >>> 0 || 1;
    let left = size;
    const chunk = new Uint8Array(Math.min(size, 1 << 20) || 1);
    while (left > 0) {
      const n = Math.min(left, chunk.length);
      for (let i = 0; i < n; i++) {
        x ^= x << 13;
        x ^= x >>> 17;
        x ^= x << 5;
        chunk[i] = x & 0xff;
      }
      let off = 0;
      while (off < n) off += await file.write(chunk.subarray(off, n));
      left -= n;
    }
  } finally {
    file.close();
  }
}

/** Whether two files have the same bytes (read 1 MiB at a time). */
export async function sameFile(a: string, b: string): Promise<boolean> {
  const [sa, sb] = await Promise.all([Deno.stat(a), Deno.stat(b)]);
  if (sa.size !== sb.size) return false;
  const fa = await Deno.open(a);
  const fb = await Deno.open(b);
  try {
    const ba = new Uint8Array(1 << 20);
    const bb = new Uint8Array(1 << 20);
    while (true) {
      const na = await readFull(fa, ba);
      const nb = await readFull(fb, bb);
      if (na !== nb) return false;
      if (na === 0) return true;
      for (let i = 0; i < na; i++) if (ba[i] !== bb[i]) return false;
    }
  } finally {
    fa.close();
    fb.close();
  }
}

/** Put `text` under `name`; returns the local source path. */
export async function putText(c: CaseContext, name: string, text: string): Promise<string> {
  const local = join(c.tmp, `src-${crypto.randomUUID()}`);
  await Deno.writeFile(local, enc.encode(text));
  await c.store.put(local, name);
  return local;
}

/** Get `name` and return its text. */
export async function getText(c: CaseContext, name: string): Promise<string> {
  const local = join(c.tmp, `dst-${crypto.randomUUID()}`);
  await c.store.get(name, local);
  const text = new TextDecoder().decode(await Deno.readFile(local));
  await Deno.remove(local);
  return text;
}

/** Fail unless the store lists exactly `expected`. */
export async function expectListed(c: CaseContext, expected: string[]): Promise<void> {
  const got = (await c.store.list()).sort();
  const want = [...expected].sort();
  assert(
    JSON.stringify(got) === JSON.stringify(want),
    `list() returned ${JSON.stringify(got.slice(0, 20))}${
      got.length > 20 ? "…" : ""
    } (${got.length}), expected ${JSON.stringify(want.slice(0, 20))}${
      want.length > 20 ? "…" : ""
    } (${want.length})`,
  );
}

/** Put, get, compare and delete a file of `size` bytes. */
export async function roundTrip(
  c: CaseContext,
  name: string,
  size: number,
  seed: number,
): Promise<void> {
  const src = join(c.tmp, `rt-src-${seed}`);
  const dst = join(c.tmp, `rt-dst-${seed}`);
  await writeData(src, size, seed);
  await c.store.put(src, name);
  await c.store.get(name, dst);
  assert(await sameFile(src, dst), `"${name}" (${size} bytes) came back different`);
  const info = await c.store.queryInfo([name]);
  const got = info[name]?.size;
  assert(
    got === null || got === size,
    `queryInfo says ${got} bytes for "${name}", expected ${size}`,
  );
  await c.store.delete([name]);
  await Deno.remove(src);
  await Deno.remove(dst);
  await expectListed(c, []);
}

/** A backend proxy that records every underscore call, to prove "before any I/O". */
export function spyBackend(backend: Backend, calls: string[]): Backend {
  return new Proxy(backend, {
    get(target, prop) {
      const v = Reflect.get(target, prop, target);
      if (typeof v !== "function") return v;
      if (typeof prop === "string" && prop.startsWith("_")) {
        return (...args: unknown[]) => {
          calls.push(prop);
          return (v as (...a: unknown[]) => unknown).apply(target, args);
        };
      }
      return (v as (...a: unknown[]) => unknown).bind(target);
    },
  });
}
