/**
 * The two sides of a copy: an endpoint is a local folder or a store URL; a
 * folder pair is one sub-folder on both sides (the contract stays flat, so
 * sub-folder `a/b` of URL `U` is the store `U/a/b`), opened when its first
 * file needs it and closed after its last. Listing a side gives names and
 * sizes; walking a local side finds its sub-folders.
 *
 * @module
 */

import { join, resolve } from "node:path";
import { BackendError, ErrorCode } from "../core/errors.ts";
import { isPartFile } from "../core/local_file.ts";
import { isTempName } from "../core/names.ts";
import { ParsedUrl } from "../core/url.ts";
import type { BackendWrapper } from "../core/wrapper.ts";
import { fileUrlOf, isUrl, subUrl } from "./stores.ts";

/** One side of a copy, as given on the command line. */
export interface Endpoint {
  /** The store URL (a `file://` URL for a local path). */
  url: string;
  /** The local folder, for local paths and `file://` URLs (read and walked directly). */
  dir?: string;
  /** Given as a plain path, not a URL (its store takes only the wrapper's options). */
  plainPath: boolean;
  /** For messages: the path, or the URL without secrets. */
  display: string;
}

/** The endpoint for a command-line argument. */
export function endpointOf(arg: string): Endpoint {
  if (!isUrl(arg)) {
    const dir = resolve(arg);
    return { url: fileUrlOf(dir), dir, plainPath: true, display: arg };
  }
  const parsed = new ParsedUrl(arg);
  const ep: Endpoint = { url: arg, plainPath: false, display: parsed.stripAuth() };
  if (parsed.scheme === "file") ep.dir = resolve(parsed.path.slice(2));
  return ep;
}

/** Sub-folder `rel` (`a/b`) of an endpoint. */
export function subEndpoint(ep: Endpoint, rel: string): Endpoint {
  if (!rel) return ep;
  const out: Endpoint = {
    url: subUrl(ep.url, rel),
    plainPath: ep.plainPath,
    display: ep.plainPath ? join(ep.display, rel) : subUrl(ep.display, rel),
  };
  if (ep.dir) out.dir = join(ep.dir, rel);
  return out;
}

/** Opens the store of one side of a folder pair. */
export type Opener = (ep: Endpoint, rel: string, side: "src" | "dst") => Promise<BackendWrapper>;

/** One sub-folder on both sides; stores opened on demand and closed after the last user. */
export class FolderPair {
  /** The sub-folder, `""` for the top. */
  readonly rel: string;
  /** The source side. */
  readonly src: Endpoint;
  /** The destination side. */
  readonly dst: Endpoint;
  readonly #open: Opener;
  readonly #src = new Map<number, Promise<BackendWrapper>>();
  readonly #dst = new Map<number, Promise<BackendWrapper>>();
  #users = 0;
  #gate: Promise<void> | undefined;
  #openGate: (() => void) | undefined;

  /** A pair for sub-folder `rel` of the two top endpoints. */
  constructor(rel: string, src: Endpoint, dst: Endpoint, open: Opener) {
    this.rel = rel;
    this.src = subEndpoint(src, rel);
    this.dst = subEndpoint(dst, rel);
    this.#open = open;
  }

  /** The key of a file in this pair: `rel/name`, or `name` at the top. */
  key(name: string): string {
    return this.rel ? `${this.rel}/${name}` : name;
  }

  /**
   * The source store of transfer slot `lane` (opened on first use): each slot
   * has its own store, so its own connection (as rclone's per-transfer
   * connections), and slots never queue behind one another's session.
   */
  srcStore(lane = 0): Promise<BackendWrapper> {
    let p = this.#src.get(lane);
    if (!p) this.#src.set(lane, p = this.#open(this.src, this.rel, "src"));
    return p;
  }

  /** The destination store of transfer slot `lane` (opened on first use). */
  dstStore(lane = 0): Promise<BackendWrapper> {
    let p = this.#dst.get(lane);
    if (!p) this.#dst.set(lane, p = this.#open(this.dst, this.rel, "dst"));
    return p;
  }

