/**
 * Reading HTTP/1.1 answers from a connection, for `Http1Client`:
 * the status line, headers, and a body by Content-Length, chunked, or up to
 * the end (none for 204, 304 and HEAD).
 *
 * @module
 */

import { BackendError, ErrorCode } from "./errors.ts";

/** An answer read in full: its body is small (bounded by `maxAnswerBytes`). */
export interface Http1Answer {
  /** The status code (never 1xx: interim answers are skipped). */
  status: number;
  /** The reason phrase ("" when none). */
  reason: string;
  /** Header names in lower case; repeated headers joined with `, `. */
  headers: Record<string, string>;
  /** The answer body. */
  body: Uint8Array;
}

/** An answer and whether its connection may carry another request. */
export interface RawAnswer extends Http1Answer {
  /** The connection may carry another request. */
  keepAlive: boolean;
}

/** Read one HTTP/1.1 answer (skipping 1xx interim answers), its body in full. */
export async function readAnswer(
  reader: ConnReader,
  max: number,
  method = "GET",
): Promise<RawAnswer> {
  while (true) {
    const m = /^HTTP\/1\.([01]) (\d{3})(?: (.*))?/.exec(await reader.line());
    if (!m) throw answerError("is not HTTP/1.x");
    const headers: Record<string, string> = {};
    for (let i = 0;; i++) {
      const line = await reader.line();
      if (line === "") break;
      if (i > 200) throw answerError("has too many headers");
      const colon = line.indexOf(":");
      if (colon <= 0) continue;
      const k = line.slice(0, colon).trim().toLowerCase();
      const v = line.slice(colon + 1).trim();
      headers[k] = k in headers ? `${headers[k]}, ${v}` : v;
    }
    const status = Number(m[2]);
    if (status >= 100 && status < 200) continue; // 100 Continue and friends
    const connection = (headers["connection"] ?? "").toLowerCase();
    let keepAlive = m[1] === "1"
      ? !connection.includes("close")
      : connection.includes("keep-alive");
    let body: Uint8Array;
    if (status === 204 || status === 304 || method === "HEAD") {
      // These answers have no body, whatever their headers say.
      body = new Uint8Array(0);
    } else if (/chunked/i.test(headers["transfer-encoding"] ?? "")) {
      const parts: Uint8Array[] = [];
      let total = 0;
      while (true) {
        const size = parseInt((await reader.line()).split(";")[0]!.trim(), 16);
        if (!Number.isFinite(size) || size < 0 || total + size > max) {
          throw answerError("has a bad chunk");
        }
        if (size === 0) {
          while ((await reader.line()) !== ""); // trailers
          break;
        }
        parts.push(await reader.exact(size));
        total += size;
        await reader.line();
      }
      body = concat(parts, total);
    } else if (headers["content-length"] !== undefined) {
      const length = Number(headers["content-length"]);
      if (!Number.isSafeInteger(length) || length < 0 || length > max) {
        throw answerError("has a bad Content-Length");
      }
      body = await reader.exact(length);
    } else {
      body = await reader.rest();
      keepAlive = false;
    }
    return { status, reason: m[3] ?? "", headers, body, keepAlive };
  }
}

/** Buffered reads from a connection: lines, exact byte counts, or everything up to the end. */
export class ConnReader {
  readonly #conn: Deno.Conn;
  readonly #max: number;
  readonly #chunk = new Uint8Array(16 * 1024);
  #buf = new Uint8Array(0);
  #eof = false;
  /** Bytes received so far. */
  received = 0;

  constructor(conn: Deno.Conn, max: number) {
    this.#conn = conn;
    this.#max = max;
  }

  /** One line without its CRLF (or LF). */
  async line(): Promise<string> {
    while (true) {
      const at = this.#buf.indexOf(10);
      if (at !== -1) {
        const end = at > 0 && this.#buf[at - 1] === 13 ? at - 1 : at;
        const text = new TextDecoder().decode(this.#buf.subarray(0, end));
        this.#buf = this.#buf.subarray(at + 1);
        return text;
      }
      if (this.#buf.length > 64 * 1024) throw answerError("has an overlong line");
      await this.#more();
    }
  }

  /** Exactly `n` bytes. */
  async exact(n: number): Promise<Uint8Array> {
    while (this.#buf.length < n) await this.#more();
    const out = this.#buf.slice(0, n);
    this.#buf = this.#buf.subarray(n);
    return out;
  }

  /** Everything until the server closes, at most the answer bound. */
  async rest(): Promise<Uint8Array> {
    while (!this.#eof && this.#buf.length <= this.#max) await this.#more();
    const out = this.#buf.slice(0, this.#max);
    this.#buf = new Uint8Array(0);
    return out;
  }

  async #more(): Promise<void> {
    if (this.#eof) {
      throw new BackendError("the server closed the connection before it answered", {
        code: ErrorCode.connection_failed,
      });
    }
    const n = await this.#conn.read(this.#chunk);
    if (n === null) {
      this.#eof = true;
      return;
    }
    this.received += n;
    this.#buf = concat([this.#buf, this.#chunk.subarray(0, n)], this.#buf.length + n);
  }
}

/** A code-38 error about the server's answer. */
export function answerError(what: string): BackendError {
  return new BackendError(`the server's answer ${what}`, { code: ErrorCode.connection_failed });
}

/** The bytes of `parts` (together `total` long) in one array. */
function concat(parts: Uint8Array[], total: number): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(total);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
