/**
 * The conformance suite's options and reports.
 *
 * @module
 */

import type { GetBackendOptions } from "../registry.ts";

/** Options for `runConformance`. */
export interface ConformanceOptions {
  /** Delete what is already at the location first; default `false` (a non-empty location is refused). */
  clean?: boolean;
  /** How many files the pagination case puts and lists; default 1500. */
  manyFiles?: number;
  /** Size of the large-file case in bytes; default twice the backend's chunk size (or 1 MiB) plus 12,345. */
  largeFileSize?: number;
  /** Parallel puts in the pagination case; default 8. */
  concurrency?: number;
  /** Run only the cases whose names contain one of these strings. */
  only?: string[];
  /** Options for the store (wrapper and backend); default 3 attempts, 100 ms first backoff. */
  storeOptions?: GetBackendOptions;
  /** Called after each case, for live reports. */
  onResult?: (result: CaseResult) => void;
}

/** The outcome of one case. */
export interface CaseResult {
  /** The case's name, a sentence about the behaviour. */
  name: string;
  /** What happened. */
  status: "passed" | "failed" | "skipped";
  /** Why it failed or was skipped. */
  reason?: string;
  /** Milliseconds it took. */
  ms: number;
}

/** The outcome of a whole run. */
export interface ConformanceReport {
  /** The URL tested, without credentials. */
  url: string;
  /** One entry per case, in order. */
  results: CaseResult[];
  /** Cases that passed. */
  passed: number;
  /** Cases that failed. */
  failed: number;
  /** Cases skipped (the backend lacks the optional method they test). */
  skipped: number;
}