  /** Count a user; the stores stay open until the last one releases. */
  acquire(n = 1): void {
    this.#users += n;
  }

  /**
   * Hold the pair's other writes until its first one is under way. Each
   * transfer slot has its own store, and the first put of each makes the
   * folder: the first goes alone until its bytes flow (the folder is made
   * then; see {@linkcode FolderPair.writing}) or it ends, and the others
   * then find the folder there instead of racing to make it.
   */
  async firstWrite<T>(fn: () => Promise<T>): Promise<T> {
    if (this.#gate) {
      await this.#gate;
      return await fn();
    }
    this.#gate = new Promise<void>((r) => (this.#openGate = r));
    try {
      return await fn();
    } finally {
      this.writing();
    }
  }

  /** The first write's bytes are flowing: let the others start. */
  writing(): void {
    this.#openGate?.();
    this.#openGate = undefined;
  }

  /** Whether any user holds the stores. */
  get inUse(): boolean {
    return this.#users > 0;
  }

  /** One user is done; the last closes the stores. */
  async release(): Promise<void> {
    if (--this.#users > 0) return;
    await this.close();
  }

  /** Close whatever is open (safe to call again; reopened on next use). */
  async close(): Promise<void> {
    const open = [...this.#src.values(), ...this.#dst.values()];
    this.#src.clear();
    this.#dst.clear();
    await Promise.all(open.map(async (p) => {
      const store = await p.catch(() => undefined);
      await store?.close().catch(() => {});
    }));
  }
}

/** Names and sizes in one folder (`null`: the store cannot tell). */
export type Listing = Map<string, number | null>;

/** The files of a local folder (not its partial downloads or temporary uploads). */
export async function listLocal(dir: string): Promise<Listing> {
  const out: Listing = new Map();
  for await (const entry of Deno.readDir(dir)) {
    if (isPartFile(entry.name) || isTempName(entry.name)) continue;
    if (!entry.isFile && !entry.isSymlink) continue;
    try {
      const info = await Deno.stat(join(dir, entry.name));
      if (info.isFile) out.set(entry.name, info.size);
    } catch {
      // a dangling link or a file gone meanwhile
    }
  }
  return out;
}

/**
 * The files of a store folder, with sizes for the names in `sizesFor` (all
 * when omitted: a source's sizes set the progress totals).
 */
export async function listStore(
  store: BackendWrapper,
  sizesFor?: Set<string>,
  listed?: Promise<string[]>,
): Promise<Listing> {
  const names = await (listed ?? store.list());
  const want = sizesFor ? names.filter((n) => sizesFor.has(n)) : names;
  const info = want.length ? await store.queryInfo(want) : {};
  const out: Listing = new Map();
  for (const n of names) {
    const size = info[n]?.size;
    if (size === -1) continue; // vanished between list and query
    out.set(n, size ?? null);
  }
  return out;
}

/** The sub-folders of a local folder, recursively, as `a`, `a/b` (symlinked folders not followed). */
export async function walkLocal(dir: string, rel = "", out: string[] = []): Promise<string[]> {
  const subs: string[] = [];
  for await (const entry of Deno.readDir(join(dir, rel))) {
    if (entry.isDirectory) subs.push(entry.name);
  }
  for (const name of subs.sort()) {
    const sub = rel ? `${rel}/${name}` : name;
    out.push(sub);
    await walkLocal(dir, sub, out);
  }
  return out;
}

/** Check that a local source folder exists (code 52 naming it otherwise). */
export async function checkSourceFolder(ep: Endpoint): Promise<void> {
  if (!ep.dir) return;
  const info = await Deno.stat(ep.dir).catch(() => undefined);
  if (!info?.isDirectory) {
    throw new BackendError(`Cannot read "${ep.display}": no such folder`, {
      code: ErrorCode.backend_not_found,
      operation: "list",
    });
  }
}
