/**
 * The checks of `stowage probe`: each one writes a few small files with a
 * unique marker in their names, looks at what the store made of them, and
 * leaves the deleting to the caller's final sweep (every name with the
 * marker). Loops are bounded.
 *
 * @module
 */

import { join } from "node:path";
import { reasonOf } from "../core/errors.ts";
import { nameProblem } from "../core/names.ts";
import { eachLimited } from "../core/concurrency.ts";
import type { BackendWrapper } from "../core/wrapper.ts";
import { codeOf } from "./engine.ts";

/** What became of one name. */
export interface NameVerdict {
  /** `ok` kept and readable; `mapped` stored under another name; `refused` the put failed;
   * `rejected` stowage refuses the name before asking the store; `lost` the put succeeded but
   * the name is nowhere; `unreadable` listed but reads back wrong. */
  status: "ok" | "mapped" | "refused" | "rejected" | "lost" | "unreadable";
  /** The name the store shows instead (`mapped`). */
  as?: string;
  /** The error code (`refused`). */
  code?: number;
  /** Why (`refused`, `rejected`, `unreadable`). */
  reason?: string;
}

/** Everything the checks share: the store, the marker, local payload files. */
export interface ProbeContext {
  /** The store probed. */
  store: BackendWrapper;
  /** A marker unique to this run; every probe name contains it. */
  id: string;
  /** A folder for the local files. */
  tmp: string;
  /** Names tried at once. */
  transfers: number;
}

const PAYLOAD = new TextEncoder().encode("stowage probe\n");

async function payload(ctx: ProbeContext): Promise<string> {
  const path = join(ctx.tmp, "payload");
  await Deno.writeFile(path, PAYLOAD);
  return path;
}

/** Put, list, read back: the verdict for each name. `tags` find a stored name that was changed. */
export async function tryNames(
  ctx: ProbeContext,
  trials: { name: string; tag: string }[],
): Promise<NameVerdict[]> {
  const file = await payload(ctx);
  const limits = ctx.store.backend.capabilities.names;
  const putResult: (NameVerdict | undefined)[] = [];
  await eachLimited(trials, ctx.transfers, async ({ name }, i) => {
    const problem = nameProblem(name, limits);
    if (problem) {
      putResult[i] = { status: "rejected", reason: problem };
      return;
    }
    try {
      await ctx.store.put(file, name);
    } catch (err) {
      putResult[i] = { status: "refused", code: codeOf(err), reason: reasonOf(err) };
    }
  });
  const listed = await ctx.store.list();
  const present = new Set(listed);
  const out: NameVerdict[] = [];
  await eachLimited(trials, ctx.transfers, async ({ name, tag }, i) => {
    const failed = putResult[i];
    if (failed) {
      out[i] = failed;
      return;
    }
    if (present.has(name)) {
      out[i] = await readBack(ctx, name);
      return;
    }
    const other = listed.find((n) => n.includes(tag));
    out[i] = other === undefined ? { status: "lost" } : { status: "mapped", as: other };
  });
  return out;
}

async function readBack(ctx: ProbeContext, name: string): Promise<NameVerdict> {
  const dest = join(ctx.tmp, `back-${crypto.randomUUID().slice(0, 8)}`);
  try {
    await ctx.store.get(name, dest);
    const got = await Deno.readFile(dest);
    if (got.length === PAYLOAD.length && got.every((b, i) => b === PAYLOAD[i])) {
      return { status: "ok" };
    }
    return { status: "unreadable", reason: `read back ${got.length} bytes that differ` };
  } catch (err) {
    return { status: "unreadable", code: codeOf(err), reason: reasonOf(err) };
  } finally {
    await Deno.remove(dest).catch(() => {});
  }
}

/** The characters tried: space, ASCII punctuation, and the control characters. */
export function probeCharacters(): string[] {
  const chars = [" "];
  for (let c = 0x21; c < 0x7f; c++) {
    const ch = String.fromCharCode(c);
    if (!/[A-Za-z0-9]/.test(ch)) chars.push(ch);
  }
  for (let c = 0; c < 0x20; c++) chars.push(String.fromCharCode(c));
  chars.push("\x7f");
  return chars;
}

/** One character's verdicts at the start, middle and end of a name. */
export interface CharacterResult {
  /** The character. */
  char: string;
  /** At the start of a name. */
  start: NameVerdict;
  /** Inside a name. */
  middle: NameVerdict;
  /** At the end of a name. */
  end: NameVerdict;
}

