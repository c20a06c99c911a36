/**
 * `chaos+<url>` — fault injection in front of any store, for users who want
 * to see how their tool copes with a flaky store, and for our own tests.
 *
 * Its settings come from the URL query (`fail`, `when`, `seed`, `latency`,
 * `truncate`, `match`, `ops`) or from the options of the same names with a
 * `chaos` prefix (`chaosFail`, ...), which win. These query keys belong to
 * chaos and are removed before the inner URL is built; every other query key
 * and option goes to the inner store. Every affected call draws the same
 * random numbers, so a seed replays the same faults. A truncated put reports
 * success: the wrapper's `validate` catches it. Latency waits use the `sleep`
 * of the wrapper options when one is given, so tests never wait.
 *
 * @example
 * ```ts
 * import { getBackend } from "@stowage/backends";
 * await using store = await getBackend("chaos+memory://chaos-example?fail=0.3&seed=7", {
 *   sleep: () => Promise.resolve(), // no real backoff waits in this example
 * });
 * const file = await Deno.makeTempFile();
 * await Deno.writeTextFile(file, "hello");
 * await store.put(file, "hello.txt"); // retried through the injected failures
 * await store.validate("hello.txt", 5);
 * ```
 *
 * @module
 */

import {
  Backend,
  type BackendOptions,
  type DeclaredCapabilities,
  type OperationContext,
  type QueryResult,
} from "../core/backend.ts";
import { BackendError, ErrorCode } from "../core/errors.ts";
import { type OptionsInput, parseOptionsWithRest } from "../core/options.ts";
import { abortableSleep } from "../core/retry.ts";
import { ParsedUrl } from "../core/url.ts";
import { LazyStore, queryListOf } from "../core/lazy_store.ts";
import { getBackendObject } from "../registry.ts";

/** The operations chaos can disturb. */
const OPERATIONS = ["put", "get", "list", "delete", "query"] as const;
/** One of {@linkcode OPERATIONS}. */
type Operation = (typeof OPERATIONS)[number];

/** The options of `chaos+`, declared once; each also has a URL query key. */
export const CHAOS_OPTIONS = {
  chaosFail: {
    type: "number",
    min: 0,
    max: 1,
    default: 0,
    doc: "Probability that a call fails (query fail=).",
  },
  chaosWhen: {
    type: "enum",
    values: ["before", "after", "both"],
    default: "both",
    doc: "A failure comes before the inner call, after it (it took effect), or either (when=).",
  },
  chaosSeed: {
    type: "integer",
    doc: "Seed of the random choices; the same seed and calls give the same faults (seed=).",
  },
  chaosLatency: {
    type: "duration",
    default: 0,
    doc: "Delay before every affected call (latency=).",
  },
  chaosTruncate: {
    type: "number",
    min: 0,
    max: 1,
    default: 0,
    doc: "Probability that a put stores only part of the file and reports success (truncate=).",
  },
  chaosMatch: {
    type: "string",
    doc: "Only calls on names containing this text are affected; list is spared (match=).",
  },
  chaosOps: {
    type: "list",
    default: ["put", "get", "list", "delete", "query"],
    doc: "The operations affected: put, get, list, delete, query (ops=).",
  },
} as const;

/** Options for {@linkcode ChaosBackend} (the inner store's options pass through). */
export type ChaosOptions = OptionsInput<typeof CHAOS_OPTIONS>;

/** The URL query keys of chaos and the options they stand for. */
const QUERY_KEYS: Readonly<Record<string, keyof typeof CHAOS_OPTIONS>> = {
  fail: "chaosFail",
  when: "chaosWhen",
  seed: "chaosSeed",
  latency: "chaosLatency",
  truncate: "chaosTruncate",
  match: "chaosMatch",
  ops: "chaosOps",
};

/** What chaos has done so far. */
export interface ChaosStats {
  /** Calls chaos looked at (affected or not). */
  calls: number;
  /** Failures thrown before the inner call. */
  failedBefore: number;
  /** Failures thrown after the inner call had taken effect. */
  failedAfter: number;
  /** Puts that stored a truncated file. */
  truncated: number;
}

type Sleep = (ms: number, signal?: AbortSignal) => Promise<void>;

/**
 * A store that fails, slows down and truncates on purpose, deterministically
 * by seed, in front of any other store.
 *
 * @example
 * ```ts
 * import { getBackend } from "@stowage/backends";
 * await using store = await getBackend("chaos+memory://chaos-class?fail=1&ops=put&seed=3", {
 *   maxAttempts: 1,
 * });
 * const file = await Deno.makeTempFile();
 * await store.put(file, "a").catch((err) => console.log(err.code)); // 50
 * ```
 */
