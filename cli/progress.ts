/**
 * Transfer statistics for the progress display: bytes and files done of the
 * planned totals, the current rate over a sliding window (not an average
 * since the start), the ETA from it, and the transfers in flight. The clock
 * is injected, so the rate and ETA arithmetic is tested without sleeping.
 *
 * @example
 * ```ts
 * import { TransferStats } from "./progress.ts";
 * let t = 0;
 * const stats = new TransferStats(() => t);
 * stats.plan(1, 10_000);
 * stats.begin("a", "a", 10_000);
 * t = 1000;
 * stats.add("a", 2_000);
 * console.log(stats.snapshot().rate); // 2000 bytes/s
 * ```
 *
 * @module
 */

/** Milliseconds from some fixed point (`performance.now`, or a test's counter). */
export type Clock = () => number;

/** The default rate window: the last five seconds. */
export const RATE_WINDOW_MS = 5000;

/** Samples closer together than this are merged (bounds memory on fast streams). */
const SAMPLE_STEP_MS = 100;

/** One transfer in flight. */
export interface ActiveTransfer {
  /** What to show (the file's name, relative to the folder copied). */
  label: string;
  /** Bytes done (at most `size`). */
  bytes: number;
  /** The file's size, when known. */
  size?: number;
}

/** What the display shows at one moment. */
export interface StatsSnapshot {
  /** Bytes done (of the files planned). */
  bytes: number;
  /** Bytes planned (sum of the known sizes). */
  totalBytes: number;
  /** Bytes per second over the last window (retries included). */
  rate: number;
  /** Seconds left at the current rate; undefined when unknown (no rate yet). */
  eta: number | undefined;
  /** Files finished (landed). */
  files: number;
  /** Files planned. */
  totalFiles: number;
  /** Files that failed. */
  failed: number;
  /** Files skipped (already present). */
  skipped: number;
  /** Seconds since the stats were made. */
  elapsed: number;
  /** The transfers in flight, oldest first. */
  active: ActiveTransfer[];
}

interface Sample {
  t: number;
  moved: number;
}

/** Counts bytes and files of a run of transfers; see the module doc. */
export class TransferStats {
  readonly #now: Clock;
  readonly #window: number;
  readonly #start: number;
  #samples: Sample[];
  #moved = 0;
  #doneBytes = 0;
  #totalBytes = 0;
  #files = 0;
  #totalFiles = 0;
  #failed = 0;
  #skipped = 0;
  readonly #active = new Map<string, ActiveTransfer>();

  /** Start counting now, by `now`, with a rate window of `windowMs`. */
  constructor(now: Clock = () => performance.now(), windowMs: number = RATE_WINDOW_MS) {
    this.#now = now;
    this.#window = windowMs;
    this.#start = now();
    this.#samples = [{ t: this.#start, moved: 0 }];
  }

  /** Add files and bytes to the plan (the totals the display counts towards). */
  plan(files: number, bytes: number): void {
    this.#totalFiles += files;
    this.#totalBytes += bytes;
  }

  /** Count files skipped because they are already there. */
  skip(files = 1): void {
    this.#skipped += files;
  }

  /** A transfer starts (`size` adds to the planned bytes when it was not planned). */
  begin(key: string, label: string, size?: number): void {
    const t: ActiveTransfer = { label, bytes: 0 };
    if (size !== undefined && size >= 0) t.size = size;
    this.#active.set(key, t);
  }

  /** Whether a transfer is in flight under `key`. */
  has(key: string): boolean {
    return this.#active.has(key);
  }

  /** `bytes` more moved for the transfer `key` (a retry may move the same bytes again). */
  add(key: string, bytes: number): void {
    if (!(bytes > 0)) return;
    this.#moved += bytes;
    this.#record();
    const t = this.#active.get(key);
    if (!t) return;
    const before = t.bytes;
    t.bytes = t.size === undefined ? t.bytes + bytes : Math.min(t.size, t.bytes + bytes);
    this.#doneBytes += t.bytes - before;
  }

  /** A transfer ended: `done` (landed), `failed`, or `skipped`. */
  end(key: string, outcome: "done" | "failed" | "skipped"): void {
    const t = this.#active.get(key);
    this.#active.delete(key);
    if (outcome === "done") {
      this.#files++;
      // A file whose size was unknown, or a short progress report, counts in full.
      if (t?.size !== undefined) this.#doneBytes += t.size - t.bytes;
    } else if (outcome === "failed") this.#failed++;
    else this.#skipped++;
  }

