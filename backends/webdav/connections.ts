/**
 * The kept-alive connections to a WebDAV server, one pool per way of
 * sending: `node:http`/`node:https` agents (most requests, everything with
 * `insecureSkipVerify`), Deno's `fetch` client (gets and ranged reads) and
 * the shared `Http1Client` (file uploads). TLS trust (`caFile`, read once
 * on first use) is the same for all of them.
 *
 * Request bodies streamed on `node:http` (streamed writes, and file uploads
 * with `insecureSkipVerify`) each get a fresh connection, closed after the
 * answer: when a request on a reused connection is dropped (an abort, a
 * failed source), Deno's `node:http` sends it again on a new connection
 * (its retry of stale keep-alive connections), and the server would then
 * store the part sent again after the temporary file was deleted.
 *
 * @module
 */

import http from "node:http";
import https from "node:https";
import { BufferPool } from "../../core/buffer_pool.ts";
import { BackendError, ErrorCode } from "../../core/errors.ts";
import type { OperationContext } from "../../core/backend.ts";
import { type Http1Answer, Http1Client } from "../../core/http1.ts";
import { toBackendError } from "./error.ts";
import type { Reply } from "./exchange.ts";

/** What the pools need to know. */
export interface ConnectionSettings {
  /** A PEM file of certificate authorities to trust, besides the system's. */
  caFile: string | undefined;
  /** Accept any certificate (only `node:https` can). */
  insecure: boolean;
  /** The buffer a file upload moves at once. */
  bufferSize: number;
}

/** The connection pools of one store; each made on first use, all dropped by {@linkcode close}. */
export class Connections {
  readonly #settings: ConnectionSettings;
  #agents: { http?: http.Agent; https?: https.Agent } = {};
  #fresh: { http?: http.Agent; https?: https.Agent } = {};
  #fetchClient: Deno.HttpClient | undefined;
  #uploads: Http1Client | undefined;
  #ca: string | undefined;

  /** Pools for these settings; no I/O. */
  constructor(settings: ConnectionSettings) {
    this.#settings = settings;
  }

  /**
   * The agent for `target`'s protocol: kept-alive connections, or with
   * `fresh` a new connection for each request, closed after it.
   */
  agent(target: URL, fresh = false): http.Agent {
    const pool = fresh ? this.#fresh : this.#agents;
    const keepAlive = !fresh;
    if (target.protocol !== "https:") {
      return pool.http ??= new http.Agent({ keepAlive, scheduling: "lifo" });
    }
    if (pool.https) return pool.https;
    this.#loadCa();
    return pool.https = new https.Agent({
      keepAlive,
      scheduling: "lifo",
      rejectUnauthorized: !this.#settings.insecure,
      ...(this.#ca !== undefined ? { ca: this.#ca } : {}),
    });
  }

  /** The client for Deno's `fetch` (never used with `insecureSkipVerify`). */
  fetchClient(): Deno.HttpClient {
    if (this.#fetchClient) return this.#fetchClient;
    this.#loadCa();
    return this.#fetchClient = Deno.createHttpClient(
      this.#ca !== undefined ? { caCerts: [this.#ca] } : {},
    );
  }

  /** The client for file uploads (never used with `insecureSkipVerify`). */
  uploader(): Http1Client {
    if (this.#uploads) return this.#uploads;
    this.#loadCa();
    return this.#uploads = new Http1Client({
      buffers: new BufferPool(this.#settings.bufferSize, 4),
      ...(this.#ca !== undefined ? { caCerts: [this.#ca] } : {}),
    });
  }

  /**
   * PUT the file to `target` through the shared `Http1Client` (Deno
   * sockets, one reused buffer, `Content-Length`); resolves with the
   * answer, read whole.
   */
  async putFile(
    target: URL,
    headers: Record<string, string>,
    body: { file: string; size: number },
    ctx: OperationContext,
  ): Promise<Reply> {
    let answer: Http1Answer;
    try {
      answer = await this.uploader().send({
        url: target,
        method: "PUT",
        headers,
        body: { path: body.file, start: 0, length: body.size },
        signal: ctx.signal,
        onProgress: (n: number) => ctx.progress(n),
      });
    } catch (err) {
      throw toBackendError(err, "PUT", ctx.signal);
    }
    return {
      statusCode: answer.status,
      statusMessage: answer.reason,
      headers: answer.headers,
      resume: () => {},
    };
  }

  /** Drop every kept-alive connection, so the next request connects afresh. */
  close(): void {
    for (const pool of [this.#agents, this.#fresh]) {
      pool.http?.destroy();
      pool.https?.destroy();
    }
    this.#agents = {};
    this.#fresh = {};
    this.#fetchClient?.close();
    this.#fetchClient = undefined;
    this.#uploads?.closeIdle();
  }

  /** Read the caFile once; code 23 when it cannot be read. */
  #loadCa(): void {
    const file = this.#settings.caFile;
    if (file === undefined || this.#ca !== undefined) return;
    try {
      this.#ca = Deno.readTextFileSync(file);
    } catch (err) {
      throw new BackendError(`Invalid option "caFile": cannot read "${file}"`, {
        code: ErrorCode.user_error,
        cause: err,
      });
    }
  }
}
