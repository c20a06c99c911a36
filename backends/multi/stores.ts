/**
 * multi's stores: built once from the configuration through the registry,
 * and reached through a wrapper per call, so that each store retries on its
 * own (and gives up on its own, which `onfail` then decides about) while the
 * call's signal and progress flow through.
 *
 * @module
 */

import type { Backend, BackendOptions, OperationContext } from "../../core/backend.ts";
import { COMMON_OPTION_KEYS } from "../../core/options.ts";
import { BackendWrapper, type WrapperOptions } from "../../core/wrapper.ts";
import { getBackendObject } from "../../registry.ts";
import type { StoreConfig } from "./config.ts";

/** One built store. */
export interface Store {
  /** Its position in the configuration, from 0. */
  index: number;
  /** Its label for messages: `store 2 (offsite)` or `store 2 (file:///mnt/usb)`. */
  label: string;
  /** The backend. */
  backend: Backend;
  /** Name prefixes it has affinity for. */
  prefixes: readonly string[];
}

/**
 * The wrapper options multi hands to every store: the common keys, less the
 * caller's per-call signal and progress, `staleAfter` (set below) and
 * `askPassword` (a backend option).
 */
const WRAPPER_KEYS = COMMON_OPTION_KEYS.filter((k) =>
  !["signal", "onProgress", "staleAfter", "askPassword"].includes(k)
);

/** Split multi's remaining options into the stores' wrapper options and backend options. */
export function splitOptions(
  rest: Record<string, unknown>,
): { wrapper: WrapperOptions; backend: BackendOptions } {
  const wrapper: Record<string, unknown> = {};
  const backend: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(rest)) {
    if (WRAPPER_KEYS.includes(k)) wrapper[k] = v;
    if (k !== "signal" && k !== "onProgress") backend[k] = v;
  }
  // The multi store's own wrapper sweeps stale uploads (through multi's list and delete).
  wrapper.staleAfter = 0;
  return { wrapper: wrapper as WrapperOptions, backend };
}

/**
 * Build every store, in order, setting each one's environment variables
 * first (duplicity's `env`; the environment is the whole process's).
 */
export async function buildStores(
  configs: readonly StoreConfig[],
  options: BackendOptions,
): Promise<Store[]> {
  const stores: Store[] = [];
  for (const [index, c] of configs.entries()) {
    for (const { name, value } of c.env) Deno.env.set(name, value);
    const backend = await getBackendObject(c.url, { ...options, ...c.options });
    const label = `store ${index + 1} (${c.description ?? backend.url.stripAuth()})`;
    stores.push({ index, label, backend, prefixes: c.prefixes });
  }
  return stores;
}

/**
 * Run `fn` with a wrapper around `store` for this call: its retries, the
 * caller's signal, and progress passed on. While it runs (retry waits
 * included) the call reports that it is alive, so the outer no-progress
 * timeout does not cut a store that is still retrying; the store's own
 * wrapper has the same timeout for a store that hangs.
 */
export async function onStore<T>(
  store: Store,
  base: WrapperOptions,
  ctx: OperationContext | undefined,
  fn: (w: BackendWrapper) => Promise<T>,
): Promise<T> {
  const w = new BackendWrapper(store.backend, {
    ...base,
    ...(ctx ? { signal: ctx.signal, onProgress: (e) => ctx.progress(e.bytes) } : {}),
  });
  const every = Math.max(100, Math.min(5000, (base.timeout ?? 30000) / 3));
  const alive = ctx ? setInterval(() => ctx.progress(0), every) : undefined;
  try {
    return await fn(w);
  } finally {
    if (alive !== undefined) clearInterval(alive);
  }
}

/**
 * The stores a name belongs on: those with a prefix the name starts with,
 * or every store when none has (duplicity's prefix affinity).
 */
export function eligible(stores: readonly Store[], name: string): Store[] {
  const matching = stores.filter((s) => s.prefixes.some((p) => name.startsWith(p)));
  return matching.length ? matching : [...stores];
}
