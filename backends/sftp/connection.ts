/**
 * The backend's one connection: opened on first use with the engine the
 * options pick (each loaded only when used: the OpenSSH engine loads no
 * npm code), reused by every call, reopened after it was lost, and dropped
 * between attempts unless it still answers. Every wait is bounded by the
 * caller's timeout. Temporary uploads left behind by a lost connection are
 * removed on the next one.
 *
 * @module
 */

import type { OperationContext } from "../../core/backend.ts";
import { BackendError, ErrorCode } from "../../core/errors.ts";
import { findSsh, mayRun, openOpenSsh } from "./engine_openssh.ts";
import { alive, type OpenParams, type Session } from "./session.ts";

/** The transport: the system OpenSSH client, or npm ssh2. */
export type Engine = "openssh" | "ssh2";

/** `auto` is OpenSSH when there is an `ssh` on PATH and leave to run it, else ssh2. */
export function pickEngine(setting: "auto" | Engine): Engine {
  if (setting !== "auto") return setting;
  return mayRun(findSsh()) ? "openssh" : "ssh2";
}

/** What the connection is opened with (the rest comes from each call). */
export type ConnectionParams = Omit<OpenParams, "signal" | "progress" | "loginTimeout">;

/** One reused SFTP session, opened lazily. */
export class SftpConnection {
  readonly #engine: Engine;
  readonly #params: ConnectionParams;
  readonly #onOpen: (s: Session) => void;
  #session: Promise<Session> | undefined;
  #live: Session | undefined;
  /** The caller's timeout of the last call, in ms (0: none). */
  #timeout = 0;
  /** Temporary uploads that could not be removed because the connection was gone. */
  readonly #orphans = new Set<string>();

  /** No I/O; `onOpen` hears of every new session. */
  constructor(engine: Engine, params: ConnectionParams, onOpen: (s: Session) => void) {
    this.#engine = engine;
    this.#params = params;
    this.#onOpen = onOpen;
  }

  /**
   * How long a clean-up wait may take, in ms: the caller's timeout of the
   * last call, else the login time limit.
   */
  get waitLimit(): number {
    return this.#timeout || this.#params.settings.connectTimeout;
  }

  /** The live session, connecting when there is none (one connect at a time). */
  connect(ctx?: OperationContext): Promise<Session> {
    ctx?.signal.throwIfAborted();
    if (ctx?.timeout !== undefined) this.#timeout = ctx.timeout;
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

  /**
   * Drop the session so the next call opens a fresh one, unless it answers
   * within the wait limit (one that does not answer is ended at once).
   */
  async dropUnlessAlive(): Promise<void> {
    const s = this.#live;
    if (!s) return await this.disconnect();
    if (!s.closed && await alive(s, this.waitLimit)) return;
    this.destroy();
  }

  /** End the session (gracefully, then at once after the wait limit). */
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
    const t = setTimeout(() => s.destroy(), this.waitLimit);
    await s.closedPromise;
    clearTimeout(t);
  }

  /** End the session at once (it is stuck). */
  destroy(): void {
    const s = this.#live;
    this.#session = undefined;
    this.#live = undefined;
    s?.destroy();
  }

  /** Remember a temporary upload to remove once a connection allows it. */
  addOrphan(path: string): void {
    this.#orphans.add(path);
  }

  async #open(ctx?: OperationContext): Promise<Session> {
    const connectTimeout = this.#params.settings.connectTimeout;
    const params: OpenParams = {
      ...this.#params,
      loginTimeout: ctx?.timeout ? Math.min(ctx.timeout, connectTimeout) : connectTimeout,
    };
    if (ctx) {
      params.signal = ctx.signal;
      params.progress = () => ctx.progress();
    }
    if (this.#engine === "ssh2") return await (await import("./engine_ssh2.ts")).openSsh2(params);
    const ssh = findSsh();
    if (!ssh) {
      throw new BackendError(
        'engine=openssh needs the OpenSSH client "ssh" on PATH (Debian package openssh-client)',
        { code: ErrorCode.user_error },
      );
    }
    return await openOpenSsh(ssh, params);
  }

  /**
   * Remove the remembered temporaries now, through a fresh session (the old
   * one may be stuck behind megabytes of queued writes), within `limit` ms;
   * best effort. Used when a cancelled put could not remove its temporary.
   */
  async removeOrphansNow(limit: number): Promise<void> {
    if (!this.#orphans.size) return;
    // Taken out first: the new session's own sweep (on connect) must not take
    // them and leave this call nothing to wait for.
    const paths = [...this.#orphans];
    this.#orphans.clear();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const work = (async () => {
      const s = await this.connect();
      await Promise.all(paths.map((path) => s.client.remove(path)));
      return true;
    })().catch(() => false);
    const done = await Promise.race([
      work,
      new Promise<false>((r) => timer = setTimeout(() => r(false), limit)),
    ]);
    clearTimeout(timer);
    // Not confirmed: left for the next connection (removing twice is harmless).
    if (!done) { for (const path of paths) this.#orphans.add(path); }
  }

  /** Remove temporaries left by puts whose connection dropped (best effort). */
  #sweepOrphans(s: Session): void {
    for (const path of [...this.#orphans]) {
      this.#orphans.delete(path);
      s.client.remove(path).catch(() => {});
    }
  }
}
