/**
 * A failure a Keyv call reported. Keyv adapters raise whatever their backend's client raises, so
 * the store tags what comes out of a call rather than guess from its shape: every such failure is
 * an outage of the backend, and the store runner answers it with `StoreUnavailableError`.
 */
export class KeyvCallError extends Error {
  constructor(cause: unknown) {
    super('A Keyv call failed.', { cause });
  }
}

export function isUnavailable(error: unknown): boolean {
  return error instanceof KeyvCallError;
}
