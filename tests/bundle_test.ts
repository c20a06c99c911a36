import assert from "node:assert/strict";
import { join } from "node:path";

Deno.test("cli.ts bundles into one file that runs ls on a file:// folder", async () => {
  const dir = await Deno.makeTempDir();
  const bundle = join(dir, "stowage.js");
  const cli = new URL("../cli.ts", import.meta.url).pathname;
  const built = await new Deno.Command(Deno.execPath(), {
    args: ["bundle", "--platform", "deno", "--external", "*.node", "-o", bundle, cli],
    env: { NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.ok(built.success, new TextDecoder().decode(built.stderr));
  const store = join(dir, "store");
  await Deno.mkdir(store);
  await Deno.writeTextFile(join(store, "one.txt"), "1");
  // Run from an empty folder so nothing but the bundle is available.
  const empty = join(dir, "empty");
  await Deno.mkdir(empty);
  const ran = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--no-config", bundle, "ls", "-l", `file://${store}`],
    cwd: empty,
    env: { NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(ran.code, 0, new TextDecoder().decode(ran.stderr));
  assert.equal(new TextDecoder().decode(ran.stdout), "1  one.txt\n");
  await Deno.remove(dir, { recursive: true });
});
