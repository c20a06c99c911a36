/**
 * Deletes: DeleteObject for one name, DeleteObjects in batches of 1000 for
 * many (per-key failures reported, missing keys fine), falling back to
 * single deletes for good when the store answers NotImplemented (as older
 * Google Cloud Storage does).
 *
 * @module
 */

import { DeleteObjectCommand, DeleteObjectsCommand, type S3Client } from "@aws-sdk/client-s3";
import type { OperationContext } from "../../core/backend.ts";
import { eachLimited } from "../../core/concurrency.ts";
import { BackendError, ErrorCode } from "../../core/errors.ts";
import { isNotImplemented } from "./error.ts";
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
    await this.#deleteOne(await this.#t.reader(ctx), name, ctx);
  }

  /** Delete many names: DeleteObjects in batches, the rest one by one. */
  async deleteMany(names: string[], ctx?: OperationContext): Promise<void> {
    const client = await this.#t.writer(ctx);
    // One name is one DeleteObject; so are names with leading or trailing white space, which
    // some S3-compatible servers (s3rver among them) trim from a DeleteObjects XML body.
    const alone = names.length === 1 ? [...names] : names.filter((n) => n.trim() !== n);
    const bulk = names.length === 1 ? [] : names.filter((n) => n.trim() === n);
    for (let i = 0; i < bulk.length; i += DELETE_BATCH) {
      const batch = bulk.slice(i, i + DELETE_BATCH);
      if (this.#bulk) {
        try {
          await this.#deleteBatch(client, batch, ctx);
          continue;
        } catch (err) {
          if (!isNotImplemented(err)) throw err;
          this.#bulk = false; // the store has no DeleteObjects: delete one by one from now on
        }
      }
      alone.push(...batch);
    }
    const reader = await this.#t.reader(ctx);
    await eachLimited(alone, this.#concurrency, async (name) => {
      await this.#deleteOne(reader, name, ctx);
      ctx?.progress();
    });
  }

  async #deleteOne(client: S3Client, name: string, ctx?: OperationContext): Promise<void> {
    const t = this.#t;
    await t.send(
      (o) => client.send(new DeleteObjectCommand({ Bucket: t.bucket, Key: t.key(name) }), o),
      ctx,
    );
  }

  async #deleteBatch(client: S3Client, batch: string[], ctx?: OperationContext): Promise<void> {
    const t = this.#t;
    const out = await t.send((o) =>
      client.send(
        new DeleteObjectsCommand({
          Bucket: t.bucket,
          Delete: { Objects: batch.map((name) => ({ Key: t.key(name) })), Quiet: true },
        }),
        o,
      ), ctx);
    ctx?.progress();
    const errors = (out.Errors ?? []).filter((e) => e.Code !== "NoSuchKey");
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
