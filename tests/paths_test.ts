import assert from "node:assert/strict";
import * as node from "node:path";
import { basename, dirname, join } from "../core/paths.ts";

Deno.test("core/paths basename and dirname agree with node:path on the paths the core builds", () => {
  for (
    const p of [
      "/tmp/a/b.txt",
      "/tmp/a/",
      "/tmp//a//b",
      "b.txt",
      "./b",
      "/",
      "/x",
      "a/b/",
      "",
      ".stowage-part",
    ]
  ) {
    assert.equal(basename(p), node.basename(p), `basename(${JSON.stringify(p)})`);
    assert.equal(dirname(p), node.dirname(p), `dirname(${JSON.stringify(p)})`);
  }
});

Deno.test("core/paths join puts one separator between a folder and a name", () => {
  assert.equal(join("/tmp/a", "b"), "/tmp/a/b");
  assert.equal(join("/tmp/a/", "b"), "/tmp/a/b");
  assert.equal(join("/", "b"), "/b");
  assert.equal(join(".", "b"), "./b");
  assert.equal(join("", "b"), "b");
  assert.equal(join("a", ""), "a");
});
