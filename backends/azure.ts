/**
 * PLACEHOLDER — being written; replace this whole file.
 *
 * @module
 */
import { Backend } from "../core/backend.ts";
import { BackendError, ErrorCode } from "../core/errors.ts";

/** Placeholder. */
export class AzureBackend extends Backend {
  override _get(): Promise<void> {
    return Promise.reject(new BackendError("not implemented", { code: ErrorCode.backend_unsupported }));
  }
  override _put(): Promise<void> {
    return Promise.reject(new BackendError("not implemented", { code: ErrorCode.backend_unsupported }));
  }
  override _list(): Promise<string[]> {
    return Promise.reject(new BackendError("not implemented", { code: ErrorCode.backend_unsupported }));
  }
  override _delete(): Promise<void> {
    return Promise.reject(new BackendError("not implemented", { code: ErrorCode.backend_unsupported }));
  }
}