  /** Bytes per second over the window ending now. */
  rate(): number {
    const now = this.#now();
    const from = now - this.#window;
    let base = this.#samples[0]!;
    for (const s of this.#samples) {
      if (s.t <= from) base = s;
      else break;
    }
    const since = Math.max(from, this.#start);
    const span = (now - since) / 1000;
    if (span <= 0) return 0;
    return Math.max(0, this.#moved - base.moved) / span;
  }

  /** The numbers to show now. */
  snapshot(): StatsSnapshot {
    const rate = this.rate();
    const left = Math.max(0, this.#totalBytes - this.#doneBytes);
    const eta = left === 0 ? 0 : rate > 0 ? left / rate : undefined;
    return {
      bytes: this.#doneBytes,
      totalBytes: Math.max(this.#totalBytes, this.#doneBytes),
      rate,
      eta,
      files: this.#files,
      totalFiles: this.#totalFiles,
      failed: this.#failed,
      skipped: this.#skipped,
      elapsed: (this.#now() - this.#start) / 1000,
      active: [...this.#active.values()].map((a) => ({ ...a })),
    };
  }

  #record(): void {
    const t = this.#now();
    const last = this.#samples[this.#samples.length - 1]!;
    if (t - last.t < SAMPLE_STEP_MS && this.#samples.length > 1) {
      last.moved = this.#moved;
    } else {
      this.#samples.push({ t, moved: this.#moved });
    }
    // Keep one sample at or before the window's start as the baseline.
    const from = t - this.#window;
    let drop = 0;
    while (drop + 1 < this.#samples.length && this.#samples[drop + 1]!.t <= from) drop++;
    if (drop) this.#samples = this.#samples.slice(drop);
  }
}

/** Bytes in human units: `512 B`, `1.5 KiB`, `256.0 MiB`. */
export function formatBytes(n: number): string {
  if (n < 1024) return `${Math.round(n)} B`;
  const units = ["KiB", "MiB", "GiB", "TiB", "PiB"];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(1)} ${units[i]}`;
}

/** A duration in seconds as `850ms`, `4.2s`, `3m05s`, `1h02m`. */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return "-";
  if (seconds === 0) return "0s";
  if (seconds < 1) return `${Math.round(seconds * 1000)}ms`;
  if (seconds < 60) return `${seconds.toFixed(1)}s`;
  const s = Math.round(seconds);
  const two = (n: number) => String(n).padStart(2, "0");
  if (s < 3600) return `${Math.floor(s / 60)}m${two(s % 60)}s`;
  return `${Math.floor(s / 3600)}h${two(Math.floor((s % 3600) / 60))}m`;
}

/** How to draw: colours (unless NO_COLOR), and the terminal's width. */
export interface DrawOptions {
  /** Use bold labels (off with NO_COLOR or off a terminal). */
  color?: boolean;
  /** Columns available; longer lines are cut. */
  width?: number;
  /** Most transfers listed (the rest are summed up in one line); default 8. */
  maxActive?: number;
}

function percent(done: number, total: number): string {
  if (total <= 0) return "100%";
  return `${Math.min(100, Math.floor((done / total) * 100))}%`;
}

function files(s: StatsSnapshot): string {
  const extra = [
    s.skipped ? `${s.skipped} skipped` : "",
    s.failed ? `${s.failed} failed` : "",
  ].filter(Boolean).join(", ");
  return `${s.files} / ${s.totalFiles}${extra ? `, ${extra}` : ""}`;
}

/**
 * The live block (like rclone's stats): transferred bytes with the current
 * rate and ETA, files, elapsed time, then one line per transfer in flight.
 */
export function drawStats(s: StatsSnapshot, options: DrawOptions = {}): string[] {
  const b = (t: string) => (options.color ? `\x1b[1m${t}\x1b[22m` : t);
  const eta = s.eta === undefined ? "-" : formatDuration(s.eta);
  const lines = [
    `${b("Transferred:")}  ${formatBytes(s.bytes)} / ${formatBytes(s.totalBytes)}, ${
      percent(s.bytes, s.totalBytes)
    }, ${formatBytes(s.rate)}/s, ETA ${eta}`,
    `${b("Files:")}        ${files(s)}`,
    `${b("Elapsed:")}      ${formatDuration(s.elapsed)}`,
  ];
  const max = options.maxActive ?? 8;
  for (const a of s.active.slice(0, max)) {
    const of = a.size === undefined
      ? formatBytes(a.bytes)
      : `${percent(a.bytes, a.size)} of ${formatBytes(a.size)}`;
    lines.push(` * ${a.label}: ${of}`);
  }
  if (s.active.length > max) lines.push(` * and ${s.active.length - max} more`);
  const width = options.width ?? 0;
  return width > 10 ? lines.map((l) => cut(l, width - 1)) : lines;
}

/** The one line that stays on screen at the end: totals, average rate, elapsed. */
export function summaryLine(s: StatsSnapshot): string {
  const avg = s.elapsed > 0 ? s.bytes / s.elapsed : 0;
  return `Transferred ${formatBytes(s.bytes)} in ${s.files} file${s.files === 1 ? "" : "s"}` +
    `${s.skipped ? `, ${s.skipped} skipped` : ""}${s.failed ? `, ${s.failed} failed` : ""}` +
    `, ${formatDuration(s.elapsed)}, ${formatBytes(avg)}/s average`;
}

/** Cut a line to `width` visible characters (escape sequences do not count). */
function cut(line: string, width: number): string {
  let visible = 0;
  let out = "";
  // deno-lint-ignore no-control-regex -- skipping terminal escapes is the point
  const re = /\x1b\[[0-9;]*m|./gsu;
  for (const m of line.matchAll(re)) {
    if (m[0].startsWith("\x1b")) {
      out += m[0];
      continue;
    }
    if (visible >= width) continue;
    out += m[0];
    visible++;
  }
  return out;
}
