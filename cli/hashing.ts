/**
 * Checksums computed here, on this machine: of a local file, read in 1 MiB
 * pieces, and of a stored file, through a temporary download (the contract
 * gives sizes, not hashes).
 *
 * @module
 */

import { createHash } from "node:crypto";
import { join } from "node:path";
import type { BackendWrapper } from "../core/wrapper.ts";
import { UsageError } from "./context.ts";

/** The checksums the CLI computes. */
export type Algorithm = "md5" | "sha256";

/** Every algorithm, for help and checks. */
export const ALGORITHMS: readonly Algorithm[] = ["md5", "sha256"];

/** The algorithm named by `--algorithm` (default md5); a usage error otherwise. */
export function algorithmOf(flag: unknown): Algorithm {
  if (flag === undefined) return "md5";
  const name = String(flag).toLowerCase();
  if ((ALGORITHMS as readonly string[]).includes(name)) return name as Algorithm;
  throw new UsageError(`--algorithm must be one of ${ALGORITHMS.join(", ")}, not "${flag}"`);
}

/** The hex checksum of a local file. */
export async function hashFile(path: string, algorithm: Algorithm): Promise<string> {
  const hash = createHash(algorithm);
  using file = await Deno.open(path, { read: true });
  const buf = new Uint8Array(1 << 20);
  while (true) {
    const n = await file.read(buf);
    if (n === null) break;
    hash.update(buf.subarray(0, n));
  }
  return hash.digest("hex");
}

/** A fresh path in `dir` for a temporary download. */
export function tempPath(dir: string, hint = "file"): string {
  return join(dir, `${hint}-${crypto.randomUUID().slice(0, 12)}`);
}

/**
 * The checksum of a stored file: downloaded to a temporary file in `tmpDir`
 * (checked against `size` when known), hashed, removed.
 */
export async function hashStored(
  store: BackendWrapper,
  name: string,
  algorithm: Algorithm,
  tmpDir: string,
  size?: number | null,
): Promise<string> {
  const tmp = tempPath(tmpDir, "hash");
  try {
    await store.get(name, tmp, size !== undefined && size !== null && size >= 0 ? { size } : {});
    return await hashFile(tmp, algorithm);
  } finally {
    await Deno.remove(tmp).catch(() => {});
  }
}
