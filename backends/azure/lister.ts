/**
 * Listings: List Blobs with the `/` delimiter, `pageSize` names a page,
 * through `fetch`; only the direct children of the prefix (`<Blob>`
 * entries, not `<BlobPrefix>` ones). A folder (prefix) that holds nothing
 * lists as empty, as on every object store; a container that does not
 * exist is code 52 naming it (the first put creates it).
 *
 * @module
 */

import type { OperationContext } from "../../core/backend.ts";
import { BackendError, ErrorCode } from "../../core/errors.ts";
import { xmlText } from "../../core/xml.ts";
import type { AzureTransport } from "./transport.ts";

/** The names directly under the prefix, every page; code 52 for a missing container. */
export async function listBlobs(
  t: AzureTransport,
  pageSize: number,
  ctx?: OperationContext,
): Promise<string[]> {
  const prefix = t.prefix;
  const names: string[] = [];
  let marker: string | undefined;
  for (let page = 0;; page++) {
    const query = [
      "restype=container",
      "comp=list",
      "delimiter=%2F",
      `maxresults=${pageSize}`,
      ...(prefix ? [`prefix=${encodeURIComponent(prefix)}`] : []),
      ...(marker ? [`marker=${encodeURIComponent(marker)}`] : []),
    ].join("&");
    const xml = await t.fetchText(await t.containerUrl(query), ctx);
    if (xml === undefined) {
      if (page === 0) {
        throw new BackendError(`the container "${t.container}" does not exist`, {
          code: ErrorCode.backend_not_found,
        });
      }
      throw new BackendError("the container disappeared during the listing", {
        code: ErrorCode.backend_error,
      });
    }
    for (const name of blobNames(xml)) {
      const rest = name.slice(prefix.length);
      if (name.startsWith(prefix) && rest !== "" && !rest.includes("/")) names.push(rest);
    }
    ctx?.progress();
    const next = xmlText(/<NextMarker>([^<]*)<\/NextMarker>/.exec(xml)?.[1] ?? "");
    if (!next) return names;
    if (next === marker) {
      throw new BackendError("the server repeated a listing page", {
        code: ErrorCode.backend_error,
      });
    }
    marker = next;
  }
}

/** The names of the `<Blob>` entries of a List Blobs answer (not the `<BlobPrefix>` ones). */
function blobNames(xml: string): string[] {
  const out: string[] = [];
  for (const m of xml.matchAll(/<Blob>([\s\S]*?)<\/Blob>/g)) {
    const n = /<Name( Encoded="true")?>([^<]*)<\/Name>/.exec(m[1]!);
    if (!n) continue;
    const text = xmlText(n[2]!);
    // Names with characters XML cannot carry come percent-encoded.
    out.push(n[1] ? decodeURIComponent(text) : text);
  }
  return out;
}
