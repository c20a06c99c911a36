/**
 * GET a file into a local path: through Deno's fetch when certificates are
 * checked (it moves bodies fastest, with the least garbage), else, and
 * after a redirect, through `node:http`. The body streams to disk (memory
 * stays flat whatever the size) and its length is checked against
 * `Content-Length`.
 *
 * @module
 */

import { Readable } from "node:stream";
import type http from "node:http";
import type { OperationContext } from "../../core/backend.ts";
import { abortError } from "../../core/errors.ts";
import type { DavClient } from "./client.ts";
import { toBackendError } from "./error.ts";
import { connectionLost } from "./exchange.ts";

/** How often a download through fetch reports progress (the file's growing size), in ms. */
const PROGRESS_MS = 250;

/** GET `name` from the folder into `localPath`. */
export async function download(
  dav: DavClient,
  name: string,
  localPath: string,
  ctx?: OperationContext,
): Promise<void> {
  const path = dav.pathOf(name);
  // fetch cannot skip certificate checks; redirects are left to request (which also
  // learns where the folder moved).
  const fetched = dav.insecure ? undefined : await dav.fetch("GET", path, {}, ctx);
  if (fetched?.status === 200) return await saveResponse(fetched, localPath, ctx);
  if (fetched) {
    await fetched.body?.cancel().catch(() => {});
    throw toBackendError(fetched, "GET", undefined, { name });
  }
  const res = await dav.request("GET", path, { ctx });
  if (res.statusCode !== 200) throw toBackendError(res, "GET", undefined, { name });
  await saveBody(res, localPath, ctx);
}

/** Stream a fetch answer into a local file; checks the length against Content-Length. */
async function saveResponse(
  res: Response,
  localPath: string,
  ctx?: OperationContext,
): Promise<void> {
  const header = res.headers.get("content-length");
  const expected = header !== null && /^\d+$/.test(header) ? Number(header) : undefined;
  let file: Deno.FsFile;
  try {
    file = await Deno.open(localPath, { write: true, create: true, truncate: true });
  } catch (err) {
    await res.body?.cancel().catch(() => {});
    throw err;
  }
  // A plain pipeTo lets Deno copy between its own resources without a JS hop per
  // chunk (the fastest and leanest path); progress comes from the file's growing size.
  let reported = 0;
  const report = () => {
    let size = reported;
    try {
      size = Deno.statSync(localPath).size;
    } catch {
      // not there yet
    }
    if (size > reported) {
      ctx?.progress(size - reported);
      reported = size;
    }
  };
  const ticker = ctx ? setInterval(report, PROGRESS_MS) : undefined;
  try {
    if (res.body) await res.body.pipeTo(file.writable);
    else file.close();
  } catch (err) {
    if (ctx?.signal.aborted) throw abortError(ctx.signal);
    if (isLocalFileError(err)) throw err;
    report();
    throw connectionLost(`got ${reported} of ${expected ?? "?"} bytes`);
  } finally {
    clearInterval(ticker);
  }
  report();
  const received = (await Deno.stat(localPath)).size;
  if (expected !== undefined && received !== expected) {
    throw connectionLost(`got ${received} of ${expected} bytes`);
  }
}

/**
 * Stream a `node:http` answer into a local file (web streams into Deno's own
 * file writer: under Deno this holds less garbage than `pipe()` into an fs
 * write stream); checks the length against Content-Length.
 */
async function saveBody(
  res: http.IncomingMessage,
  localPath: string,
  ctx?: OperationContext,
): Promise<void> {
  const header = res.headers["content-length"];
  const expected = header !== undefined && /^\d+$/.test(header) ? Number(header) : undefined;
  let received = 0;
  const file = await Deno.open(localPath, { write: true, create: true, truncate: true });
  const counter = new TransformStream<Uint8Array, Uint8Array>({
    transform(chunk, controller) {
      received += chunk.length;
      ctx?.progress(chunk.length);
      controller.enqueue(chunk);
    },
  });
  try {
    await (Readable.toWeb(res) as ReadableStream<Uint8Array>).pipeThrough(counter).pipeTo(
      file.writable,
    );
  } catch (err) {
    res.destroy();
    if (ctx?.signal.aborted) throw abortError(ctx.signal);
    if (isLocalFileError(err)) throw err;
    throw connectionLost(`got ${received} of ${expected ?? "?"} bytes`);
  }
  if (!res.complete || (expected !== undefined && received !== expected)) {
    throw connectionLost(`got ${received} of ${expected ?? "?"} bytes`);
  }
}

/** Whether a failed transfer failed on the local file (no space, no permission), not the network. */
function isLocalFileError(err: unknown): boolean {
  if (err instanceof Deno.errors.ConnectionReset || err instanceof Deno.errors.BrokenPipe) {
    return false;
  }
  if (Object.values(Deno.errors).some((c) => err instanceof c)) return true;
  const code = (err as { code?: unknown })?.code;
  return typeof code === "string" && /^E(NOSPC|DQUOT|ACCES|PERM|ROFS|NOENT|IO|ISDIR)$/.test(code);
}
