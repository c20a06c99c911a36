/**
 * Output for the CLI: results to stdout (text, or JSON lines with `--json`),
 * messages to stderr by verbosity, and the progress block on a terminal
 * (stderr, redrawn in place; a summary line stays at the end). Writers and
 * the clock are injectable so tests capture them.
 *
 * @module
 */

import type { ProgressEvent } from "../core/wrapper.ts";
import { redactRaw } from "../core/url.ts";
import { escapeMessage, escapeText } from "./escape.ts";
import { type Clock, drawStats, summaryLine, TransferStats } from "./progress.ts";

export { formatBytes } from "./progress.ts";

/** Where text goes; defaults to the process's stdout and stderr. */
export interface OutputSinks {
  /** Results. */
  stdout: (text: string) => void;
  /** Messages, warnings, errors, progress. */
  stderr: (text: string) => void;
  /** Whether stderr is a terminal (progress only then, unless `--progress`). */
  isTerminal: boolean;
  /** Whether a person can answer prompts (stdin is a terminal); default false. */
  interactive?: boolean;
  /** File data to stdout (`cat`); default: the text writer is not used for bytes. */
  writeStdout?: (data: Uint8Array) => Promise<void>;
  /** Standard input (`rcat`, `put -`). */
  stdin?: () => ReadableStream<Uint8Array>;
  /** Whether colours may be used (no NO_COLOR); default false. */
  color?: boolean;
  /** The terminal's width in columns. */
  columns?: () => number;
  /** The clock for progress, in ms; default `performance.now`. */
  now?: () => number;
}

const enc = new TextEncoder();

/** The process's real sinks. */
export function processSinks(): OutputSinks {
  const isTerminal = Deno.stderr.isTerminal();
  return {
    stdout: (t) => writeAll(Deno.stdout, t),
    stderr: (t) => writeAll(Deno.stderr, t),
    isTerminal,
    interactive: Deno.stdin.isTerminal(),
    writeStdout: async (data) => {
      let off = 0;
      while (off < data.length) off += await Deno.stdout.write(data.subarray(off));
    },
    stdin: () => Deno.stdin.readable,
    color: isTerminal && !Deno.env.get("NO_COLOR"),
    columns: () => {
      try {
        return Deno.consoleSize().columns;
      } catch {
        return 100;
      }
    },
  };
}

function writeAll(w: { writeSync(p: Uint8Array): number }, text: string): void {
  const data = enc.encode(text);
  let off = 0;
  while (off < data.length) off += w.writeSync(data.subarray(off));
}

/** Verbosity: -q is 0, default 1, -v is 2. */
export type Verbosity = 0 | 1 | 2;

/** How the output was asked to behave. */
export interface OutputMode {
  /** `--json`: results as JSON (lines of events for transfers). */
  json?: boolean;
  /** `--progress` (true) or `--no-progress` (false); default: on a terminal only. */
  progress?: boolean;
}

/** How often the progress block is redrawn at most. */
const DRAW_EVERY_MS = 200;

/** A URL-looking text with its secrets removed. */
export function redactText(text: string): string {
  return text.replace(/[A-Za-z][A-Za-z0-9+.-]*:\/\/[^\s"'<>]+/g, (u) => redactRaw(u));
}

/** The CLI's output. */
export class Output {
  readonly #sinks: OutputSinks;
  readonly verbosity: Verbosity;
  /** Whether results are JSON. */
  readonly json: boolean;
  /** Whether the progress block is drawn. */
  readonly showProgress: boolean;
  #stats: TransferStats | undefined;
  #lines = 0;
  #lastDraw = -Infinity;

  /** Make an output over sinks with a verbosity and mode. */
  constructor(sinks: OutputSinks, verbosity: Verbosity, mode: OutputMode = {}) {
    this.#sinks = sinks;
    this.verbosity = verbosity;
    this.json = mode.json ?? false;
    this.showProgress = verbosity >= 1 && (mode.progress ?? sinks.isTerminal);
  }

  /** The sinks (for commands that move raw bytes: `cat`, `rcat`). */
  get sinks(): OutputSinks {
    return this.#sinks;
  }

  /** The clock progress uses. */
  get now(): Clock {
    return this.#sinks.now ?? (() => performance.now());
  }

  /** A result line on stdout. */
  result(line: string): void {
    this.#clearProgress();
    this.#sinks.stdout(line + "\n");
  }

  /** One JSON line on stdout (`--json` events and summaries). */
  event(value: Record<string, unknown>): void {
    this.result(JSON.stringify(value));
  }

  /** A name or URL made safe to print on a terminal (control characters escaped). */
  name(text: string): string {
    return escapeText(text);
  }

  /** An error line on stderr (always shown; control characters escaped, so it stays one line). */
  error(line: string): void {
    this.#clearProgress();
    this.#sinks.stderr(`stowage: ${escapeMessage(redactText(line))}\n`);
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

  /** The statistics of this command's transfers (made on first use). */
  get stats(): TransferStats {
    this.#stats ??= new TransferStats(this.now);
    return this.#stats;
  }

  /** Announce a transfer's total size so progress can show a percentage. */
  startTransfer(name: string, total?: number): void {
    if (!this.stats.has(name)) {
      this.stats.plan(1, total ?? 0);
      this.stats.begin(name, escapeText(name), total);
    }
  }

  /** End a transfer (landed, or failed). */
  endTransfer(name: string, ok = true): void {
    if (this.#stats?.has(name)) this.#stats.end(name, ok ? "done" : "failed");
    this.tick();
  }

  /** The progress callback for stores: counts bytes per name and redraws. */
  readonly progress = (e: ProgressEvent): void => {
    if (!this.stats.has(e.name)) this.startTransfer(e.name, e.total);
    this.stats.add(e.name, e.bytes);
    this.tick();
  };

  /** Redraw the progress block when it is due (at most every 200 ms). */
  tick(force = false): void {
    if (!this.showProgress || !this.#stats) return;
    const now = this.now();
    if (!force && now - this.#lastDraw < DRAW_EVERY_MS) return;
    this.#lastDraw = now;
    const width = this.#sinks.columns?.() ?? 100;
    const lines = drawStats(this.#stats.snapshot(), { color: this.#sinks.color, width });
    this.#sinks.stderr(this.#erase() + lines.join("\n"));
    this.#lines = lines.length;
  }

  /**
   * End the progress display: the block is replaced by one summary line that
   * stays on screen (drawn when progress is shown, or with -v).
   */
  finish(): void {
    if (!this.#stats) return;
    const line = summaryLine(this.#stats.snapshot());
    this.#clearProgress();
    if (this.showProgress || this.verbosity >= 2) this.#sinks.stderr(`${line}\n`);
  }

  #erase(): string {
    if (this.#lines === 0) return "";
    const up = this.#lines > 1 ? `\x1b[${this.#lines - 1}A` : "";
    return `${up}\r\x1b[J`;
  }

  #clearProgress(): void {
    if (this.#lines === 0) return;
    this.#sinks.stderr(this.#erase());
    this.#lines = 0;
    this.#lastDraw = -Infinity;
  }
}
