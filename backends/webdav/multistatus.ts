/**
 * A small streaming parser for a PROPFIND `multistatus` answer.
 *
 * @module
 */

import { BackendError, ErrorCode } from "../../core/errors.ts";
import { xmlText } from "../../core/xml.ts";
import { safeDecode } from "./paths.ts";

/** One entry of a PROPFIND answer. */
export interface DavEntry {
  /** The last path segment, percent-decoded. */
  name: string;
  /** The whole href path, percent-decoded, without a trailing slash. */
  path: string;
  /** A collection (folder). */
  collection: boolean;
  /** `getcontentlength`, when given. */
  size: number | null;
}

/** A closing `multistatus` tag, whatever its namespace prefix. */
const END = /<\/(?:[A-Za-z_][\w.-]*:)?multistatus\s*>/;

/**
 * Cuts the text at each closing `response` tag, whatever the namespace
 * prefix (`D:`, `d:`, `lp1:`, none), and reads `href`, `resourcetype` and
 * `getcontentlength` from the successful `propstat`s. Memory holds one
 * `response` at a time, not the whole answer.
 */
export class MultistatusParser {
  #decoder = new TextDecoder();
  #buf = "";
  #sawEnd = false;

  /** Feed the next piece of the answer; returns the entries it completed. */
  push(chunk: Uint8Array): DavEntry[] {
    this.#buf += this.#decoder.decode(chunk, { stream: true });
    return this.#drain();
  }

  /**
   * The answer has ended: returns the last entries.
   *
   * @throws {BackendError} Code 50 when the answer never closed its `multistatus`.
   */
  end(): DavEntry[] {
    this.#buf += this.#decoder.decode();
    const out = this.#drain();
    if (!this.#sawEnd && !END.test(this.#buf)) {
      throw new BackendError("the server's PROPFIND answer is incomplete or not a multistatus", {
        code: ErrorCode.backend_error,
      });
    }
    this.#sawEnd = true;
    return out;
  }

  #drain(): DavEntry[] {
    const out: DavEntry[] = [];
    const close = /<\/(?:[A-Za-z_][\w.-]*:)?response\s*>/g;
    let last = 0;
    let m: RegExpExecArray | null;
    while ((m = close.exec(this.#buf)) !== null) {
      const block = this.#buf.slice(last, m.index);
      last = close.lastIndex;
      const entry = parseResponse(block);
      if (entry) out.push(entry);
    }
    if (last > 0) this.#buf = this.#buf.slice(last);
    if (END.test(this.#buf)) this.#sawEnd = true;
    return out;
  }
}

interface XmlNode {
  name: string;
  text: string;
  children: XmlNode[];
}

const TOKEN =
  /<!\[CDATA\[([\s\S]*?)\]\]>|<!--[\s\S]*?-->|<[?!][\s\S]*?>|<(\/?)(?:[A-Za-z_][\w.-]*:)?([A-Za-z_][\w.-]*)((?:[^>"']|"[^"]*"|'[^']*')*?)(\/?)>|([^<]+)/g;

/** Parse the inside of one `response` element (everything before its closing tag). */
function parseResponse(block: string): DavEntry | undefined {
  const open = block.search(
    /<(?:[A-Za-z_][\w.-]*:)?response(?=[\s/>])[^>]*>(?![\s\S]*<(?:[A-Za-z_][\w.-]*:)?response(?=[\s/>]))/,
  );
  if (open === -1) return undefined;
  const root: XmlNode = { name: "response", text: "", children: [] };
  const stack: XmlNode[] = [root];
  TOKEN.lastIndex = 0;
  const body = block.slice(block.indexOf(">", open) + 1);
  let m: RegExpExecArray | null;
  while ((m = TOKEN.exec(body)) !== null) {
    const top = stack[stack.length - 1]!;
    if (m[1] !== undefined) top.text += m[1];
    // Lenient: a careless server's stray `&` stays as it is rather than failing the listing.
    else if (m[6] !== undefined) top.text += xmlText(m[6], { lenient: true });
    else if (m[3] !== undefined) {
      if (m[2] === "/") {
        if (stack.length > 1) stack.pop();
      } else {
        const node: XmlNode = { name: m[3], text: "", children: [] };
        top.children.push(node);
        if (m[5] !== "/") stack.push(node);
      }
    }
  }
  const href = root.children.find((c) => c.name === "href")?.text.trim();
  if (!href) return undefined;
  let collection = false;
  let size: number | null = null;
  for (const ps of root.children.filter((c) => c.name === "propstat")) {
    const status = ps.children.find((c) => c.name === "status")?.text ?? "";
    if (status && !/\s2\d\d(\s|$)/.test(status)) continue;
    for (const prop of ps.children.filter((c) => c.name === "prop")) {
      for (const p of prop.children) {
        if (p.name === "resourcetype" && p.children.some((c) => c.name === "collection")) {
          collection = true;
        }
        if (p.name === "getcontentlength" && /^\s*\d+\s*$/.test(p.text)) {
          size = Number(p.text.trim());
        }
      }
    }
  }
  // An href is a path or an absolute URL; keep the path, never parse it as a URL
  // (a raw `?` or `#` from a careless server must stay part of the name).
  const rawPath = href.replace(/^[A-Za-z][A-Za-z0-9+.-]*:\/\/[^/]*/, "") || "/";
  const trimmed = rawPath.replace(/\/+$/, "");
  const rawName = trimmed.slice(trimmed.lastIndexOf("/") + 1);
  return {
    name: safeDecode(rawName),
    path: safeDecode(trimmed),
    collection: collection || (rawPath.endsWith("/") && rawPath !== trimmed && size === null),
    size,
  };
}
