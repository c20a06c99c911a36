/**
 * The backend's one connection: opened on first use with the engine the
 * options pick, reused by every call, reopened after it was lost, and
 * dropped between attempts unless it still answers. Temporary uploads left
 * behind by a lost connection are removed on the next one.
 *
 * @module
 */

import type { OperationContext } from "../../core/backend.ts";
import { BackendError, ErrorCode } from "../../core/errors.ts";
import { findSsh, mayRun, openOpenSsh } from "./engine_openssh.ts";
import { openSsh2 } from "./engine_ssh2.ts";
import { alive, type OpenParams, req, type Session } from "./session.ts";

/** The transport: the system OpenSSH client, or npm ssh2. */
export type Engine = "openssh" | "ssh2";

/** `auto` is OpenSSH when there is an `ssh` on PATH and leave to run it, else ssh2. */
export function pickEngine(setting: "auto" | Engine): Engine {
  if (setting !== "auto") return setting;
  return mayRun(findSsh()) ? "openssh" : "ssh2";
}

/** One reused SFTP session, opened lazily. */
export class SftpConnection {
  readonly #engine: Engine;
  readonly #params: Omit<OpenParams, "signal" | "progress">;
  readonly #onOpen: (s: Session) => void;
  #session: Promise<Session> | undefined;
  #live: Session | undefined;
  /** Temporary uploads that could not be removed because the connection was gone. */
  readonly #orphans = new Set<string>();

  /** No I/O; `onOpen` hears of every new session. */
  constructor(
    engine: Engine,
    params: Omit<OpenParams, "signal" | "progress">,
    onOpen: (s: Session) => void,
  ) {
    this.#engine = engine;
    this.#params = params;
    this.#onOpen = onOpen;
  }

  /** The live session, connecting when there is none (one connect at a time). */
  connect(ctx?: OperationContext): Promise<Session> {
    ctx?.signal.throwIfAborted();
    if (this.#live?.closed) {
      this.#live = undefined;
      this.#session = undefined;
    }
    if (!this.#session) {
      const p = this.#open(ctx);
      this.#session = p;
      p.then((s) => {
        this.#live = s;
        this.#onOpen(s);
        this.#sweepOrphans(s);
      }, () => {
        if (this.#session === p) this.#session = undefined;
      });
    }
    return this.#session;
  }

  /** Drop the session so the next call opens a fresh one, unless it answers within `ms`. */
  async dropUnlessAlive(ms: number): Promise<void> {
    const s = this.#live;
    if (s && !s.closed && await alive(s, ms)) return;
    await this.disconnect();
  }

  /** End the session (gracefully, then at once after 2 s). */
  async disconnect(): Promise<void> {
    const p = this.#session;
    this.#session = undefined;
    this.#live = undefined;
    if (!p) return;
    let s: Session;
    try {
      s = await p;
    } catch {
      return;
    }
    if (!s.closed) s.end();
    const t = setTimeout(() => s.destroy(), 2000);
    await s.closedPromise;
    clearTimeout(t);
  }

  /** Remember a temporary upload to remove once a connection allows it. */
  addOrphan(path: string): void {
    this.#orphans.add(path);
  }

  async #open(ctx?: OperationContext): Promise<Session> {
    const params: OpenParams = { ...this.#params };
    if (ctx) {
      params.signal = ctx.signal;
      params.progress = () => ctx.progress();
    }
    if (this.#engine === "ssh2") return await openSsh2(params);
    const ssh = findSsh();
    if (!ssh) {
      throw new BackendError(
        'engine=openssh needs the OpenSSH client "ssh" on PATH (Debian package openssh-client)',
        { code: ErrorCode.user_error },
      );
    }
    return await openOpenSsh(ssh, params);
  }

  /** Remove temporaries left by puts whose connection dropped (best effort). */
  #sweepOrphans(s: Session): void {
    for (const path of [...this.#orphans]) {
      this.#orphans.delete(path);
      req<void>(s, (cb) => s.sftp.unlink(path, cb)).catch(() => {});
    }
  }
}
