import { createLocalJWKSet, type JSONWebKeySet, type JWTVerifyGetKey } from 'jose';
import { cachePolicyMs, type RemoteCachePolicy } from './discovery.js';
import { RemoteDocumentError } from './internal/bounded-fetch.js';
import { ResilientCache } from './internal/resilient-cache.js';
import { NO_TELEMETRY, observeIdpFetch } from './internal/telemetry.js';
import type { RemoteDocuments } from './remote-documents.js';

export interface RemoteJwksOptions extends RemoteCachePolicy {
  documents: RemoteDocuments;
  /** The least time between two fetches of one key set caused by an unknown `kid`. */
  refetchCooldownSeconds: number;
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
  /** How many key sets are cached and the age of the oldest, for the admin view of readiness. */
  summary(): { entries: number; oldestAgeMs: number | undefined };
}

/** Caches issuers' JSON Web Key Sets; jose imports each key once per fetched set. */
export function createRemoteJwks(options: RemoteJwksOptions): RemoteJwks {
  const telemetry = options.telemetry ?? NO_TELEMETRY;
  const { metrics } = telemetry;
  const cache = new ResilientCache<JWTVerifyGetKey>({
    ...cachePolicyMs(options),
    onFreshHit: metrics && (() => metrics.idpCacheHit('jwks')),
    load: (href, forced) => {
      const url = new URL(href);
      return observeIdpFetch(telemetry, 'jwks', url, async () => {
        const document = await options.documents.get(url, { fresh: forced });
        if (!Array.isArray(document.keys)) throw new RemoteDocumentError(`${href} is not a JSON Web Key Set`);
        return createLocalJWKSet(document as unknown as JSONWebKeySet);
      });
    },
  });

  return {
    getKeySet: (jwksUri) => cache.get(jwksUri.href),
    summary: () => cache.summary(),
    async refreshAfterUnknownKid(jwksUri) {
      const age = cache.ageMs(jwksUri.href);
      if (age !== undefined && age < options.refetchCooldownSeconds * 1000) return null;
      return cache.get(jwksUri.href, { forceReload: true });
    },
  };
}
