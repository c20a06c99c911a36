/**
 * The HTTP pieces transport.ts sends and reads with: the reused upload
 * buffers, an answer's headers and (bounded) error text, and the first line
 * a server that does not speak HTTP says, for the error message.
 *
 * @module
 */

import { BufferPool } from "../../core/buffer_pool.ts";

/** The most of an error answer read for its message. */
const MAX_ERROR_BYTES = 64 * 1024;

/**
 * Reused 256 KiB file buffers: uploads (through Http1Client) and part
 * hashing read through these, so they make no garbage.
 */
export const uploadBuffers: BufferPool = new BufferPool(256 * 1024);

/** The first line a server sends unasked (SSH, FTP and SMTP servers do), within `ms`. */
export async function greeting(
  hostname: string,
  port: number,
  ms: number,
): Promise<string | undefined> {
  let conn: Deno.Conn | undefined;
  const timer = setTimeout(() => {
    try {
      conn?.close();
    } catch {
      // closed already
    }
  }, ms);
  try {
    conn = await Deno.connect({ hostname, port, signal: AbortSignal.timeout(ms) });
    const buf = new Uint8Array(200);
    const n = await conn.read(buf);
    const line = n ? new TextDecoder().decode(buf.subarray(0, n)).split(/\r?\n/)[0]!.trim() : "";
    return line || undefined;
  } catch {
    return undefined;
  } finally {
    clearTimeout(timer);
    try {
      conn?.close();
    } catch {
      // closed by the timer
    }
  }
}

/** The headers of a fetch answer, names in lower case. */
export function headersOf(res: Response): Record<string, string> {
  const out: Record<string, string> = {};
  res.headers.forEach((v, k) => out[k] = v);
  return out;
}

/** At most {@linkcode MAX_ERROR_BYTES} of an answer's body as text; the rest is not read. */
export async function boundedText(res: Response): Promise<string> {
  if (!res.body) return "";
  const reader = res.body.getReader();
  const parts: Uint8Array[] = [];
  let size = 0;
  try {
    while (size < MAX_ERROR_BYTES) {
      const r = await reader.read();
      if (r.done) break;
      parts.push(r.value);
      size += r.value.byteLength;
    }
  } catch {
    // a cut-off error answer still has its status
  } finally {
    reader.cancel().catch(() => {});
  }
  return decodeText(new Uint8Array(await new Blob(parts as BlobPart[]).arrayBuffer()));
}

/** An answer's body as text, at most {@linkcode MAX_ERROR_BYTES} of it. */
export function decodeText(bytes: Uint8Array): string {
  return new TextDecoder().decode(bytes.subarray(0, MAX_ERROR_BYTES));
}
