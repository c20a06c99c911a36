/**
 * The names of par2 recovery files: `<name>.par2` (the index) and
 * `<name>.vol<first>+<count>.par2` (the recovery volumes), as duplicity and
 * par2cmdline write them, and the local name par2 works on.
 *
 * @module
 */

/** What every recovery file name ends with; `list` hides such names. */
export const PAR2_SUFFIX = ".par2";

/**
 * Bytes the longest recovery suffix adds to a name (`.vol32767+32768.par2`):
 * names must leave this much room under the store's and the local limit.
 */
export const RECOVERY_SUFFIX_BYTES = 20;

const VOLUME_TAIL = /^\.vol\d+\+\d+\.par2$/;
const VOLUME = /^(.*)\.vol\d+\+\d+\.par2$/s;

/** Whether `name` is a recovery file name (ends in `.par2`). */
export function isPar2Name(name: string): boolean {
  return name.endsWith(PAR2_SUFFIX);
}

/** The index file of `name`: `<name>.par2`. */
export function indexName(name: string): string {
  return name + PAR2_SUFFIX;
}

/** Whether `candidate` is a recovery volume of `name` (`<name>.vol0+1.par2`). */
export function isVolumeOf(candidate: string, name: string): boolean {
  return candidate.startsWith(name) && VOLUME_TAIL.test(candidate.slice(name.length));
}

/**
 * The data file a recovery file belongs to, if it belongs to one of `names`:
 * `a.par2` and `a.vol0+1.par2` belong to `a`.
 */
export function ownerIn(candidate: string, names: ReadonlySet<string>): string | undefined {
  if (!isPar2Name(candidate)) return undefined;
  const plain = candidate.slice(0, -PAR2_SUFFIX.length);
  if (names.has(plain)) return plain;
  const m = VOLUME.exec(candidate);
  return m && names.has(m[1]!) ? m[1] : undefined;
}

/** The base name par2 works on when the real name cannot be used. */
const SUBSTITUTE = "stowage-par2-data";

/**
 * The local file name par2 creates and checks recovery data for. It is the
 * remote name (so the recovery data records the real name, as duplicity's
 * does), except where par2cmdline 0.8 cannot take it: names with `*` or `?`
 * (it treats them as wildcards) and one-character names (it crashes).
 */
export function localBase(name: string): string {
  return /[*?]/.test(name) || [...name].length < 2 ? SUBSTITUTE : name;
}
