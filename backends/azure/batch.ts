/**
 * Blob Batch deletes, sent by the backend itself (no SDK): one container
 * batch request (`POST ?restype=container&comp=batch`) whose
 * `multipart/mixed` body holds up to 256 `DELETE` sub-requests, each
 * authorised by the SAS in its URL (a container SAS with delete permission,
 * signed locally, or the token given). The answer's parts give each
 * sub-request's status, in `Content-ID` order. Through `fetch`, so the
 * operation's signal (timeout, Ctrl-C) ends it at once.
 *
 * @module
 */

import type { AzureTransport } from "./transport.ts";

/** One sub-request's answer. */
export interface BatchAnswer {
  /** The HTTP status of the DELETE. */
  status: number;
  /** Its `x-ms-error-code`, if any. */
  errorCode?: string;
  /** Its headers, lower-cased. */
  headers: Record<string, string>;
}

/**
 * Delete `names` in one batch request. Resolves with one answer per name
 * (`undefined` for one the server did not answer), or `false` when the
 * server refused the batch as a whole with `status` (the caller decides
 * whether to fall back); other failures throw as `t.request` does.
 */
export async function deleteBatch(
  t: AzureTransport,
  names: string[],
  snapshots: boolean,
  signal: AbortSignal | undefined,
): Promise<(BatchAnswer | undefined)[] | { refused: number }> {
  const url = new URL(await t.containerUrl("restype=container&comp=batch", "d"));
  const sas = url.search.replace(/^\?/, "").split("&")
    .filter((p) => !/^(restype|comp)=/.test(p)).join("&");
  const base = `${url.pathname.replace(/\/+$/, "")}/`;
  const boundary = `batch_${crypto.randomUUID()}`;
  let body = "";
  names.forEach((name, i) => {
    const target = `${base}${t.escapedPath(name)}?${sas}`;
    body +=
      `--${boundary}\r\nContent-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n` +
      `Content-ID: ${i}\r\n\r\nDELETE ${target} HTTP/1.1\r\n` +
      (snapshots ? "x-ms-delete-snapshots: include\r\n" : "") +
      "Content-Length: 0\r\n\r\n";
  });
  body += `--${boundary}--\r\n`;
  const res = await t.request(
    "POST",
    url.href,
    { "content-type": `multipart/mixed; boundary=${boundary}` },
    signal,
    [400, 403, 404, 405, 501],
    new TextEncoder().encode(body),
  );
  if (res.status !== 202) {
    await res.body?.cancel().catch(() => {});
    return { refused: res.status };
  }
  const type = res.headers.get("content-type") ?? "";
  const text = await res.text();
  return parseAnswers(text, /boundary=("?)([^";]+)\1/.exec(type)?.[2] ?? "", names.length);
}

/** The sub-answers of a batch answer body, by Content-ID. */
function parseAnswers(text: string, boundary: string, count: number): (BatchAnswer | undefined)[] {
  const out: (BatchAnswer | undefined)[] = new Array(count).fill(undefined);
  if (!boundary) return out;
  const parts = text.split(`--${boundary}--`)[0]!.split(`--${boundary}\r\n`).slice(1);
  for (const part of parts) {
    const lines = part.split("\r\n");
    let id = -1;
    let at = 0;
    for (; at < lines.length; at++) {
      const line = lines[at]!;
      const m = /^Content-ID:\s*(\d+)/i.exec(line);
      if (m) id = Number(m[1]);
      if (line.startsWith("HTTP/1.")) break;
    }
    const status = Number(lines[at]?.split(" ")[1]);
    if (!Number.isInteger(status) || id < 0 || id >= count || out[id]) continue;
    const headers: Record<string, string> = {};
    for (at++; at < lines.length && lines[at] !== ""; at++) {
      const colon = lines[at]!.indexOf(":");
      if (colon > 0) {
        headers[lines[at]!.slice(0, colon).trim().toLowerCase()] = lines[at]!.slice(colon + 1)
          .trim();
      }
    }
    const errorCode = headers["x-ms-error-code"];
    out[id] = { status, headers, ...(errorCode ? { errorCode } : {}) };
  }
  return out;
}
