/**
 * A scripted in-memory backend for the wrapper's unit tests: each method
 * answers from a script (errors to throw, values to return) and counts its
 * calls. It is the only mock in the suite; every real backend is tested
 * against a real server.
 */

import {
  Backend,
  type BackendOptions,
  type ErrorCode,
  type OperationContext,
  ParsedUrl,
  type QueryResult,
} from "../mod.ts";

/** One scripted step: throw this error, or run this function. */
export type Step = Error | ((ctx?: OperationContext) => Promise<unknown> | unknown);

/** A backend whose behaviour is a queue of steps per method. */
export class ScriptedBackend extends Backend {
  /** Calls per method name. */
  calls: Record<string, number> = {};
  /** Arguments of each call, per method. */
  args: Record<string, unknown[][]> = {};
  /** Steps per method; when empty, the method succeeds with its default. */
  script: Record<string, Step[]> = {};
  /** Files held (name → bytes). */
  files = new Map<string, Uint8Array>();
  /** Codes `_errorCode` returns for an error's message. */
  codes: Record<string, ErrorCode> = {};

  constructor(url = "scripted://x", options: BackendOptions = {}) {
    super(new ParsedUrl(url), options);
  }

  /** Queue steps for a method. */
  on(method: string, ...steps: Step[]): this {
    (this.script[method] ??= []).push(...steps);
    return this;
  }

  protected async step(method: string, args: unknown[], ctx?: OperationContext): Promise<unknown> {
    this.calls[method] = (this.calls[method] ?? 0) + 1;
    (this.args[method] ??= []).push(args);
    const next = this.script[method]?.shift();
    if (next instanceof Error) throw next;
    if (next) return await next(ctx);
    return undefined;
  }

  override async _get(name: string, localPath: string, ctx?: OperationContext): Promise<void> {
    const r = await this.step("_get", [name, localPath], ctx);
    if (r === "skip-write") return;
    const data = this.files.get(name);
    if (!data) throw Object.assign(new Error("no such file"), { code: "ENOENT" });
    await Deno.writeFile(localPath, data);
  }
  override async _put(localPath: string, name: string, ctx?: OperationContext): Promise<void> {
    await this.step("_put", [localPath, name], ctx);
    this.files.set(name, await Deno.readFile(localPath));
  }
  override async _list(ctx?: OperationContext): Promise<string[]> {
    await this.step("_list", [], ctx);
    return [...this.files.keys()];
  }
  override async _delete(name: string, ctx?: OperationContext): Promise<void> {
    await this.step("_delete", [name], ctx);
    this.files.delete(name);
  }
  override async _retryCleanup(): Promise<void> {
    await this.step("_retryCleanup", []);
  }
  override _errorCode(_op: string, err: unknown): ErrorCode | undefined {
    return err instanceof Error ? this.codes[err.message] : undefined;
  }
}

/** Adds the optional list methods and `_move` to the scripted backend. */
export class ScriptedListBackend extends ScriptedBackend {
  override async _deleteList(names: string[], ctx?: OperationContext): Promise<void> {
    await this.step("_deleteList", [names], ctx);
    for (const n of names) this.files.delete(n);
  }
  override async _query(name: string, ctx?: OperationContext): Promise<QueryResult> {
    await this.step("_query", [name], ctx);
    return { size: this.files.get(name)?.length ?? -1 };
  }
  override async _queryList(
    names: string[],
    ctx?: OperationContext,
  ): Promise<Record<string, QueryResult>> {
    const r = await this.step("_queryList", [names], ctx);
    if (r && typeof r === "object") return r as Record<string, QueryResult>;
    const out: Record<string, QueryResult> = {};
    for (const n of names) out[n] = { size: this.files.get(n)?.length ?? -1 };
    return out;
  }
  override async _move(localPath: string, name: string, ctx?: OperationContext): Promise<boolean> {
    const r = await this.step("_move", [localPath, name], ctx);
    if (r === false) return false;
    this.files.set(name, await Deno.readFile(localPath));
    await Deno.remove(localPath);
    return true;
  }
}

/** A backend with `_query` but no `_queryList`. */
export class ScriptedQueryBackend extends ScriptedBackend {
  override async _query(name: string, ctx?: OperationContext): Promise<QueryResult> {
    const r = await this.step("_query", [name], ctx);
    if (r && typeof r === "object") return r as QueryResult;
    return { size: this.files.get(name)?.length ?? -1 };
  }
}
