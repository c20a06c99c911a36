/**
 * Keeps the README's option tables equal to the backends' declarations:
 * every `<!-- options: SCHEME -->…<!-- /options -->` block is what
 * `stowage backends --markdown SCHEME` prints. `deno task docs` rewrites the
 * README; tests/readme_test.ts fails when it is out of date.
 */

import { main } from "../cli.ts";

const README = new URL("../README.md", import.meta.url);

/** The README text with every options block regenerated. */
export async function renderReadme(text: string): Promise<string> {
  const blocks = [...text.matchAll(/<!-- options: ([a-z0-9+]+) -->[\s\S]*?<!-- \/options -->/g)];
  let out = text;
  for (const m of blocks) {
    let printed = "";
    const code = await main(["backends", "--markdown", m[1]!.replace(/\+$/, "")], {
      stdout: (t) => printed += t,
      stderr: () => {},
      isTerminal: false,
    });
    if (code !== 0 || !printed.trim()) throw new Error(`no options table for ${m[1]}`);
    const table = printed.trim().replace(/^<!-- options: [^>]+ -->/, `<!-- options: ${m[1]} -->`);
    out = out.replace(m[0], table);
  }
  return await formatMarkdown(out);
}

/** Markdown as `deno fmt` writes it (tables aligned), so the README stays fmt-clean. */
async function formatMarkdown(text: string): Promise<string> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["fmt", "--ext", "md", "-"],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
    cwd: new URL("..", import.meta.url).pathname,
  }).spawn();
  const writer = child.stdin.getWriter();
  await writer.write(new TextEncoder().encode(text));
  await writer.close();
  const out = await child.output();
  if (!out.success) throw new Error(new TextDecoder().decode(out.stderr));
  return new TextDecoder().decode(out.stdout);
}

if (import.meta.main) {
  const text = await Deno.readTextFile(README);
  await Deno.writeTextFile(README, await renderReadme(text));
  console.log("README option tables regenerated");
}
