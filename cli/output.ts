/**
 * Output for the CLI: results to stdout, messages to stderr by verbosity, and
 * a progress line on a terminal. Writers are injectable so tests capture them.
 *
 * @module
 */

import type { ProgressEvent } from "../core/wrapper.ts";
import { escapeMessage, escapeText } from "./escape.ts";

/** Where text goes; defaults to the process's stdout and stderr. */
export interface OutputSinks {
  /** Results. */
  stdout: (text: string) => void;
  /** Messages, warnings, errors, progress. */
  stderr: (text: string) => void;
  /** Whether stderr is a terminal (progress lines only then). */
  isTerminal: boolean;
  /** Whether a person can answer prompts (stdin is a terminal); default false. */
  interactive?: boolean;
}

const enc = new TextEncoder();

/** The process's real sinks. */
export function processSinks(): OutputSinks {
  return {
    stdout: (t) => writeAll(Deno.stdout, t),
    stderr: (t) => writeAll(Deno.stderr, t),
    isTerminal: Deno.stderr.isTerminal(),
    interactive: Deno.stdin.isTerminal(),
  };
}

function writeAll(w: { writeSync(p: Uint8Array): number }, text: string): void {
  const data = enc.encode(text);
  let off = 0;
  while (off < data.length) off += w.writeSync(data.subarray(off));
}

/** Verbosity: -q is 0, default 1, -v is 2. */
export type Verbosity = 0 | 1 | 2;

/** The CLI's output. */
export class Output {
  readonly #sinks: OutputSinks;
  readonly verbosity: Verbosity;
  #progressShown = false;
  #lastDraw = 0;
  #totals = new Map<string, { done: number; total?: number; start: number }>();

  /** Make an output over sinks with a verbosity. */
  constructor(sinks: OutputSinks, verbosity: Verbosity) {
    this.#sinks = sinks;
    this.verbosity = verbosity;
  }

  /** A result line on stdout. */
  result(line: string): void {
    this.#clearProgress();
    this.#sinks.stdout(line + "\n");
  }

  /** A name or URL made safe to print on a terminal (control characters escaped). */
  name(text: string): string {
    return escapeText(text);
  }

  /** An error line on stderr (always shown; control characters escaped, so it stays one line). */
  error(line: string): void {
    this.#clearProgress();
    this.#sinks.stderr(`stowage: ${escapeMessage(line)}\n`);
  }

  /** A warning (hidden by -q). */
  warn(line: string): void {
    if (this.verbosity < 1) return;
    this.#clearProgress();
    this.#sinks.stderr(`stowage: ${escapeMessage(line)}\n`);
  }

  /** Whether a person can answer prompts. */
  get interactive(): boolean {
    return this.#sinks.interactive ?? false;
  }

  /** An informational message (shown with -v). */
  info(line: string): void {
    if (this.verbosity < 2) return;
    this.#clearProgress();
    this.#sinks.stderr(`${escapeMessage(line)}\n`);
  }

  /** The log function for the store: warnings by default, info/debug with -v. */
  readonly log = (level: "debug" | "info" | "warn", message: string): void => {
    if (level === "warn") this.warn(message);
    else this.info(message);
  };

  /** Announce a transfer's total size so progress can show a percentage. */
  startTransfer(name: string, total?: number): void {
    this.#totals.set(name, {
      done: 0,
      ...(total !== undefined ? { total } : {}),
      start: performance.now(),
    });
  }

  /** End a transfer's progress line. */
  endTransfer(name: string): void {
    this.#totals.delete(name);
    this.#clearProgress();
  }

  /** The progress callback for the store: a redrawn line on a terminal. */
  readonly progress = (e: ProgressEvent): void => {
    if (e.total !== undefined && !this.#totals.has(e.name)) this.startTransfer(e.name, e.total);
    const t = this.#totals.get(e.name);
    if (!t) return;
    t.done += e.bytes;
    if (!this.#sinks.isTerminal || this.verbosity < 1) return;
    const now = performance.now();
    if (now - this.#lastDraw < 100) return;
    this.#lastDraw = now;
    const secs = Math.max(0.001, (now - t.start) / 1000);
    const pct = t.total ? ` ${Math.min(100, Math.floor((t.done / t.total) * 100))}%` : "";
    const of = t.total !== undefined ? ` / ${formatBytes(t.total)}` : "";
    const line = `${e.operation} ${escapeText(e.name)}: ${formatBytes(t.done)}${of}${pct} ${
      formatBytes(t.done / secs)
    }/s`;
    this.#sinks.stderr(`\r\x1b[K${line.slice(0, 120)}`);
    this.#progressShown = true;
  };

  #clearProgress(): void {
    if (!this.#progressShown) return;
    this.#sinks.stderr("\r\x1b[K");
    this.#progressShown = false;
  }
}

/** Bytes in human units: `512 B`, `1.5 KiB`, `256.0 MiB`. */
export function formatBytes(n: number): string {
  if (n < 1024) return `${Math.round(n)} B`;
  const units = ["KiB", "MiB", "GiB", "TiB"];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(1)} ${units[i]}`;
}
