/**
 * Deletes: DeleteObject for one name, DeleteObjects in batches of 1000 for
 * many (per-key failures reported, missing keys fine), falling back to
 * single deletes for good when the store answers NotImplemented (as older
 * Google Cloud Storage does). DeleteObjects always carries a Content-MD5:
 * S3 requires a body checksum there, and older S3-compatible stores (Ceph)
 * accept no other.
 *
 * @module
 */

import type { OperationContext } from "../../core/backend.ts";
import { eachLimited } from "../../core/concurrency.ts";
import { BackendError, ErrorCode } from "../../core/errors.ts";
import { xmlText } from "../../core/xml.ts";
import { isNotImplemented } from "./error.ts";
import { escapeXml, md5Of } from "./multipart.ts";
import type { S3Transport } from "./transport.ts";

/** Keys per DeleteObjects request (S3's limit). */
const DELETE_BATCH = 1000;

/** Deletes for one bucket; remembers whether the store has DeleteObjects. */
export class S3Deleter {
  readonly #t: S3Transport;
  readonly #concurrency: number;
  #bulk: boolean;

  /** `bulk`: try DeleteObjects; `concurrency`: single deletes in flight at once. */
  constructor(t: S3Transport, bulk: boolean, concurrency: number) {
    this.#t = t;
    this.#bulk = bulk;
    this.#concurrency = concurrency;
  }

  /** One DeleteObject (idempotent: a missing key is fine). */
  async deleteOne(name: string, ctx?: OperationContext): Promise<void> {
    await this.#t.ready(ctx);
    await this.#deleteOne(name, ctx);
  }

  /** Delete many names: DeleteObjects in batches, the rest one by one. */
  async deleteMany(names: string[], ctx?: OperationContext): Promise<void> {
    await this.#t.ready(ctx);
    // One name is one DeleteObject; so are names with leading or trailing white space, which
    // some S3-compatible servers (s3rver among them) trim from a DeleteObjects XML body.
    const alone = names.length === 1 ? [...names] : names.filter((n) => n.trim() !== n);
    const bulk = names.length === 1 ? [] : names.filter((n) => n.trim() === n);
    for (let i = 0; i < bulk.length; i += DELETE_BATCH) {
      const batch = bulk.slice(i, i + DELETE_BATCH);
      if (this.#bulk) {
        try {
          await this.#deleteBatch(batch, ctx);
          continue;
        } catch (err) {
          if (!isNotImplemented(err)) throw err;
          this.#bulk = false; // the store has no DeleteObjects: delete one by one from now on
        }
      }
      alone.push(...batch);
    }
    await eachLimited(alone, this.#concurrency, async (name) => {
      await this.#deleteOne(name, ctx);
      ctx?.progress();
    });
  }

  async #deleteOne(name: string, ctx?: OperationContext): Promise<void> {
    await this.#t.request({ method: "DELETE", key: this.#t.key(name) }, ctx, [404]);
  }

  async #deleteBatch(batch: string[], ctx?: OperationContext): Promise<void> {
    const t = this.#t;
    let xml = '<Delete xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Quiet>true</Quiet>';
    for (const name of batch) xml += `<Object><Key>${escapeXml(t.key(name))}</Key></Object>`;
    const body = new TextEncoder().encode(`${xml}</Delete>`);
    const answer = await t.request({
      method: "POST",
      query: [["delete", ""]],
      headers: {
        "content-type": "application/xml",
        "content-md5": await md5Of(body),
      },
      body,
    }, ctx);
    ctx?.progress();
    const errors = parseErrors(new TextDecoder().decode(answer.body))
      .filter((e) => e.Code !== "NoSuchKey");
    if (errors.length === 0) return;
    const shown = errors.slice(0, 3).map((e) =>
      `"${(e.Key ?? "?").slice(t.prefix.length)}" (${e.Code ?? "error"}${
        e.Message ? `: ${e.Message}` : ""
      })`
    );
    const more = errors.length > 3 ? ` and ${errors.length - 3} more` : "";
    const denied = errors.every((e) => e.Code === "AccessDenied");
    throw new BackendError(
      `${errors.length} of ${batch.length} deletes failed: ${shown.join(", ")}${more}`,
      { code: denied ? ErrorCode.backend_permission_denied : ErrorCode.backend_error },
    );
  }
}

/** One failed key of a DeleteObjects answer. */
interface DeleteError {
  Key?: string;
  Code?: string;
  Message?: string;
}

/** The `<Error>` elements of a DeleteObjects answer. */
function parseErrors(xml: string): DeleteError[] {
  const out: DeleteError[] = [];
  for (const m of xml.matchAll(/<Error>([\s\S]*?)<\/Error>/g)) {
    const field = (name: string) => {
      const f = new RegExp(`<${name}>([\\s\\S]*?)</${name}>`).exec(m[1]!);
      return f ? xmlText(f[1]!, { lenient: true }) : undefined;
    };
    const e: DeleteError = {};
    const key = field("Key");
    const code = field("Code");
    const message = field("Message");
    if (key !== undefined) e.Key = key;
    if (code !== undefined) e.Code = code;
    if (message !== undefined) e.Message = message;
    out.push(e);
  }
  return out;
}