export class ChaosBackend extends Backend {
  /** The declared options (the inner store's options pass through). */
  static readonly options: typeof CHAOS_OPTIONS = CHAOS_OPTIONS;
  /** One line for `stowage backends`. */
  static readonly description: string =
    "fault injection in front of any store: failures, latency, truncated puts (by seed)";
  /** The inner store's URL, without chaos's query keys. */
  readonly innerUrl: ParsedUrl;
  /** The seed in use (given, or drawn at random). */
  readonly seed: number;
  readonly #stats: ChaosStats = { calls: 0, failedBefore: 0, failedAfter: 0, truncated: 0 };
  readonly #fail: number;
  readonly #when: "before" | "after" | "both";
  readonly #latency: number;
  readonly #truncate: number;
  readonly #match: string | undefined;
  readonly #ops: ReadonlySet<string>;
  readonly #random: () => number;
  readonly #sleep: Sleep;
  readonly #inner: LazyStore;

  /** Read the settings from the URL query and options; the inner store is built on first use. */
  constructor(url: ParsedUrl, options: ChaosOptions & BackendOptions = {}) {
    super(new ParsedUrl(`chaos+${url.geturl()}`), options);
    const scheme = `chaos+${url.scheme}`;
    const given = Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined));
    const { settings, rest } = parseOptionsWithRest(scheme, CHAOS_OPTIONS, {
      ...fromQuery(url),
      ...given,
    });
    const unknown = settings.chaosOps.filter((o) => !(OPERATIONS as readonly string[]).includes(o));
    if (unknown.length) {
      throw new BackendError(
        `Invalid option "chaosOps" for ${scheme}://: "${unknown.join(",")}" is not one of ${
          OPERATIONS.join(", ")
        }`,
        { code: ErrorCode.user_error },
      );
    }
    this.innerUrl = new ParsedUrl(withoutChaosKeys(url.geturl()));
    this.seed = settings.chaosSeed ?? crypto.getRandomValues(new Uint32Array(1))[0]!;
    this.#fail = settings.chaosFail;
    this.#when = settings.chaosWhen;
    this.#latency = settings.chaosLatency;
    this.#truncate = settings.chaosTruncate;
    this.#match = settings.chaosMatch || undefined;
    this.#ops = new Set(settings.chaosOps);
    this.#random = mulberry32(this.seed);
    this.#sleep = typeof rest.sleep === "function" ? rest.sleep as Sleep : abortableSleep;
    this.#inner = new LazyStore(() => getBackendObject(this.innerUrl, rest));
  }

  /** What chaos has done so far (a copy). */
  get stats(): ChaosStats {
    return { ...this.#stats };
  }

  /** The inner store's facts once it is built; none before. */
  protected override declareCapabilities(): DeclaredCapabilities {
    const inner = this.#inner.opened?.capabilities;
    if (!inner) return {};
    const { atomicOverwrite, serverSideRename, folders, names, chunkSize } = inner;
    return {
      atomicOverwrite,
      serverSideRename,
      folders,
      names,
      ...(chunkSize ? { chunkSize } : {}),
    };
  }

  /** Get through the inner store, maybe failing before or after. */
  override _get(name: string, localPath: string, ctx?: OperationContext): Promise<void> {
    return this.#call("get", [name], ctx, (inner) => inner._get(name, localPath, ctx));
  }

  /** Put through the inner store, maybe failing, maybe storing a truncated copy. */
  override async _put(localPath: string, name: string, ctx?: OperationContext): Promise<void> {
    const cut = this.#affects("put", [name]) ? [this.#random(), this.#random()] : undefined;
    await this.#call("put", [name], ctx, async (inner) => {
      const size = ctx?.size ?? (await Deno.stat(localPath)).size;
      if (!cut || cut[0]! >= this.#truncate || size === 0) {
        return await inner._put(localPath, name, ctx);
      }
      const keep = Math.floor(size * cut[1]!);
      const tmp = await Deno.makeTempFile({ prefix: "stowage-chaos-" });
      try {
        await Deno.copyFile(localPath, tmp);
        await Deno.truncate(tmp, keep);
        this.#stats.truncated++;
        await inner._put(
          tmp,
          name,
          ctx && { signal: ctx.signal, progress: ctx.progress, size: keep },
        );
      } finally {
        await Deno.remove(tmp).catch(() => {});
      }
    });
  }

  /** List through the inner store, maybe failing. */
  override _list(ctx?: OperationContext): Promise<string[]> {
    return this.#call("list", undefined, ctx, (inner) => inner._list(ctx));
  }

  /** Delete through the inner store, maybe failing. */
  override _delete(name: string, ctx?: OperationContext): Promise<void> {
    return this.#call("delete", [name], ctx, (inner) => inner._delete(name, ctx));
  }

  /** Delete several through the inner store (one chaos decision for the batch). */
  override _deleteList(names: string[], ctx?: OperationContext): Promise<void> {
    return this.#call("delete", names, ctx, async (inner) => {
      if (inner._deleteList) return await inner._deleteList(names, ctx);
      for (const n of names) await inner._delete(n, ctx);
    });
  }

  /** Query through the inner store, maybe failing. */
  override async _query(name: string, ctx?: OperationContext): Promise<QueryResult> {
    return (await this._queryList([name], ctx))[name] ?? { size: null };
  }

  /** Query several through the inner store (one chaos decision for the batch). */
  override _queryList(
    names: string[],
    ctx?: OperationContext,
  ): Promise<Record<string, QueryResult>> {
    return this.#call("query", names, ctx, (inner) => queryListOf(inner, names, ctx));
  }

  /** Reset the inner store between attempts. */
  override async _retryCleanup(): Promise<void> {
    await this.#inner.opened?._retryCleanup?.();
  }

  /** Injected failures carry their code; the inner store maps its own. */
  override _errorCode(operation: string, err: unknown): ErrorCode | undefined {
    return this.#inner.opened?._errorCode?.(operation, err);
  }

  /** Close the inner store. */
  override async _close(): Promise<void> {
    await this.#inner.opened?._close?.();
  }

  // ---- private helpers ----

  #affects(op: Operation, names: readonly string[] | undefined): boolean {
    if (!this.#ops.has(op)) return false;
    if (this.#match === undefined) return true;
    return names !== undefined && names.some((n) => n.includes(this.#match!));
  }

  /**
   * One call: wait the latency, then maybe fail before the inner call, or
   * make it and fail after. Every affected call draws the same count of
   * random numbers, so a seed replays the same faults.
   */
  async #call<T>(
    op: Operation,
    names: readonly string[] | undefined,
    ctx: OperationContext | undefined,
    fn: (inner: Backend) => Promise<T>,
  ): Promise<T> {
    this.#stats.calls++;
    const inner = await this.#inner.get();
    if (!this.#affects(op, names)) return await fn(inner);
    const fails = this.#random() < this.#fail;
    const afterDraw = this.#random() >= 0.5;
    const after = this.#when === "after" || (this.#when === "both" && afterDraw);
    if (this.#latency > 0) await this.#sleep(this.#latency, ctx?.signal);
    if (fails && !after) {
      this.#stats.failedBefore++;
      throw injected(op, names, "before");
    }
    const value = await fn(inner);
    if (fails) {
      this.#stats.failedAfter++;
      throw injected(op, names, "after");
    }
    return value;
  }
}

/** The retryable failure chaos throws. */
function injected(op: Operation, names: readonly string[] | undefined, when: string): BackendError {
  const what = names === undefined
    ? ""
    : names.length === 1
    ? ` "${names[0]}"`
    : ` (${names.length} files)`;
  return new BackendError(`chaos: injected failure ${when} ${op}${what}`, {
    code: ErrorCode.backend_error,
    operation: op,
  });
}

/** Chaos's settings from the URL query, as option keys; a repeated key is code 23. */
function fromQuery(url: ParsedUrl): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, option] of Object.entries(QUERY_KEYS)) {
    const values = url.queryArgs[key];
    if (!values) continue;
    if (values.length > 1) {
      throw new BackendError(
        `Invalid URL "chaos+${url.stripAuth()}": the query key "${key}" is given more than once`,
        { code: ErrorCode.user_error },
      );
    }
    out[option] = values[0]!;
  }
  return out;
}

/** The URL without chaos's query keys (the inner store's own keys stay, as written). */
export function withoutChaosKeys(raw: string): string {
  const hash = raw.indexOf("#");
  const body = hash === -1 ? raw : raw.slice(0, hash);
  const fragment = hash === -1 ? "" : raw.slice(hash);
  const q = body.indexOf("?");
  if (q === -1) return raw;
  const kept = body.slice(q + 1).split("&").filter((part) => {
    if (!part) return false;
    let key = part.split("=")[0]!.replace(/\+/g, " ");
    try {
      key = decodeURIComponent(key);
    } catch {
      // keep the raw form
    }
    return !Object.hasOwn(QUERY_KEYS, key);
  });
  return body.slice(0, q) + (kept.length ? `?${kept.join("&")}` : "") + fragment;
}

/** A small seeded generator of numbers in [0, 1) (mulberry32). */
function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
