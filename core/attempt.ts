/**
 * One attempt of a backend call, under the no-progress timeout and the
 * caller's AbortSignal: the attempt gets its own signal, which aborts when
 * the caller cancels or when `timeout` ms pass without `ctx.progress()`; the
 * aborted attempt then has `grace` ms to clean up (remove its temporary
 * upload) before the attempt rejects.
 *
 * @module
 */

import type { OperationContext } from "./backend.ts";
import { abortError, BackendError, ErrorCode } from "./errors.ts";

/** How {@linkcode runAttempt} bounds one attempt. */
export interface AttemptOptions {
  /** The operation's name, for the timeout error. */
  operation: string;
  /** Cancels the attempt. */
  signal?: AbortSignal;
  /** Milliseconds without progress before the attempt fails with code 57; 0 turns it off. */
  timeout: number;
  /** Milliseconds an aborted attempt may take to clean up before it rejects. */
  grace: number;
  /** Called with the bytes of each `ctx.progress(bytes)` that moved data. */
  onBytes?: (bytes: number) => void;
  /** The local file's size, handed to `_put`/`_move` as `ctx.size`. */
  size?: number;
  /** Told of an aborted attempt still running after its grace (it may still be cleaning up). */
  onAbandon?: (running: Promise<unknown>) => void;
}

/** Run `fn` once with an {@linkcode OperationContext}, bounded as `options` says. */
export function runAttempt<T>(
  fn: (ctx: OperationContext) => Promise<T>,
  options: AttemptOptions,
): Promise<T> {
  const { operation, signal: outer, timeout, grace, onBytes } = options;
  const ac = new AbortController();
  return new Promise<T>((resolve, reject) => {
    let timer: ReturnType<typeof setTimeout> | undefined;
    let settled = false;
    // deno-lint-ignore prefer-const -- assigned once fn() has started, below
    let running: Promise<unknown> | undefined;
    const finish = () => {
      settled = true;
      if (timer !== undefined) clearTimeout(timer);
      outer?.removeEventListener("abort", onAbort);
    };
    /** Abort the attempt, give it `grace` ms to clean up, then reject. */
    const stop = (err: BackendError) => {
      finish();
      ac.abort(err);
      if (!running || !grace) return reject(err);
      let graceTimer: ReturnType<typeof setTimeout> | undefined;
      Promise.race([
        running.catch(() => {}),
        new Promise<void>((r) => graceTimer = setTimeout(r, grace)),
      ]).finally(() => {
        clearTimeout(graceTimer);
        options.onAbandon?.(running!.catch(() => {}));
        reject(err);
      });
    };
    const arm = () => {
      if (settled || !timeout) return;
      if (timer !== undefined) clearTimeout(timer);
      timer = setTimeout(() => {
        stop(
          new BackendError(`no progress for ${formatSeconds(timeout)}; timed out`, {
            code: ErrorCode.backend_timeout,
            operation,
          }),
        );
      }, timeout);
    };
    const onAbort = () => stop(abortError(outer!));
    if (outer?.aborted) return onAbort();
    outer?.addEventListener("abort", onAbort, { once: true });
    const ctx: OperationContext = {
      signal: ac.signal,
      progress: (bytes = 0) => {
        arm();
        if (onBytes && bytes > 0) onBytes(bytes);
      },
    };
    if (options.size !== undefined) ctx.size = options.size;
    ctx.timeout = timeout;
    arm();
    let p: Promise<T>;
    try {
      p = fn(ctx);
    } catch (err) {
      finish();
      return reject(err);
    }
    running = p;
    p.then(
      (v) => {
        if (settled) return;
        finish();
        resolve(v);
      },
      (err) => {
        if (settled) return;
        finish();
        reject(err);
      },
    );
  });
}

function formatSeconds(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000} s` : `${(ms / 1000).toFixed(2)} s`;
}
