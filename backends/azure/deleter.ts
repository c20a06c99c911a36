/**
 * Deletes: one blob with one DELETE (a missing one is fine); several with
 * one Blob Batch request per 256 names (batch.ts), falling back to parallel
 * single deletes for good when the server refuses batches. A blob with snapshots is
 * deleted only with the option `deleteSnapshots` (else code 23 says so).
 *
 * @module
 */

import type { OperationContext } from "../../core/backend.ts";
import { eachLimited } from "../../core/concurrency.ts";
import type { CommittedSizes } from "./committed.ts";
import { deleteBatch } from "./batch.ts";
import { answerError } from "./error.ts";
import type { AzureSettings } from "./options.ts";
import type { AzureTransport } from "./transport.ts";

/** Names per Blob Batch request (Azure's limit). */
const BATCH_MAX = 256;

/** Deletes in one container; remembers whether the server takes batches. */
export class AzureDeleter {
  readonly #t: AzureTransport;
  readonly #concurrency: number;
  readonly #snapshots: boolean;
  readonly #committed: CommittedSizes;
  #batch: boolean;

  /** Deletes through `t` as `settings` say (batches, snapshots, concurrency); forgets `committed` sizes. */
  constructor(
    t: AzureTransport,
    settings: Pick<AzureSettings, "batchDelete" | "deleteSnapshots" | "concurrency">,
    committed: CommittedSizes,
  ) {
    this.#t = t;
    this.#committed = committed;
    this.#batch = settings.batchDelete;
    this.#snapshots = settings.deleteSnapshots;
    this.#concurrency = settings.concurrency;
  }

  /** Delete one blob; a missing one is fine. */
  async deleteOne(name: string, ctx?: OperationContext): Promise<void> {
    this.#committed.forget(name);
    const url = await this.#t.blobUrl(name, "d");
    const headers: Record<string, string> = this.#snapshots
      ? { "x-ms-delete-snapshots": "include" }
      : {};
    const res = await this.#t.request("DELETE", url, headers, ctx?.signal, [404, 409]);
    if (res.status === 409) {
      const errorCode = res.headers.get("x-ms-error-code") ?? undefined;
      throw answerError({ status: 409, errorCode, headers: res.headers }, { name });
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
    for (const n of names) this.#committed.forget(n);
    const answers = await deleteBatch(this.#t, names, this.#snapshots, ctx?.signal);
    if (!Array.isArray(answers)) {
      this.#batch = false;
      return false;
    }
    const unanswered: string[] = [];
    for (const [i, name] of names.entries()) {
      const sub = answers[i];
      if (!sub) {
        unanswered.push(name); // no sub-answer for it: delete it on its own
        continue;
      }
      if (sub.status === 404 || (sub.status >= 200 && sub.status < 300)) continue;
      throw answerError(
        { status: sub.status, errorCode: sub.errorCode, headers: sub.headers },
        { name },
        `deleting "${name}"`,
      );
    }
    await eachLimited(unanswered, this.#concurrency, (n) => this.deleteOne(n, ctx));
    return true;
  }
}
