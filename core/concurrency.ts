/**
 * Bounded concurrency: run an async function over a list with at most a
 * given number of calls in flight, stopping at the first failure.
 *
 * @example
 * ```ts
 * import { eachLimited } from "./concurrency.ts";
 *
 * await eachLimited(["a", "b", "c"], 2, async (name, index) => {
 *   console.log(index, name);
 * });
 * ```
 *
 * @module
 */

/**
 * Run `fn` over `items`, at most `limit` at a time. The first error wins: it
 * aborts `stop` (so the calls in flight can end early), no new item starts,
 * and it is thrown once all have settled. An abort of `stop` from outside is
 * thrown as its reason. An abort of `signal` (the caller's cancellation)
 * does the same: it aborts `stop` with its reason.
 *
 * @param items The items, taken in order.
 * @param limit The most calls in flight at once (at least 1 is used).
 * @param fn Called with each item and its index.
 * @param stop Aborted at the first failure; abort it to stop early.
 * @param signal An outside signal that stops the run as aborting `stop` does.
 */
export async function eachLimited<T>(
  items: readonly T[],
  limit: number,
  fn: (item: T, index: number) => Promise<void>,
  stop: AbortController = new AbortController(),
  signal?: AbortSignal,
): Promise<void> {
  if (!signal) return await runLimited(items, limit, fn, stop);
  const onAbort = () => stop.abort(signal.reason);
  if (signal.aborted) onAbort();
  else signal.addEventListener("abort", onAbort, { once: true });
  try {
    await runLimited(items, limit, fn, stop);
  } finally {
    signal.removeEventListener("abort", onAbort);
  }
}

async function runLimited<T>(
  items: readonly T[],
  limit: number,
  fn: (item: T, index: number) => Promise<void>,
  stop: AbortController,
): Promise<void> {
  let next = 0;
  let failure: { err: unknown } | undefined;
  const worker = async (): Promise<void> => {
    while (next < items.length && !failure && !stop.signal.aborted) {
      const index = next++;
      try {
        await fn(items[index]!, index);
      } catch (err) {
        failure ??= { err };
        stop.abort();
      }
    }
  };
  const workers = Math.min(Math.max(1, limit), items.length);
  await Promise.all(Array.from({ length: workers }, worker));
  if (failure) throw failure.err;
  if (stop.signal.aborted) throw stop.signal.reason;
}

/**
 * A counting semaphore: at most `limit` holders of {@linkcode Limiter.run}
 * at once, the others waiting in order. Used where many tasks would each
 * do a burst of CPU work at the same moment (hashing whole files before
 * their uploads): one at a time lets the first upload start early.
 *
 * @example
 * ```ts
 * import { Limiter } from "./concurrency.ts";
 *
 * const one = new Limiter(1);
 * await Promise.all([1, 2].map((n) => one.run(async () => n * 2)));
 * ```
 */
export class Limiter {
  readonly #waiting: (() => void)[] = [];
  #free: number;

  /** A limiter letting `limit` (at least 1) callers in at once. */
  constructor(limit: number) {
    this.#free = Math.max(1, Math.floor(limit));
  }

  /** Run `fn` once a place is free; the place is given back when it settles. */
  async run<T>(fn: () => Promise<T>): Promise<T> {
    if (this.#free > 0) this.#free--;
    else await new Promise<void>((r) => this.#waiting.push(r));
    try {
      return await fn();
    } finally {
      const next = this.#waiting.shift();
      if (next) next();
      else this.#free++;
    }
  }
}
