/**
 * Helpers every test file shares.
 *
 * @module
 */

import assert from "node:assert/strict";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { BackendError } from "../mod.ts";

/** What `p` (or calling it) threw: a {@linkcode BackendError}, else the test fails. */
async function caught(
  p: Promise<unknown> | (() => unknown),
  expected: string,
): Promise<BackendError> {
  let err: unknown;
  try {
    await (typeof p === "function" ? p() : p);
  } catch (e) {
    err = e;
  }
  assert.ok(err !== undefined, `expected ${expected}, but it succeeded`);
  assert.ok(err instanceof BackendError, `expected a BackendError, got ${String(err)}`);
  return err;
}

/**
 * Await `p` (a promise, or a function whose result or throw is awaited) and
 * return the {@linkcode BackendError} it failed with; fails the test when it
 * succeeded or threw anything else.
 */
export function rejection(p: Promise<unknown> | (() => unknown)): Promise<BackendError> {
  return caught(p, "the call to fail");
}

/**
 * Await `p` (a promise, or a function whose result or throw is awaited) and
 * assert it failed with a {@linkcode BackendError} of `code`; returns the error.
 */
export async function expectCode(
  p: Promise<unknown> | (() => unknown),
  code: number,
): Promise<BackendError> {
  const err = await caught(p, `code ${code}`);
  assert.equal(err.code, code, err.message);
  return err;
}

/** {@linkcode expectCode} for `fn`, also returning the milliseconds it took to fail. */
export async function expectCodeTimed(
  fn: () => Promise<unknown>,
  code: number,
): Promise<[BackendError, number]> {
  const t0 = performance.now();
  const err = await expectCode(fn, code);
  return [err, performance.now() - t0];
}

/** `size` random bytes (filled 64 KiB at a time). */
export function randomBytes(size: number): Uint8Array {
  const data = new Uint8Array(size);
  for (let i = 0; i < size; i += 65536) {
    crypto.getRandomValues(data.subarray(i, Math.min(size, i + 65536)));
  }
  return data;
}

/** `size` random bytes written to `path` (filled 64 KiB at a time); returns them. */
export async function randomFile(path: string, size: number): Promise<Uint8Array> {
  const data = randomBytes(size);
  await Deno.writeFile(path, data);
  return data;
}

/** A file `name` in `dir` holding `text`; returns its path. */
export async function textFile(dir: string, name: string, text = "x"): Promise<string> {
  const path = join(dir, name);
  await Deno.writeTextFile(path, text);
  return path;
}

/** A new temporary file (name starting with `prefix`) holding `content`; returns its path. */
export async function tempFile(
  content: string | Uint8Array,
  prefix = "stowage-test-",
): Promise<string> {
  const path = await Deno.makeTempFile({ prefix });
  if (typeof content === "string") await Deno.writeTextFile(path, content);
  else await Deno.writeFile(path, content);
  return path;
}

/** Run `fn` with a new temporary file holding `content`, removed afterwards. */
export async function withTempFile<T>(
  content: string | Uint8Array,
  fn: (path: string) => Promise<T>,
  prefix = "stowage-test-",
): Promise<T> {
  const path = await tempFile(content, prefix);
  try {
    return await fn(path);
  } finally {
    await Deno.remove(path).catch(() => {});
  }
}

/** Run `fn` with a new temporary folder (name starting with `prefix`), removed afterwards. */
export async function withTempDir<T>(
  fn: (dir: string) => Promise<T>,
  prefix = "stowage-test-",
): Promise<T> {
  const dir = await Deno.makeTempDir({ prefix });
  try {
    return await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

/**
 * Run `fn` with the environment variables `vars` set (an `undefined` value
 * removes the variable), then put back what was there before.
 */
export async function withEnv<T>(
  vars: Record<string, string | undefined>,
  fn: () => Promise<T>,
): Promise<T> {
  const saved = Object.keys(vars).map((k) => [k, Deno.env.get(k)] as const);
  const apply = (k: string, v: string | undefined) =>
    v === undefined ? Deno.env.delete(k) : Deno.env.set(k, v);
  try {
    for (const [k, v] of Object.entries(vars)) apply(k, v);
    return await fn();
  } finally {
    for (const [k, v] of saved) apply(k, v);
  }
}

/** A TCP listener on 127.0.0.1 started by {@linkcode fakeListener}. */
export interface FakeListener extends AsyncDisposable {
  /** Its port. */
  port: number;
  /** Stop listening, close every connection it accepted, and wait for its handlers. */
  close(): Promise<void>;
}

/**
 * A TCP listener on 127.0.0.1 (or the given `listener`, a TLS one say) that
 * runs `onConn` for each connection it accepts (default: nothing, a black
 * hole that never answers).
 */
export function fakeListener(
  onConn: (conn: Deno.Conn) => unknown = () => {},
  listener: Deno.Listener = Deno.listen({ hostname: "127.0.0.1", port: 0 }),
): FakeListener {
  const conns = new Set<Deno.Conn>();
  const tasks: Promise<void>[] = [];
  const loop = (async () => {
    for await (const conn of listener) {
      conns.add(conn);
      tasks.push(Promise.resolve().then(() => onConn(conn)).then(() => {}, () => {}));
    }
  })().catch(() => {}); // closed
  const close = async () => {
    listener.close();
    for (const c of conns) {
      try {
        c.close();
      } catch {
        // closed already
      }
    }
    await loop;
    await Promise.all(tasks);
  };
  return { port: (listener.addr as Deno.NetAddr).port, close, [Symbol.asyncDispose]: close };
}

/**
 * A {@linkcode fakeListener} that sends `greeting` (when given) to each
 * connection and then says nothing more: another protocol's server, or,
 * without a greeting, a black hole.
 */
export function greetingListener(greeting?: string): FakeListener {
  const bytes = new TextEncoder().encode(greeting ?? "");
  return fakeListener(async (c) => {
    if (greeting) await c.write(bytes);
  });
}

/** A node:http server on 127.0.0.1 started by {@linkcode startHttpServer}. */
export interface TestHttpServer extends AsyncDisposable {
  /** Its port. */
  port: number;
  /** Close every connection and stop listening. */
  close(): Promise<void>;
}

/** A node:http server on 127.0.0.1 that answers with `handler`. */
export async function startHttpServer(handler: http.RequestListener): Promise<TestHttpServer> {
  const server = http.createServer(handler);
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const close = () => {
    server.closeAllConnections();
    return new Promise<void>((r) => server.close(() => r()));
  };
  return {
    port: (server.address() as AddressInfo).port,
    close,
    [Symbol.asyncDispose]: close,
  };
}