/** Each character at the start, middle and end of a name. */
export async function checkCharacters(ctx: ProbeContext): Promise<CharacterResult[]> {
  const chars = probeCharacters();
  const trials: { name: string; tag: string }[] = [];
  chars.forEach((c, i) => {
    const tag = `sp${ctx.id}-${i}-`;
    trials.push({ name: `${c}${tag}s`, tag }, { name: `${tag}m${c}x`, tag }, {
      name: `${tag}e${c}`,
      tag,
    });
  });
  // Tags differ per character; the position is in the letter after the tag.
  const found = await tryNames(
    ctx,
    trials.map((t, k) => ({ name: t.name, tag: `${t.tag}${"sme"[k % 3]}` })),
  );
  return chars.map((char, i) => ({
    char,
    start: found[3 * i]!,
    middle: found[3 * i + 1]!,
    end: found[3 * i + 2]!,
  }));
}

/** How the store treats composed (NFC) and decomposed (NFD) forms of the same text. */
export interface UnicodeResult {
  /** A name written in NFC. */
  nfc: NameVerdict;
  /** A name written in NFD. */
  nfd: NameVerdict;
  /** Whether the NFC and NFD spellings name one file (the store normalises). */
  sameFile: boolean | null;
}

/** NFC and NFD names kept or normalised, and whether the two spellings are one file. */
export async function checkUnicode(ctx: ProbeContext): Promise<UnicodeResult> {
  const word = "caf\u00e9-\u00c5ngstr\u00f6m";
  const nfc = word.normalize("NFC");
  const nfd = word.normalize("NFD");
  const [a, b] = await tryNames(ctx, [
    { name: `sp${ctx.id}-nfc-${nfc}`, tag: `sp${ctx.id}-nfc-` },
    { name: `sp${ctx.id}-nfd-${nfd}`, tag: `sp${ctx.id}-nfd-` },
  ]);
  let sameFile: boolean | null = null;
  try {
    const file = await payload(ctx);
    await ctx.store.put(file, `sp${ctx.id}-uni-${nfc}`);
    await ctx.store.put(file, `sp${ctx.id}-uni-${nfd}`);
    const n = (await ctx.store.list()).filter((x) => x.startsWith(`sp${ctx.id}-uni-`)).length;
    sameFile = n === 1;
  } catch {
    sameFile = null;
  }
  return { nfc: a!, nfd: b!, sameFile };
}

/** Whether `Aa` and `aa` are two files (`null`: could not tell). */
export async function checkCase(ctx: ProbeContext): Promise<boolean | null> {
  try {
    const file = await payload(ctx);
    await ctx.store.put(file, `sp${ctx.id}-Case`);
    await ctx.store.put(file, `sp${ctx.id}-case`);
    const names = (await ctx.store.list()).filter((x) => x.toLowerCase() === `sp${ctx.id}-case`);
    return names.length === 2;
  } catch {
    return null;
  }
}

/** The longest name accepted, made of a 1-, 2-, 3- or 4-byte character. */
export interface LengthResult {
  /** Bytes per character (UTF-8). */
  width: number;
  /** The character repeated. */
  char: string;
  /** Longest name accepted, in characters. */
  chars: number;
  /** The same in UTF-8 bytes. */
  bytes: number;
  /** The search stopped at its upper bound: the store takes at least this much. */
  atLeast: boolean;
}

const LENGTH_CHARS = ["a", "\u00e9", "\u20ac", "\u{1F600}"];
/** Upper bound of the name-length search, in bytes. */
export const MAX_PROBE_BYTES = 2048;

