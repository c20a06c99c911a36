/**
 * PROPFIND requests: listing the folder (`Depth: 1`, never `infinity`, which
 * Apache refuses; a missing folder is code 52), asking about one file
 * (`Depth: 0`), and whether the folder exists; the answer is parsed as it
 * streams in.
 *
 * @module
 */

import type http from "node:http";
import type { OperationContext } from "../../core/backend.ts";
import { abortError } from "../../core/errors.ts";
import type { DavClient } from "./client.ts";
import { toBackendError } from "./error.ts";
import { connectionLost, isSuccess } from "./exchange.ts";
import { type DavEntry, MultistatusParser } from "./multistatus.ts";
import { safeDecode } from "./paths.ts";

const PROPFIND_BODY = '<?xml version="1.0" encoding="utf-8"?>\n' +
  '<D:propfind xmlns:D="DAV:"><D:prop><D:resourcetype/><D:getcontentlength/></D:prop></D:propfind>';
const HEADERS = { "Content-Type": "application/xml; charset=utf-8" };

/**
 * PROPFIND `path` with `depth`; a 404 gives no entries, or code 52 naming
 * the folder when `about.folder` says the folder itself is listed.
 */
export async function propfind(
  dav: DavClient,
  path: string,
  depth: "0" | "1",
  ctx?: OperationContext,
  about: { name?: string; folder?: string } = {},
): Promise<DavEntry[]> {
  const res = await dav.request("PROPFIND", path, {
    headers: { Depth: depth, ...HEADERS },
    body: PROPFIND_BODY,
    ctx,
  });
  if (res.statusCode === 404 && about.folder === undefined) {
    res.resume();
    return [];
  }
  if (res.statusCode !== 207) throw toBackendError(res, "PROPFIND", undefined, about);
  const parser = new MultistatusParser();
  const entries: DavEntry[] = [];
  await readBody(res, ctx, (chunk) => {
    for (const e of parser.push(chunk)) entries.push(e);
  });
  for (const e of parser.end()) entries.push(e);
  return entries;
}

/** The files among `entries`: neither collections nor the folder itself. */
export function filesOf(dav: DavClient, entries: DavEntry[]): DavEntry[] {
  const self = safeDecode(dav.folder.replace(/\/+$/, ""));
  return entries.filter((e) => !e.collection && e.path !== self);
}

/** Whether the folder exists (PROPFIND `Depth: 0`, the answer not parsed). */
export async function folderExists(dav: DavClient, ctx?: OperationContext): Promise<boolean> {
  const res = await dav.request("PROPFIND", dav.folder, {
    headers: { Depth: "0", ...HEADERS },
    body: PROPFIND_BODY,
    ctx,
  });
  res.resume();
  if (res.statusCode === 404) return false;
  if (res.statusCode !== 207 && !isSuccess(res.statusCode)) throw toBackendError(res, "PROPFIND");
  return true;
}

/** Read a response body chunk by chunk, reporting progress; checks it arrived whole. */
function readBody(
  res: http.IncomingMessage,
  ctx: OperationContext | undefined,
  onChunk: (chunk: Uint8Array) => void,
): Promise<void> {
  return new Promise((resolve, reject) => {
    let done = false;
    const finish = (err?: unknown) => {
      if (done) return;
      done = true;
      if (err) reject(err);
      else resolve();
    };
    res.on("data", (chunk: Uint8Array) => {
      ctx?.progress();
      try {
        onChunk(chunk);
      } catch (err) {
        res.destroy();
        finish(err);
      }
    });
    res.on("end", () => {
      if (!res.complete) finish(connectionLost());
      else finish();
    });
    res.on("error", (err) => finish(err));
    res.on("close", () => finish(ctx?.signal.aborted ? abortError(ctx.signal) : connectionLost()));
  });
}
