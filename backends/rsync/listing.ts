/**
 * Reading what rsync prints: `--list-only` lines (`-rw-r--r--  1234
 * 2024/01/31 12:00:00 name`, with `\#ooo` escapes for bytes it will not
 * print) and `--info=progress2` counters (`  1234567  45%  1.2MB/s ...`).
 *
 * @module
 */

/** One entry of a `--list-only` listing. */
export interface ListEntry {
  /** The name, unescaped. */
  name: string;
  /** Size in bytes. */
  size: number;
  /** `-` for a file, `d` for a folder, `l` for a symlink, ... */
  type: string;
}

const LINE = /^([-a-z])[-rwxsStTl]{9}[.+@]?\s+([\d,]+) \d{4}\/\d\d\/\d\d \d\d:\d\d:\d\d (.*)$/;

/** The entries of a `--list-only --no-h` listing (lines that do not parse are skipped). */
export function parseListing(text: string): ListEntry[] {
  const out: ListEntry[] = [];
  for (const line of text.split("\n")) {
    const m = LINE.exec(line);
    if (!m) continue;
    const type = m[1]!;
    let name = unescapeName(m[3]!);
    if (type === "l") name = name.replace(/ -> .*$/s, "");
    if (name === ".") continue;
    out.push({ name, size: Number(m[2]!.replaceAll(",", "")), type });
  }
  return out;
}

const encoder = new TextEncoder();

/** Undo rsync's `\#ooo` escapes (octal bytes) and decode the bytes as UTF-8. */
export function unescapeName(text: string): string {
  if (!text.includes("\\#")) return text;
  const parts = text.split(/\\#([0-7]{3})/);
  const bytes: number[] = [];
  parts.forEach((part, i) => {
    if (i % 2 === 1) bytes.push(parseInt(part, 8));
    else bytes.push(...encoder.encode(part));
  });
  return new TextDecoder().decode(new Uint8Array(bytes));
}

/**
 * Follows `--info=progress2` output: feed it the text as it arrives; it
 * calls `report` with the bytes moved since the last counter.
 */
export class ProgressReader {
  #pending = "";
  #done = 0;
  readonly #report: (bytes: number) => void;

  /** Report byte deltas to `report`. */
  constructor(report: (bytes: number) => void) {
    this.#report = report;
  }

  /** Take the next piece of output. */
  feed(text: string): void {
    const parts = (this.#pending + text).split(/[\r\n]/);
    this.#pending = parts.pop() ?? "";
    for (const part of parts) {
      const m = /^\s*([\d,]+)\s+\d+%/.exec(part);
      if (!m) continue;
      const bytes = Number(m[1]!.replaceAll(",", ""));
      if (bytes > this.#done) {
        this.#report(bytes - this.#done);
        this.#done = bytes;
      }
    }
  }
}
