import { createLocalJWKSet, type JSONWebKeySet, type JWTVerifyGetKey } from 'jose';
import { LRUCache } from 'lru-cache';
import { type BoundedFetchLimits, fetchJsonObject, RemoteDocumentError } from './internal/bounded-fetch.js';

export interface RemoteJwksOptions extends BoundedFetchLimits {
  /** How long a fetched key set is reused. */
  cacheTtlSeconds: number;
  /** The least time between two fetches of one key set caused by an unknown `kid`. */
  refetchCooldownSeconds: number;
  /** How many key sets are kept. */
  maxKeySets: number;
}

interface CachedKeySet {
  getKey: JWTVerifyGetKey;
  fetchedAtMs: number;
}

export interface RemoteJwks {
  /**
   * Returns a key resolver for the key set at `jwksUri`. Concurrent calls share one fetch.
   * @throws RemoteDocumentError when the key set cannot be fetched or is not a JWKS.
   */
  getKeySet(jwksUri: URL): Promise<JWTVerifyGetKey>;
  /**
   * Refetches the key set after a token named a `kid` it lacks, unless it was fetched within the
   * cooldown: a flood of tokens with random kids then causes at most one fetch per cooldown.
   * @returns the new resolver, or `null` when the cooldown has not elapsed.
   */
  refreshAfterUnknownKid(jwksUri: URL): Promise<JWTVerifyGetKey | null>;
}

/** Caches issuers' JSON Web Key Sets, with jose importing each key once per fetched set. */
export function createRemoteJwks(options: RemoteJwksOptions): RemoteJwks {
  const cache = new LRUCache<string, CachedKeySet>({
    max: options.maxKeySets,
    ttl: options.cacheTtlSeconds * 1000,
    fetchMethod: async (href) => {
      const document = await fetchJsonObject(new URL(href), options);
      if (!Array.isArray(document.keys)) throw new RemoteDocumentError(`${href} is not a JSON Web Key Set`);
      return { getKey: createLocalJWKSet(document as unknown as JSONWebKeySet), fetchedAtMs: Date.now() };
    },
  });

  async function load(jwksUri: URL, forceRefresh: boolean): Promise<JWTVerifyGetKey> {
    const cached = await cache.fetch(jwksUri.href, { forceRefresh });
    if (!cached) throw new RemoteDocumentError(`no key set for ${jwksUri.href}`);
    return cached.getKey;
  }

  return {
    getKeySet: (jwksUri) => load(jwksUri, false),
    async refreshAfterUnknownKid(jwksUri) {
      const cached = cache.peek(jwksUri.href);
      if (cached && Date.now() - cached.fetchedAtMs < options.refetchCooldownSeconds * 1000) return null;
      return load(jwksUri, true);
    },
  };
}
