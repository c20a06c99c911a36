/**
 * XML text content decoding for backends that read small XML answers with
 * regular expressions (listings, error messages).
 *
 * @example
 * ```ts
 * import { xmlText } from "./xml.ts";
 *
 * xmlText("a &amp; b &#x1F600; <![CDATA[<raw>]]>"); // "a & b 😀 <raw>"
 * ```
 *
 * @module
 */

import { BackendError, ErrorCode } from "./errors.ts";

const XML_REFERENCE = /<!\[CDATA\[([\s\S]*?)\]\]>|&(#x[0-9a-fA-F]+|#[0-9]+|[A-Za-z]+);|[&<]/g;
const XML_ENTITIES: Readonly<Record<string, string>> = {
  amp: "&",
  lt: "<",
  gt: ">",
  quot: '"',
  apos: "'",
};

/** Options for {@linkcode xmlText}. */
export interface XmlTextOptions {
  /**
   * Keep a malformed or unknown reference, a bare `&` or `<`, or a character
   * reference outside Unicode as it is, instead of throwing (for answers from
   * careless servers, where one odd name must not fail a whole listing).
   * Default `false`.
   */
  lenient?: boolean;
}

/**
 * Decode XML text content: `&amp;` `&lt;` `&gt;` `&quot;` `&apos;`, decimal
 * and hexadecimal character references (`&#13;`, `&#x1F600;`), and CDATA
 * sections; anything else is kept as it is, white space included.
 *
 * @param raw The text between a start and an end tag, as received.
 * @param options `lenient: true` keeps what cannot be decoded as it is.
 * @returns The decoded text.
 * @throws {BackendError} Code 55 (`backend_code_error`) on a malformed or
 * unknown reference, a bare `&` or `<`, or a character reference outside
 * Unicode (zero, a surrogate, above U+10FFFF); never when `lenient`.
 *
 * @example
 * ```ts
 * import { xmlText } from "./xml.ts";
 *
 * xmlText("Q&amp;A &nbsp; & more", { lenient: true }); // "Q&A &nbsp; & more"
 * ```
 */
export function xmlText(raw: string, options: XmlTextOptions = {}): string {
  if (raw.indexOf("&") === -1 && raw.indexOf("<") === -1) return raw;
  return raw.replace(XML_REFERENCE, (all, cdata: string | undefined, ref: string | undefined) => {
    if (cdata !== undefined) return cdata;
    if (ref !== undefined) {
      if (ref[0] !== "#") {
        const text = XML_ENTITIES[ref];
        if (text !== undefined) return text;
      } else {
        const code = ref[1] === "x" ? parseInt(ref.slice(2), 16) : parseInt(ref.slice(1), 10);
        if (code > 0 && code <= 0x10ffff && !(code >= 0xd800 && code <= 0xdfff)) {
          return String.fromCodePoint(code);
        }
      }
    }
    if (options.lenient) return all;
    throw new BackendError(`the store's answer holds malformed XML text near "${all}"`, {
      code: ErrorCode.backend_code_error,
    });
  });
}
