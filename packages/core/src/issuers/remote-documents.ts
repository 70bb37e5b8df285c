import { type BoundedFetchOptions, fetchJsonObject } from '../internal/bounded-fetch.js';

/**
 * A cache shared by several instances, e.g. a Keyv instance on Redis. Only public documents
 * (discovery and JWKS) are put in it. Its failures are ignored: the document is fetched instead.
 */
export interface SharedDocumentCache {
  get(key: string): Promise<unknown>;
  set(key: string, value: unknown, ttlMs?: number): Promise<unknown>;
}

export interface RemoteDocumentsOptions extends BoundedFetchOptions {
  sharedCache?: SharedDocumentCache;
  /** How long documents stay in the shared cache. */
  sharedTtlMs: number;
}

export interface RemoteDocuments {
  /**
   * Fetches a JSON object, consulting the shared cache first unless `fresh` is set (a caller that
   * saw the cached copy is outdated, e.g. a JWKS missing a new `kid`, asks the source).
   */
  get(url: URL, options?: { fresh?: boolean }): Promise<Record<string, unknown>>;
}

const KEY_PREFIX = 'rialto:remote-document:';

export function createRemoteDocuments(options: RemoteDocumentsOptions): RemoteDocuments {
  const { sharedCache } = options;
  return {
    async get(url, { fresh = false } = {}) {
      const key = KEY_PREFIX + url.href;
      if (sharedCache && !fresh) {
        const cached = await sharedCache.get(key).catch(() => undefined);
        if (typeof cached === 'object' && cached !== null && !Array.isArray(cached))
          return cached as Record<string, unknown>;
      }
      const document = await fetchJsonObject(url, options);
      await sharedCache?.set(key, document, options.sharedTtlMs).catch(() => undefined);
      return document;
    },
  };
}
