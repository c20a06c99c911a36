/**
 * The terminal password prompt: the CLI hands it to the stores as their
 * `askPassword` option (a library passes none, so it never blocks on stdin).
 * Ctrl-C at the prompt cancels the command (code 61, exit 130 from the CLI).
 *
 * @module
 */

import { BackendError, ErrorCode } from "../core/errors.ts";
import type { AskPassword } from "../core/password.ts";

/** Called while the prompt waits (the progress clock stops), then again when it returns. */
export type PromptHook = (waiting: boolean) => void;

/** A prompt on the terminal when stdin is one, else `undefined` (nothing to ask). */
export function terminalPrompt(onWait?: PromptHook): AskPassword | undefined {
  if (!Deno.stdin.isTerminal()) return undefined;
  return (message: string) => {
    onWait?.(true);
    try {
      return Promise.resolve(readSecret(message));
    } catch (err) {
      return Promise.reject(err);
    } finally {
      onWait?.(false);
    }
  };
}

function readSecret(message: string): string {
  const enc = new TextEncoder();
  Deno.stderr.writeSync(enc.encode(message));
  Deno.stdin.setRaw(true);
  const buf = new Uint8Array(1);
  const bytes: number[] = [];
  try {
    while (true) {
      const n = Deno.stdin.readSync(buf);
      if (n === null || n === 0) break;
      const c = buf[0]!;
      if (c === 13 || c === 10) break;
      if (c === 3 || c === 4) {
        throw new BackendError("cancelled at the password prompt", {
          code: ErrorCode.backend_aborted,
        });
      }
      if (c === 127 || c === 8) bytes.pop();
      else bytes.push(c);
    }
  } finally {
    Deno.stdin.setRaw(false);
    Deno.stderr.writeSync(enc.encode("\n"));
  }
  return new TextDecoder().decode(new Uint8Array(bytes));
}
