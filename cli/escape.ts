/**
 * Safe terminal text: names and URLs echoed to a person have their control
 * characters shown escaped (like `ls -b` and rclone), so a hostile file name
 * cannot move the cursor, recolour the screen or fake a second line. JSON
 * output stays exact and never goes through this.
 *
 * @module
 */

const NAMED: Readonly<Record<string, string>> = {
  "\n": "\\n",
  "\r": "\\r",
  "\t": "\\t",
  "\\": "\\\\",
};

/**
 * `text` with C0/C1 control characters, DEL and the Unicode bidi controls
 * written as escapes (`\n`, `\x1b`, `\u202e`); a backslash is doubled so the
 * escapes cannot be forged.
 *
 * @example
 * ```ts
 * import { escapeText } from "./escape.ts";
 * console.log(escapeText("evil\x1b[2Jname\n")); // evil\x1b[2Jname\n
 * ```
 */
export function escapeText(text: string): string {
  // deno-lint-ignore no-control-regex -- matching control characters is the point
  return text.replace(/[\x00-\x1f\x7f-\x9f\\\u202a-\u202e\u2066-\u2069]/g, (c) => {
    const named = NAMED[c];
    if (named) return named;
    const code = c.charCodeAt(0);
    return code <= 0xff
      ? `\\x${code.toString(16).padStart(2, "0")}`
      : `\\u${code.toString(16).padStart(4, "0")}`;
  });
}

/** Like {@linkcode escapeText}, but a backslash stays single: for messages, where paths are common. */
export function escapeMessage(text: string): string {
  // deno-lint-ignore no-control-regex -- matching control characters is the point
  return text.replace(/[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]/g, (c) => escapeText(c));
}
