import assert from "node:assert/strict";
import { renderReadme } from "./readme_options.ts";

Deno.test("the README's option tables equal the backends' declarations (deno task docs)", async () => {
  const text = await Deno.readTextFile(new URL("../README.md", import.meta.url));
  const blocks = text.match(/<!-- options: /g)?.length ?? 0;
  assert.ok(blocks >= 10, `only ${blocks} option tables in the README`);
  assert.equal(text, await renderReadme(text), "run `deno task docs` to regenerate the tables");
});

Deno.test("the README never sends readers outside the repository", async () => {
  const text = await Deno.readTextFile(new URL("../README.md", import.meta.url));
  assert.doesNotMatch(text, /\.\.\/shared|DESIGN\.md/);
});
