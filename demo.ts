/**
 * The quick-start job: put a few files (one of 8 MiB) into a local folder
 * through file://, list them, get them back and verify every byte, then run
 * the conformance suite (`stowage test`) on an empty folder. Exits non-zero
 * on any mismatch or failure.
 *
 * Usage: deno task demo [folder]   (default: a new temporary folder)
 *
 * @module
 */

import { join } from "node:path";
import { main } from "./cli.ts";

const root = Deno.args[0] ?? await Deno.makeTempDir({ prefix: "stowage-demo-" });
const src = join(root, "src");
const back = join(root, "back");
await Deno.mkdir(src, { recursive: true });
await Deno.mkdir(back, { recursive: true });
const url = `file://${join(root, "store")}`;

async function step(title: string, args: string[]): Promise<void> {
  console.log(`\n$ stowage ${args.join(" ")}    # ${title}`);
  const code = await main(args);
  if (code !== 0) {
    console.error(`demo: "stowage ${args[0]}" exited ${code}`);
    Deno.exit(code);
  }
}

// Three files: text, an empty one, and 8 MiB of random bytes.
const files: Record<string, Uint8Array> = {
  "notes.txt": new TextEncoder().encode("stowage keeps files anywhere.\n"),
  "empty.bin": new Uint8Array(0),
  "random.bin": new Uint8Array(8 << 20),
};
for (let i = 0; i < files["random.bin"]!.length; i += 65536) {
  crypto.getRandomValues(files["random.bin"]!.subarray(i, i + 65536));
}
for (const [name, data] of Object.entries(files)) await Deno.writeFile(join(src, name), data);

console.log(`stowage demo in ${root}`);
await step("upload three files", ["put", ...Object.keys(files).map((n) => join(src, n)), url]);
await step("list them with sizes", ["ls", "-l", url]);
for (const name of Object.keys(files)) {
  await step(`download ${name}`, ["get", url, name, join(back, name)]);
}
for (const [name, data] of Object.entries(files)) {
  const got = await Deno.readFile(join(back, name));
  const same = got.length === data.length && got.every((b, i) => b === data[i]);
  if (!same) {
    console.error(`demo: ${name} came back different`);
    Deno.exit(1);
  }
}
console.log(`\nverified: all ${Object.keys(files).length} files came back byte for byte`);
await step("delete them", ["rm", url, ...Object.keys(files)]);
await step("run the conformance suite on the (now empty) folder", ["test", url]);
await Deno.remove(root, { recursive: true });
console.log("\ndemo finished: every step passed");
