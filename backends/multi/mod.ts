/**
 * `multi:///path/config.json?mode=mirror|stripe&onfail=continue|abort&subpath=x`
 * — several stores as one (duplicity's multibackend).
 *
 * The configuration is duplicity's JSON list of stores (`url`, and optional
 * `description`, `env` and `prefixes`; stowage adds `options`, backend
 * options for that store). `mode=mirror` puts every file on every eligible
 * store; `mode=stripe` (duplicity's default) puts each on one store,
 * round-robin, moving on when a store fails. `onfail=continue` (the default)
 * really goes on with the other stores when a store gives up after its own
 * retries; `onfail=abort` fails at once. A list is the union of every
 * store's, with a warning (not a failure) for a store that cannot be listed;
 * a get reads from the first store that has the file; a delete removes it
 * everywhere. `prefixes` give duplicity's prefix affinity (mirror mode only).
 * An unknown or repeated query key is code 23. Instances share no state.
 *
 * @example
 * ```ts
 * import { getBackend } from "@stowage/backends";
 * const config = await Deno.makeTempFile({ suffix: ".json" });
 * await Deno.writeTextFile(config, JSON.stringify([
 *   { url: "memory://multi-example-a" },
 *   { url: "memory://multi-example-b", description: "second copy" },
 * ]));
 * await using store = await getBackend(`multi://${config}?mode=mirror`);
 * const file = await Deno.makeTempFile();
 * await store.put(file, "both");
 * console.log(await store.list()); // ["both"]
 * ```
 *
 * @module
 */

export { MultiBackend } from "./backend.ts";
export { MULTI_OPTIONS, type MultiOptions, type MultiSettings } from "./options.ts";
