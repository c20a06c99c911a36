/**
 * Running one backend call the way duplicity does, and better: retried with
 * exponential backoff and full jitter, `_retryCleanup()` between attempts
 * (never after the last), permanent failures not retried, each attempt under
 * the no-progress timeout and the caller's signal, and every failure turned
 * into one {@linkcode BackendError} whose message names the action, the
 * subject and the store, with secrets scrubbed.
 *
 * @module
 */

import { runAttempt } from "./attempt.ts";
import type { Backend, OperationContext } from "./backend.ts";
import {
  abortError,
  BackendError,
  errnoCode,
  ErrorCode,
  isAbortError,
  isPermanentCode,
  reasonOf,
} from "./errors.ts";
import { failureMessage, scrubSecrets } from "./messages.ts";
import { retry, RetryError, type RetryOptions } from "./retry.ts";
import type { WrapperOptions } from "./wrapper_options.ts";

/** Runs backend calls for one wrapper. */
export class OperationRunner {
  readonly #backend: Backend;
  readonly #opts: WrapperOptions;
  readonly #abandoned = new Set<Promise<unknown>>();

  /** A runner for `backend` with the wrapper's options. */
  constructor(backend: Backend, options: WrapperOptions) {
    this.#backend = backend;
    this.#opts = options;
  }

  /** The error code for a failure, in DESIGN order: own code, `_errorCode`, errno, 50. */
  classify(operation: string, err: unknown): ErrorCode {
    if (err instanceof BackendError) return err.code;
    if (isAbortError(err)) return ErrorCode.backend_aborted;
    let code: ErrorCode | undefined;
    try {
      code = this.#backend._errorCode?.(operation, err);
    } catch {
      code = undefined;
    }
    return code ?? errnoCode(err) ?? ErrorCode.backend_error;
  }

  /** Log through the caller's `log`, secrets scrubbed. */
  log(level: "debug" | "info" | "warn", message: string): void {
    this.#opts.log?.(level, this.scrub(message));
  }

  /** Remove the password and any credentials in URLs from a message. */
  scrub(text: string): string {
    return scrubSecrets(text, this.#backend.url);
  }

  /** The final error for a failed operation. */
  wrap(
    operation: string,
    subject: string | undefined,
    err: unknown,
    attempts: number,
  ): BackendError {
    const reason = this.scrub(reasonOf(err));
    const message = failureMessage(
      operation,
      subject,
      this.#backend.url.stripAuth(),
      reason,
      attempts,
    );
    const retryAfter = err instanceof BackendError ? err.retryAfter : undefined;
    return new BackendError(message, {
      code: this.classify(operation, err),
      operation,
      ...(err instanceof BackendError ? { permanent: err.permanent } : {}),
      attempts,
      cause: err,
      ...(retryAfter !== undefined ? { retryAfter } : {}),
    });
  }

  /** Run `fn` with retries as the module doc says. */
  async run<T>(
    operation: string,
    subject: string | undefined,
    fn: (ctx: OperationContext) => Promise<T>,
    size?: number,
    callSignal?: AbortSignal,
  ): Promise<T> {
    const o = this.#opts;
    const signal = callSignal && o.signal
      ? AbortSignal.any([callSignal, o.signal])
      : callSignal ?? o.signal;
    let attempts = 0;
    const retryOptions: RetryOptions = {
      maxAttempts: o.maxAttempts ?? 5,
      minTimeout: o.minTimeout ?? 1000,
      maxTimeout: o.maxTimeout ?? 60000,
      multiplier: o.multiplier ?? 2,
      jitter: o.jitter ?? 1,
      isRetriable: (err) =>
        err instanceof BackendError
          ? !err.permanent
          : !isPermanentCode(this.classify(operation, err)),
      onRetry: async (err, attempt, wait) => {
        this.log(
          "warn",
          `Attempt ${attempt} of ${o.maxAttempts ?? 5} to ${operation}${
            subject ? ` "${subject}"` : ""
          } failed: ${reasonOf(err)}; retrying in ${(wait / 1000).toFixed(1)} s`,
        );
        try {
          await this.#backend._retryCleanup?.();
        } catch (cleanupErr) {
          this.log("debug", `Cleanup before the next attempt failed: ${reasonOf(cleanupErr)}`);
        }
      },
    };
    if (signal) retryOptions.signal = signal;
    if (o.sleep) retryOptions.sleep = o.sleep;
    if (o.random) retryOptions.random = o.random;
    try {
      return await retry(() => {
        attempts++;
        return runAttempt(fn, {
          operation,
          timeout: o.timeout ?? 30000,
          grace: o.abortGrace ?? 1000,
          onAbandon: (p) => {
            this.#abandoned.add(p);
            p.finally(() => this.#abandoned.delete(p));
          },
          ...(signal ? { signal } : {}),
          ...(size !== undefined ? { size } : {}),
          ...(o.onProgress && subject
            ? {
              onBytes: (bytes: number) => o.onProgress!({ operation, name: subject, bytes }),
            }
            : {}),
        });
      }, retryOptions);
    } catch (err) {
      const last = err instanceof RetryError ? err.cause : err;
      if (
        signal?.aborted &&
        !(last instanceof BackendError && last.code === ErrorCode.backend_aborted)
      ) {
        throw this.wrap(operation, subject, abortError(signal), attempts);
      }
      throw this.wrap(operation, subject, last, attempts);
    }
  }

  /**
   * Wait (at most `ms`) for attempts that were cancelled or timed out but
   * were still running when the wrapper gave up on them: they may still be
   * removing a temporary upload or a partial file.
   */
  async settle(ms: number): Promise<void> {
    if (!this.#abandoned.size) return;
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([
      Promise.allSettled([...this.#abandoned]),
      new Promise<void>((r) => timer = setTimeout(r, ms)),
    ]);
    clearTimeout(timer);
  }
}