/** Binary search for the longest accepted name per character width (about 12 puts each). */
export async function checkLengths(ctx: ProbeContext): Promise<LengthResult[]> {
  const file = await payload(ctx);
  const prefix = `sp${ctx.id}-L`;
  const accepts = async (name: string): Promise<boolean> => {
    if (nameProblem(name, ctx.store.backend.capabilities.names)) return false;
    try {
      await ctx.store.put(file, name);
      const size = (await ctx.store.queryInfo([name]))[name]?.size;
      const ok = size === PAYLOAD.length ||
        (size === null && (await ctx.store.list()).includes(name));
      await ctx.store.delete([name]).catch(() => {});
      return ok;
    } catch {
      return false;
    }
  };
  const out: LengthResult[] = [];
  for (const [i, char] of LENGTH_CHARS.entries()) {
    const width = i + 1;
    const nameOf = (k: number) => prefix + char.repeat(k);
    const bytesOf = (k: number) => prefix.length + k * width;
    let lo = 0; // accepted (0 extra characters: the prefix alone is assumed fine)
    let hi = Math.floor((MAX_PROBE_BYTES - prefix.length) / width);
    if (await accepts(nameOf(hi))) {
      out.push({ width, char, chars: prefix.length + hi, bytes: bytesOf(hi), atLeast: true });
      continue;
    }
    while (hi - lo > 1) {
      const mid = Math.floor((lo + hi) / 2);
      if (await accepts(nameOf(mid))) lo = mid;
      else hi = mid;
    }
    out.push({ width, char, chars: prefix.length + lo, bytes: bytesOf(lo), atLeast: false });
  }
  return out;
}

/** What overwriting a file looks like to a reader at the same time. */
export interface OverwriteResult {
  /** `atomic`: every read saw the old or the new file whole; `torn`: one saw neither;
   * `inconclusive`: the overwrite ended before a read could overlap it. */
  status: "atomic" | "torn" | "inconclusive";
  /** Reads made while the overwrite ran. */
  reads: number;
  /** What a torn read saw. */
  detail?: string;
  /** What the backend declares. */
  declared: boolean;
}

/** Overwrite a 4 MiB file while reading it (at most 20 reads): best effort. */
export async function checkOverwrite(ctx: ProbeContext): Promise<OverwriteResult> {
  const size = 4 << 20;
  const a = join(ctx.tmp, "old");
  const b = join(ctx.tmp, "new");
  await Deno.writeFile(a, new Uint8Array(size).fill(0x41));
  await Deno.writeFile(b, new Uint8Array(size).fill(0x42));
  const name = `sp${ctx.id}-overwrite`;
  const declared = ctx.store.backend.capabilities.atomicOverwrite;
  await ctx.store.put(a, name);
  let finished = false;
  const writing = ctx.store.put(b, name).finally(() => (finished = true));
  let reads = 0;
  let detail: string | undefined;
  while (!finished && reads < 20 && detail === undefined) {
    const dest = join(ctx.tmp, `read-${reads}`);
    reads++;
    try {
      await ctx.store.get(name, dest);
      const got = await Deno.readFile(dest);
      const first = got[0];
      const whole = got.length === size && (first === 0x41 || first === 0x42) &&
        got.every((x) => x === first);
      if (!whole) detail = `a read got ${got.length} bytes that are neither file`;
    } catch (err) {
      detail = `a read failed: ${reasonOf(err)}`;
    } finally {
      await Deno.remove(dest).catch(() => {});
    }
  }
  await writing;
  if (detail) return { status: "torn", reads, detail, declared };
  return { status: reads > 0 ? "atomic" : "inconclusive", reads, declared };
}

/** Whether an empty file is stored, listed with size 0 and read back empty. */
export async function checkZeroByte(ctx: ProbeContext): Promise<NameVerdict> {
  const empty = join(ctx.tmp, "empty");
  await Deno.writeFile(empty, new Uint8Array());
  const name = `sp${ctx.id}-zero`;
  try {
    await ctx.store.put(empty, name);
    if (!(await ctx.store.list()).includes(name)) return { status: "lost" };
    const size = (await ctx.store.queryInfo([name]))[name]?.size;
    const back = join(ctx.tmp, "zero-back");
    await ctx.store.get(name, back);
    const got = (await Deno.stat(back)).size;
    if (got !== 0 || (size !== null && size !== 0)) {
      return { status: "unreadable", reason: `size ${size}, read back ${got} bytes` };
    }
    return { status: "ok" };
  } catch (err) {
    return { status: "refused", code: codeOf(err), reason: reasonOf(err) };
  }
}

/**
 * Delete every name with the run's marker (temporary uploads included), up
 * to three rounds; returns the names that would not go.
 */
export async function sweep(ctx: ProbeContext): Promise<string[]> {
  let left: string[] = [];
  for (let round = 0; round < 3; round++) {
    left = (await ctx.store.list({ all: true })).filter((n) => n.includes(`sp${ctx.id}`));
    if (!left.length) return [];
    await eachLimited(left, ctx.transfers, async (n) => {
      await ctx.store.delete([n]).catch(() => {});
    });
  }
  return (await ctx.store.list({ all: true })).filter((n) => n.includes(`sp${ctx.id}`));
}
