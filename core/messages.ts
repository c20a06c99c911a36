/**
 * The wrapper's messages: how a failed operation is worded (`Cannot list
 * "sftp://alice@host/backups": permission denied`) and how secrets are kept
 * out of every message.
 *
 * @module
 */

import type { ParsedUrl } from "./url.ts";
import { redactRaw, secretsOf } from "./url.ts";

/** Remove passwords and credential-bearing query values of `url` (and of any URL in the text) from `text`. */
export function scrubSecrets(text: string, url: ParsedUrl): string {
  let out = text.replace(/[A-Za-z][A-Za-z0-9+.-]*:\/\/[^\s"'<>]+/g, (u) => redactRaw(u));
  const secrets = new Set(secretsOf(url.geturl()));
  if (url.password) secrets.add(url.password);
  // Very short values would blank out ordinary letters; they are not worth hiding.
  for (const s of secrets) if (s.length >= 3) out = out.split(s).join("***");
  return out;
}

/** The sentence for a failed operation, naming the action, the subject and the store. */
export function failureMessage(
  operation: string,
  subject: string | undefined,
  where: string,
  reason: string,
  attempts: number,
): string {
  let message: string;
  switch (operation) {
    case "list":
      message = `Cannot list "${where}": ${reason}`;
      break;
    case "get":
    case "read":
      message = `Cannot ${operation} "${subject}" from "${where}": ${reason}`;
      break;
    case "put":
    case "move":
    case "write":
      message = `Cannot ${operation} "${subject}" to "${where}": ${reason}`;
      break;
    default:
      message = subject === undefined
        ? `Cannot ${operation} "${where}": ${reason}`
        : `Cannot ${operation} "${subject}" on "${where}": ${reason}`;
  }
  if (attempts > 1) message += ` (after ${attempts} attempts)`;
  return message;
}
