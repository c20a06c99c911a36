/**
 * `par2+<url>` — par2 recovery data for any store (duplicity's par2 backend).
 *
 * A put runs `par2 create` (10 % redundancy and one volume file by default,
 * as duplicity) in a private temporary folder and uploads `<name>.par2` and
 * `<name>.vol*.par2` beside the file. `list` hides the `.par2` files,
 * `delete` removes them with the file, `query` answers the data file's size.
 * A get verifies the file and, when it is damaged, fetches the recovery
 * volumes and repairs it before handing it back (duplicity skips the repair
 * because of an exit-status bug); a file damaged beyond repair fails with
 * code 56 and leaves no local file. par2 is never run with `-p`. A missing
 * `par2` program is code 54.
 *
 * Options: `par2Redundancy`, `par2Volumes`, `par2Path`, `par2Args`; every
 * other option goes to the inner store.
 *
 * @example
 * ```ts ignore
 * import { getBackend } from "@stowage/backends";
 * await using store = await getBackend("par2+file:///tmp/stowage-par2", { par2Redundancy: 20 });
 * await store.put("/etc/hostname", "hostname");
 * console.log(await store.list()); // ["hostname"]
 * ```
 *
 * @module
 */

export { Par2Backend } from "./backend.ts";
export { PAR2_OPTIONS, type Par2Options } from "./options.ts";
