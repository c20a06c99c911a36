/**
 * Running the CLI in-process for tests: `main()` with captured output.
 *
 * @module
 */

import { main } from "../cli.ts";

/** What one CLI run printed and returned. */
export interface Run {
  /** The exit status. */
  code: number;
  /** Everything written to stdout. */
  stdout: string;
  /** Everything written to stderr. */
  stderr: string;
}

/** Run `stowage ARGS` in this process (retries without real waits), not on a terminal. */
export async function cli(...args: string[]): Promise<Run> {
  let stdout = "";
  let stderr = "";
  const code = await main(["--retry-delay", "0.001", ...args], {
    stdout: (t) => stdout += t,
    stderr: (t) => stderr += t,
    isTerminal: false,
  });
  return { code, stdout, stderr };
}
