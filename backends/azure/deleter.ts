/**
 * Deletes: one blob through the SDK (a missing one is fine); several with
 * one Blob Batch request per 256 names, falling back to parallel single
 * deletes for good when the server refuses batches. A blob with snapshots
 * is deleted only with the option `deleteSnapshots` (else code 23 says so).
 *
 * @module
 */

import type { BlobClient } from "@azure/storage-blob";
import type { OperationContext } from "../../core/backend.ts";
import { eachLimited } from "../../core/concurrency.ts";
import { answerError, statusOf, toBackendError } from "./error.ts";
import type { AzureSettings } from "./options.ts";
import type { AzureTransport } from "./transport.ts";

/** Names per Blob Batch request (Azure's limit). */
const BATCH_MAX = 256;

/** Deletes in one container; remembers whether the server takes batches. */
export class AzureDeleter {
  readonly #t: AzureTransport;
  readonly #concurrency: number;
  readonly #snapshots: boolean;
  #batch: boolean;

  /** Deletes through `t` as `settings` say (batches, snapshots, concurrency). */
  constructor(
    t: AzureTransport,
    settings: Pick<AzureSettings, "batchDelete" | "deleteSnapshots" | "concurrency">,
  ) {
    this.#t = t;
    this.#batch = settings.batchDelete;
    this.#snapshots = settings.deleteSnapshots;
    this.#concurrency = settings.concurrency;
  }

  /** Delete one blob; a missing one is fine. */
  async deleteOne(name: string, ctx?: OperationContext): Promise<void> {
    try {
      await this.#t.blobClient(name).deleteIfExists({
        ...(this.#snapshots ? { deleteSnapshots: "include" as const } : {}),
        ...(ctx ? { abortSignal: ctx.signal } : {}),
      });
    } catch (err) {
      throw toBackendError(err, { name });
    }
  }

  /**
   * One Blob Batch request per 256 names (missing names are fine); when the
   * server refuses batches (400/403/404/405/501 for the whole request),
   * `concurrency` parallel single deletes from then on.
   */
  async deleteMany(names: string[], ctx?: OperationContext): Promise<void> {
    for (let i = 0; i < names.length; i += BATCH_MAX) {
      const chunk = names.slice(i, i + BATCH_MAX);
      if (this.#batch && chunk.length > 1 && await this.#deleteBatch(chunk, ctx)) {
        ctx?.progress();
        continue;
      }
      await eachLimited(chunk, this.#concurrency, (n) => this.deleteOne(n, ctx));
      ctx?.progress();
    }
  }

  /** One batch delete; `false` when the server refuses batches (then never tried again). */
  async #deleteBatch(names: string[], ctx?: OperationContext): Promise<boolean> {
    const container = this.#t.containerClient();
    const blobs: BlobClient[] = names.map((n) => this.#t.blobClient(n));
    let res;
    try {
      res = await container.getBlobBatchClient().deleteBlobs(blobs, {
        ...(this.#snapshots ? { deleteSnapshots: "include" as const } : {}),
        ...(ctx ? { abortSignal: ctx.signal } : {}),
      });
    } catch (err) {
      const s = statusOf(err);
      if (s === 400 || s === 403 || s === 404 || s === 405 || s === 501) {
        this.#batch = false;
        return false;
      }
      throw toBackendError(err);
    }
    const unanswered: string[] = [];
    for (const [i, name] of names.entries()) {
      const sub = res.subResponses[i];
      if (!sub) {
        unanswered.push(name); // no sub-response parsed for it: delete it on its own
        continue;
      }
      if (sub.status === 404 || (sub.status >= 200 && sub.status < 300)) continue;
      throw answerError(
        {
          status: sub.status,
          errorCode: sub.errorCode,
          headers: { get: (h: string) => sub.headers.get(h) ?? null },
        },
        { name },
        `deleting "${name}"`,
      );
    }
    await eachLimited(unanswered, this.#concurrency, (n) => this.deleteOne(n, ctx));
    return true;
  }
}
