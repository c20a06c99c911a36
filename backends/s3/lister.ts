/**
 * Listings: every page of ListObjectsV2 under the prefix, the direct
 * children only. The SDK signs and sends each request; the answer is parsed
 * here (Key, IsTruncated, NextContinuationToken, with XML entities and
 * character references decoded by core/xml.ts) rather than by the SDK's
 * generic XML parser, which took most of the client's time per page.
 *
 * @module
 */

import { ListObjectsV2Command, type S3Client } from "@aws-sdk/client-s3";
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
 * The names directly under the prefix. Before the bucket was checked, the
 * first page doubles as the check: only when it fails with not-found does
 * the HeadBucket check run (for its clear error, or to create the bucket),
 * and the listing is tried again.
 */
export async function listFolder(
  t: S3Transport,
  pageSize: number,
  ctx?: OperationContext,
): Promise<string[]> {
  if (t.bucketChecked) return listAll(t, await t.reader(ctx), pageSize, ctx);
  try {
    const names = await listAll(t, t.fetchClient(), pageSize, ctx);
    t.markBucketChecked();
    return names;
  } catch (err) {
    if (!(err instanceof BackendError && err.code === ErrorCode.backend_not_found)) throw err;
    return listAll(t, await t.reader(ctx), pageSize, ctx);
  }
}

/** Every page of ListObjectsV2 under the prefix, through `client`. */
async function listAll(
  t: S3Transport,
  client: S3Client,
  pageSize: number,
  ctx?: OperationContext,
): Promise<string[]> {
  const names: string[] = [];
  const prefix = t.prefix;
  let token: string | undefined;
  const seen = new Set<string>();
  // Bounded by the store's pagination; a repeated token would loop forever, so it is an error.
  while (true) {
    const command = new ListObjectsV2Command({
      Bucket: t.bucket,
      Prefix: prefix,
      Delimiter: "/",
      MaxKeys: pageSize,
      ...(token ? { ContinuationToken: token } : {}),
    });
    let page: ListPage | undefined;
    // Innermost: sees the raw answer before the SDK's deserializer. A 2xx body is parsed
    // here and replaced by an empty one; error answers go on to the SDK untouched.
    command.middlewareStack.add(
      (next) => async (args) => {
        const out = await next(args);
        const res = out.response as { statusCode?: number; body?: unknown };
        if (res.statusCode !== undefined && res.statusCode >= 200 && res.statusCode < 300) {
          page = parseListPage(await new Response(res.body as BodyInit).text());
          res.body = new Uint8Array(0);
        }
        return out;
      },
      { step: "deserialize", priority: "low", name: "stowageListPage" },
    );
    await t.send((o) => client.send(command, o), ctx);
    if (!page) {
      throw new BackendError("the store's listing answer was not parsed", {
        code: ErrorCode.backend_code_error,
      });
    }
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
