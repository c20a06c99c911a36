/**
 * The inner store of a meta backend (`par2+…`, `chaos+…`), opened on first
 * use — constructors do no I/O — and remembered; a failed open is tried
 * again on the next use. Also how such a backend asks its inner store for
 * sizes.
 *
 * @module
 */

import type { Backend, OperationContext, QueryResult } from "./backend.ts";

/** A backend made on first use by `open` (the registry's `getBackendObject`, in practice). */
export class LazyStore {
  readonly #open: () => Promise<Backend>;
  #pending?: Promise<Backend>;
  #backend?: Backend;

  /** Remember how to open the store; nothing is opened yet. */
  constructor(open: () => Promise<Backend>) {
    this.#open = open;
  }

  /** The store, opening it if needed. */
  get(): Promise<Backend> {
    this.#pending ??= this.#open().then((b) => {
      this.#backend = b;
      return b;
    }, (err) => {
      this.#pending = undefined;
      throw err;
    });
    return this.#pending;
  }

  /** The store if it is open already (for capabilities, cleanup and close, which must not open it). */
  get opened(): Backend | undefined {
    return this.#backend;
  }
}

/**
 * The sizes of `names` on an inner store: its `_queryList` when it has one,
 * else its `_query` name by name, else `{ size: null }` (it cannot tell).
 */
export async function queryListOf(
  inner: Backend,
  names: string[],
  ctx?: OperationContext,
): Promise<Record<string, QueryResult>> {
  if (inner._queryList) return await inner._queryList(names, ctx);
  const out: Record<string, QueryResult> = {};
  for (const n of names) out[n] = inner._query ? await inner._query(n, ctx) : { size: null };
  return out;
}
