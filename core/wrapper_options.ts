/**
 * The options and answers of `BackendWrapper`'s methods.
 *
 * @module
 */

import type { QueryResult } from "./backend.ts";

/** How the wrapper retries, times out and reports; every field has a default. */
export interface WrapperOptions {
  /** Attempts per operation, not retries; default 5. */
  maxAttempts?: number;
  /** First backoff wait in milliseconds; default 1000. */
  minTimeout?: number;
  /** Longest backoff wait in milliseconds; default 60000. */
  maxTimeout?: number;
  /** Backoff growth per attempt; default 2. */
  multiplier?: number;
  /** Share of each wait that is random, 0..1; default 1 (full jitter). */
  jitter?: number;
  /** Milliseconds an attempt may go without progress before it fails (retryably); default 30000; 0 turns it off. */
  timeout?: number;
  /** Cancels the operation in progress and any further attempts. */
  signal?: AbortSignal;
  /** How to wait between attempts; inject for tests. Default: a real timer. */
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  /** Random numbers for the jitter; default `Math.random`. */
  random?: () => number;
  /** Receives retry and progress messages. */
  log?: (level: "debug" | "info" | "warn", message: string) => void;
  /** Receives transfer progress: bytes moved since the last call. */
  onProgress?: (event: ProgressEvent) => void;
  /**
   * Milliseconds to let a cancelled or timed-out attempt clean up (remove its
   * temporary upload) before the wrapper gives up on it; default 1000.
   */
  abortGrace?: number;
  /**
   * Temporaries older than this many ms are debris from a killed process:
   * the first put of this store removes them from the store, the first get
   * into a local folder removes stale partial downloads there. Default one
   * hour; `0` turns the opportunistic clean-up off (`cleanup()` still works).
   */
  staleAfter?: number;
  /**
   * Milliseconds `close()` waits for cancelled attempts that are still
   * cleaning up (removing a temporary upload); default 5000.
   */
  closeGrace?: number;
  /** The clock, for tests; default `Date.now`. */
  now?: () => number;
}

/** Options for `BackendWrapper.list`. */
export interface ListOptions {
  /** Include stowage's own temporary upload names (hidden by default). */
  all?: boolean;
}

/** Options for `BackendWrapper.cleanup`. */
export interface CleanupOptions {
  /** Only temporaries made more than this many ms ago; default the store's `staleAfter` or one hour. */
  olderThan?: number;
  /** Only report what would be removed. */
  dryRun?: boolean;
}

/** A progress report for {@linkcode WrapperOptions.onProgress}. */
export interface ProgressEvent {
  /** The operation (`put`, `get`, `move`). */
  operation: string;
  /** The remote name. */
  name: string;
  /** Bytes moved since the last event (0 for the first event of a transfer). */
  bytes: number;
  /** The transfer's whole size, on its first event, when known. */
  total?: number;
}

/** Options for `BackendWrapper.put` and `BackendWrapper.move`. */
export interface PutOptions {
  /** After the upload, check the stored size against the local one (code 56 when they differ). */
  validate?: boolean;
  /** Cancels this call (besides the store's own `signal`). */
  signal?: AbortSignal;
}

/** Options for `BackendWrapper.get`. */
export interface GetOptions {
  /**
   * The size the stored file has (from `queryInfo`): a download that ends with
   * another size fails with code 56 and leaves no local file.
   */
  size?: number;
  /** Cancels this call (besides the store's own `signal`). */
  signal?: AbortSignal;
}

/** The answer of `BackendWrapper.queryInfo`: one entry per name asked. */
export type QueryInfo = Record<string, QueryResult>;
