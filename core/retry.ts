/**
 * `retry()` with @std/async's option names, defaults and `RetryError`, so a
 * later switch to `@std/async` is one import line. Extensions: an injectable
 * `sleep` and `random` (tests run instantly and deterministically), an
 * `onRetry` hook (the wrapper resets connections there), and a `retryAfter`
 * carried by an error is honoured when it asks for a longer wait.
 *
 * @module
 */

/** Options for {@linkcode retry}; names and defaults as @std/async's `RetryOptions`. */
export interface RetryOptions {
  /** How much the backoff grows per attempt; default 2. */
  multiplier?: number;
  /** Longest wait between attempts in milliseconds; default 60000. */
  maxTimeout?: number;
  /** How many attempts in all (not retries); default 5. */
  maxAttempts?: number;
  /** First wait in milliseconds; default 1000. */
  minTimeout?: number;
  /** Share of the wait that is random, 0..1; default 1 (full jitter). */
  jitter?: number;
  /** Whether an error is worth another attempt; default: every error. */
  isRetriable?: (err: unknown) => boolean;
  /** Stops waiting and retrying when aborted. */
  signal?: AbortSignal;
  /** How to wait; default a timer that the signal cancels. Inject for tests. */
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  /** Random numbers in [0, 1) for the jitter; default `Math.random`. */
  random?: () => number;
  /** Called before each wait with the error, the attempt that failed (1-based) and the wait. */
  onRetry?: (err: unknown, attempt: number, delayMs: number) => void | Promise<void>;
  /** Upper bound on a server's Retry-After in milliseconds; default 600000 (10 minutes). */
  maxRetryAfter?: number;
}

/**
 * Thrown by {@linkcode retry} when every attempt failed; `cause` is the last
 * error.
 *
 * @example
 * ```ts
 * import { retry, RetryError } from "@stowage/backends";
 * try {
 *   await retry(() => Promise.reject(new Error("no")), { maxAttempts: 2, sleep: async () => {} });
 * } catch (err) {
 *   console.log(err instanceof RetryError, (err as RetryError).attempts); // true 2
 * }
 * ```
 */
export class RetryError extends Error {
  /** How many attempts were made. */
  attempts: number;
  /** Wrap the last error after `attempts` attempts. */
  constructor(cause: unknown, attempts: number) {
    super(`Retrying exceeded the maxAttempts (${attempts}).`, { cause });
    this.name = "RetryError";
    this.attempts = attempts;
  }
}

/**
 * The wait before the next attempt: `(1 - jitter * random) * min(cap, base * multiplier ** attempt)`,
 * @std/async's formula (attempt counts from 0).
 */
export function backoffDelay(
  attempt: number,
  options: {
    minTimeout?: number;
    maxTimeout?: number;
    multiplier?: number;
    jitter?: number;
    random?: () => number;
  } = {},
): number {
  const base = options.minTimeout ?? 1000;
  const cap = options.maxTimeout ?? 60000;
  const multiplier = options.multiplier ?? 2;
  const jitter = options.jitter ?? 1;
  const random = options.random ?? Math.random;
  const exp = Math.min(cap, base * multiplier ** attempt);
  return (1 - jitter * random()) * exp;
}

/** The `retryAfter` (milliseconds) an error carries, if any. */
export function retryAfterOf(err: unknown): number | undefined {
  if (typeof err !== "object" || err === null) return undefined;
  const v = (err as { retryAfter?: unknown }).retryAfter;
  return typeof v === "number" && Number.isFinite(v) && v > 0 ? v : undefined;
}

/**
 * Parse an HTTP `Retry-After` value (seconds or an HTTP date) into
 * milliseconds, or `undefined`.
 */
export function parseRetryAfter(
  value: string | null | undefined,
  now: number = Date.now(),
): number | undefined {
  if (!value) return undefined;
  const s = value.trim();
  if (/^\d+(\.\d+)?$/.test(s)) return Number(s) * 1000;
  const t = Date.parse(s);
  if (Number.isNaN(t)) return undefined;
  return Math.max(0, t - now);
}

/** A sleep that the signal cancels (rejects with the signal's reason). */
export function abortableSleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal!.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

/**
 * Call `fn` until it resolves, waiting with exponential backoff and full
 * jitter between attempts. A non-retriable error is rethrown as it is; when
 * the attempts run out a {@linkcode RetryError} is thrown.
 *
 * @example
 * ```ts
 * import { retry } from "@stowage/backends";
 * let n = 0;
 * const v = await retry(async () => {
 *   if (++n < 3) throw new Error("flaky");
 *   return n;
 * }, { minTimeout: 1 });
 * console.log(v); // 3
 * ```
 */
export async function retry<T>(fn: () => Promise<T>, options: RetryOptions = {}): Promise<T> {
  const maxAttempts = options.maxAttempts ?? 5;
  const multiplier = options.multiplier ?? 2;
  const maxTimeout = options.maxTimeout ?? 60000;
  const minTimeout = options.minTimeout ?? 1000;
  const jitter = options.jitter ?? 1;
  const isRetriable = options.isRetriable ?? (() => true);
  const sleep = options.sleep ?? abortableSleep;
  const maxRetryAfter = options.maxRetryAfter ?? 600000;
  const signal = options.signal;

  if (maxAttempts < 1) throw new RangeError("maxAttempts must be at least 1");
  if (maxTimeout <= 0) throw new RangeError("maxTimeout must be greater than 0");
  if (minTimeout > maxTimeout) throw new RangeError("minTimeout must not exceed maxTimeout");
  if (jitter < 0 || jitter > 1) throw new RangeError("jitter must be between 0 and 1");

  let attempt = 0;
  while (true) {
    signal?.throwIfAborted();
    try {
      return await fn();
    } catch (err) {
      if (signal?.aborted) throw err;
      if (attempt + 1 >= maxAttempts) throw new RetryError(err, maxAttempts);
      if (!isRetriable(err)) throw err;
      let wait = backoffDelay(attempt, {
        minTimeout,
        maxTimeout,
        multiplier,
        jitter,
        ...(options.random ? { random: options.random } : {}),
      });
      const asked = retryAfterOf(err);
      if (asked !== undefined && asked > wait) wait = Math.min(asked, maxRetryAfter);
      await options.onRetry?.(err, attempt + 1, wait);
      await sleep(wait, signal);
    }
    attempt++;
  }
}
