/**
 * Keeps a long stream's memory flat under Deno. Streams leave short-lived
 * buffers behind (a source's fresh chunks, TLS records, socket reads); V8
 * frees their bytes only when it collects, and it lets about 64 MiB of such
 * "external" memory pile up first, so a 1 GiB transfer peaked well above
 * what it holds at any moment (FTPS writes near 170 MiB).
 *
 * {@linkcode noteStreamed} is told the bytes each stream moves. Every few
 * MiB it looks at V8's external memory and, once it has grown by
 * {@linkcode EXTERNAL_SLACK} since the last look that collected, asks V8 to
 * collect now. The collector is reached the way Node allows: `--expose-gc`
 * set through `node:v8` and the `gc` function of a fresh `node:vm` context
 * (the main context's globals are untouched). Where that is refused, this
 * does nothing.
 *
 * @example
 * ```ts
 * import { noteStreamed } from "./garbage.ts";
 *
 * for (let i = 0; i < 4; i++) noteStreamed(new Uint8Array(1 << 20).length);
 * ```
 *
 * @module
 */

/** Bytes moved between two looks at the external memory. */
const LOOK_EVERY = 4 << 20;
/** External memory growth (bytes) that triggers a collection. */
export const EXTERNAL_SLACK = 32 << 20;

type Collect = (options?: { type?: "major" | "minor" }) => void;

/** The collector: `undefined` until asked for, then loading, then the function or `null`. */
let collect: Collect | null | undefined;
let loading: Promise<void> | undefined;
let sinceLook = 0;
let floor = -1;

/**
 * Set the collector up (once): loaded on first need only, as the first
 * `node:` import costs a process some MiB that most never need.
 */
function loadCollector(): void {
  loading ??= (async () => {
    try {
      const [{ default: v8 }, { default: vm }] = await Promise.all([
        import("node:v8"),
        import("node:vm"),
      ]);
      v8.setFlagsFromString("--expose-gc");
      const fn: unknown = vm.runInNewContext("gc");
      collect = typeof fn === "function" ? fn as Collect : null;
    } catch {
      collect = null;
    }
  })();
}

/**
 * Count `bytes` a stream moved; now and then, collect the garbage such
 * streams leave (see the module doc). Cheap: one memory reading per 4 MiB.
 */
export function noteStreamed(bytes: number): void {
  sinceLook += bytes;
  if (sinceLook < LOOK_EVERY) return;
  sinceLook = 0;
  const external = Deno.memoryUsage().external;
  if (floor < 0 || external < floor) floor = external;
  if (external - floor < EXTERNAL_SLACK) return;
  if (collect === undefined) return loadCollector(); // ready at a later look
  if (!collect) return;
  collect();
  floor = Deno.memoryUsage().external;
}
