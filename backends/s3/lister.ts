/**
 * Listings: every page of ListObjectsV2 under the prefix, the direct
 * children only, parsed here (Key, IsTruncated, NextContinuationToken, with
 * XML entities and character references decoded by core/xml.ts).
 *
 * @module
 */

import type { OperationContext } from "../../core/backend.ts";
import { BackendError, ErrorCode } from "../../core/errors.ts";
import { xmlText } from "../../core/xml.ts";
import type { S3Transport } from "./transport.ts";

/** What stowage needs from one ListObjectsV2 answer. */
interface ListPage {
  /** The objects' keys (prefix included), decoded. */
  keys: string[];
  /** Whether more pages follow. */
  truncated: boolean;
  /** The token for the next page. */
  token: string | undefined;
}

/**
 * The names directly under the prefix; a prefix that holds nothing lists
 * empty. Before the bucket was checked, the first page doubles as the
 * check: only when it fails with not-found does the HeadBucket check run
 * (for its clear error, or to create the bucket), and the listing is tried
 * again.
 */
export async function listFolder(
  t: S3Transport,
  pageSize: number,
  ctx?: OperationContext,
): Promise<string[]> {
  if (t.bucketChecked) return await listAll(t, pageSize, ctx);
  try {
    const names = await listAll(t, pageSize, ctx);
    t.markBucketChecked();
    return names;
  } catch (err) {
    if (!(err instanceof BackendError && err.code === ErrorCode.backend_not_found)) throw err;
    await t.ready(ctx);
    return await listAll(t, pageSize, ctx);
  }
}

/** Every page of ListObjectsV2 under the prefix. */
async function listAll(
  t: S3Transport,
  pageSize: number,
  ctx?: OperationContext,
): Promise<string[]> {
  const names: string[] = [];
  const prefix = t.prefix;
  let token: string | undefined;
  const seen = new Set<string>();
  const decoder = new TextDecoder();
  // Bounded by the store's pagination; a repeated token would loop forever, so it is an error.
  while (true) {
    const query: [string, string][] = [
      ["list-type", "2"],
      ["prefix", prefix],
      ["delimiter", "/"],
      ["max-keys", String(pageSize)],
    ];
    if (token) query.push(["continuation-token", token]);
    const answer = await t.request({ method: "GET", query }, ctx);
    const page = parseListPage(decoder.decode(answer.body));
    ctx?.progress();
    for (const key of page.keys) {
      if (!key.startsWith(prefix)) continue;
      // A zero-length "folder marker" or a deeper key is not a file of this folder.
      if (key.length > prefix.length && key.indexOf("/", prefix.length) === -1) {
        names.push(key.slice(prefix.length));
      }
    }
    if (!page.truncated) return names;
    token = page.token;
    if (!token || seen.has(token)) {
      throw new BackendError(
        "the store's listing is truncated but gives no new continuation token",
        { code: ErrorCode.backend_code_error },
      );
    }
    seen.add(token);
  }
}

/** XML text content: plain characters, entity and character references, CDATA sections. */
const XML_TEXT = String.raw`(?:[^<]|<!\[CDATA\[[\s\S]*?\]\]>)*`;
const XML_CONTENTS = new RegExp(
  String.raw`<Contents(?:\s[^>]*)?>[\s\S]*?<Key>(${XML_TEXT})</Key>[\s\S]*?</Contents>`,
  "g",
);
const XML_TRUNCATED = new RegExp(String.raw`<IsTruncated>(${XML_TEXT})</IsTruncated>`);
const XML_TOKEN = new RegExp(
  String.raw`<NextContinuationToken>(${XML_TEXT})</NextContinuationToken>`,
);

/**
 * Parse a ListObjectsV2 answer: the Key of every Contents element,
 * IsTruncated and NextContinuationToken. Only these leaf elements are read
 * (S3 puts nothing nested in them), so a few regular expressions suffice.
 */
function parseListPage(xml: string): ListPage {
  const keys: string[] = [];
  XML_CONTENTS.lastIndex = 0;
  for (let m = XML_CONTENTS.exec(xml); m !== null; m = XML_CONTENTS.exec(xml)) {
    keys.push(xmlText(m[1]!));
  }
  const truncated = XML_TRUNCATED.exec(xml);
  const token = XML_TOKEN.exec(xml);
  return {
    keys,
    truncated: truncated !== null && xmlText(truncated[1]!).trim() === "true",
    token: token ? xmlText(token[1]!) : undefined,
  };
}
