import { createLocalJWKSet, type JSONWebKeySet, type JWTVerifyGetKey } from 'jose';
import { LRUCache } from 'lru-cache';
import { RemoteDocumentError } from '../internal/bounded-fetch.js';
import { ResilientCache } from '../internal/resilient-cache.js';
import { NO_TELEMETRY, observeIdpFetch } from '../telemetry/tracing.js';
import { cachePolicyMs, type RemoteCachePolicy } from './discovery.js';
import type { RemoteDocuments, SharedDocumentCache } from './remote-documents.js';

export interface RemoteJwksOptions extends RemoteCachePolicy {
  documents: RemoteDocuments;
  /** The least time between two fetches of one key set caused by an unknown `kid`. */
  refetchCooldownSeconds: number;
  /** Shares the time and outcome of the last unknown-`kid` refetch across instances. */
  sharedCache?: SharedDocumentCache;
  onRefreshFailure?(jwksUri: string, error: unknown): void;
}

export interface RemoteJwks {
  /**
   * Returns a key resolver for the key set at `jwksUri`. Concurrent calls share one fetch; an
   * expired set is returned at once while it refreshes in the background.
   * @throws RemoteDocumentError when the key set cannot be fetched or is not a JWKS.
   */
  getKeySet(jwksUri: URL): Promise<JWTVerifyGetKey>;
  /**
   * Refetches the key set after a token named a `kid` it lacks, at most once per cooldown per key
   * set, whether that refetch succeeded or failed, and across instances when a shared cache is
   * configured: a flood of tokens with random kids causes at most one fetch per cooldown. Within
   * the cooldown, a fetch of the set already under way is joined.
   * @param issuerFailedAtMs when the last fetch of the issuer's discovery document failed, if it
   *   did: a key set loaded before that says nothing of keys the IdP published since
   * @returns the refetched resolver, or `null` when the set was fetched successfully within the
   *   cooldown and no fetch from the issuer has failed since (the IdP does not know the kid).
   * @throws RemoteDocumentError when the refetch fails, when the last fetch of the set or of the
   *   issuer's discovery document failed, or while the IdP is failing: the kid may be genuine, so
   *   the token is not forged as far as anyone can tell.
   */
  refreshAfterUnknownKid(jwksUri: URL, issuerFailedAtMs?: number): Promise<JWTVerifyGetKey | null>;
  /** How many key sets are cached and the age of the oldest, for the admin view of readiness. */
  summary(): { entries: number; oldestAgeMs: number | undefined };
}

type Outcome = 'pending' | 'succeeded' | 'failed';

interface RefetchAttempt {
  atMs: number;
  outcome: Outcome;
  done?: Promise<JWTVerifyGetKey>;
}

const MARKER_PREFIX = 'rialto:unknown-kid-refetch:';

/** Caches issuers' JSON Web Key Sets; jose imports each key once per fetched set. */
export function createRemoteJwks(options: RemoteJwksOptions): RemoteJwks {
  const telemetry = options.telemetry ?? NO_TELEMETRY;
  const { metrics } = telemetry;
  const cache = new ResilientCache<JWTVerifyGetKey>({
    ...cachePolicyMs(options),
    onFreshHit: metrics && (() => metrics.idpCacheHit('jwks')),
    onRefreshFailure: options.onRefreshFailure,
    load: (href, forced) => {
      const url = new URL(href);
      return observeIdpFetch(telemetry, 'jwks', url, async () => {
        const document = await options.documents.get(url, { fresh: forced });
        if (!Array.isArray(document.keys)) throw new RemoteDocumentError(`${href} is not a JSON Web Key Set`);
        return createLocalJWKSet(document as unknown as JSONWebKeySet);
      });
    },
  });
  const attempts = new LRUCache<string, RefetchAttempt>({ max: options.maxEntries });
  const cooldownMs = options.refetchCooldownSeconds * 1000;
  const { sharedCache } = options;

  function answerFrom(
    attempt: RefetchAttempt,
    href: string,
    issuerFailedAtMs: number | undefined,
  ): Promise<JWTVerifyGetKey | null> {
    if (attempt.outcome === 'pending' && attempt.done) return attempt.done;
    if (attempt.outcome === 'succeeded') return answerWithoutFetch(href, issuerFailedAtMs);
    return Promise.reject(
      new RemoteDocumentError(`${href} could not be refetched within the unknown-kid cooldown`),
    );
  }

  /**
   * For a set fetched within the cooldown: the fetch under way, if any, answers; otherwise the IdP
   * does not know the kid, unless a fetch from it failed after the set was loaded. A failure that
   * late means the IdP is failing now, and it may have rotated keys in since.
   */
  function answerWithoutFetch(
    href: string,
    issuerFailedAtMs: number | undefined,
  ): Promise<JWTVerifyGetKey | null> {
    const pending = cache.pendingLoad(href);
    if (pending) return pending;
    // A failure of the set's own fetch is cleared by its next success, so it is always the later.
    const setFailed = cache.lastFailureAtMs(href) !== undefined;
    const ageMs = cache.ageMs(href);
    const issuerFailedSince =
      issuerFailedAtMs !== undefined && (ageMs === undefined || issuerFailedAtMs >= Date.now() - ageMs);
    if (setFailed || issuerFailedSince) {
      return Promise.reject(
        new RemoteDocumentError(
          `the last fetch of ${href} or of its issuer's configuration failed, so an unknown kid cannot be looked up`,
        ),
      );
    }
    return Promise.resolve(null);
  }

  function track(href: string, attempt: RefetchAttempt, share: boolean): Promise<JWTVerifyGetKey> {
    attempts.set(href, attempt);
    const publish = (outcome: Outcome) => {
      attempt.outcome = outcome;
      if (share && cooldownMs > 0) {
        sharedCache
          ?.set(MARKER_PREFIX + href, { atMs: attempt.atMs, outcome }, cooldownMs)
          .catch(() => undefined);
      }
    };
    publish('pending');
    return (attempt.done as Promise<JWTVerifyGetKey>).then(
      (keys) => {
        publish('succeeded');
        return keys;
      },
      (error: unknown) => {
        publish('failed');
        throw error;
      },
    );
  }

  return {
    getKeySet: (jwksUri) => cache.get(jwksUri.href),
    summary: () => cache.summary(),

    async refreshAfterUnknownKid(jwksUri, issuerFailedAtMs) {
      const href = jwksUri.href;
      const now = Date.now();
      const last = attempts.get(href);
      const loadedAgeMs = cache.ageMs(href);
      // Whichever happened last counts: an unknown-kid refetch (whatever its outcome) or a load.
      if (
        last &&
        now - last.atMs < cooldownMs &&
        (loadedAgeMs === undefined || now - last.atMs <= loadedAgeMs)
      ) {
        return answerFrom(last, href, issuerFailedAtMs);
      }
      if (loadedAgeMs !== undefined && loadedAgeMs < cooldownMs) {
        return answerWithoutFetch(href, issuerFailedAtMs);
      }
      if (cache.isFailing(href)) {
        throw new RemoteDocumentError(`${href} is failing, so an unknown kid cannot be looked up`);
      }
      const marker = sharedCache
        ? readMarker(await sharedCache.get(MARKER_PREFIX + href).catch(() => undefined))
        : undefined;
      if (marker && now - marker.atMs < cooldownMs) {
        if (marker.outcome === 'succeeded') {
          // Another instance refetched within the cooldown: take its key set from the shared cache.
          const attempt: RefetchAttempt = { ...marker, done: cache.reload(href, { forced: false }) };
          return track(href, attempt, false);
        }
        if (marker.outcome === 'failed') attempts.set(href, marker);
        throw new RemoteDocumentError(
          `another instance's refetch of ${href} ${marker.outcome === 'failed' ? 'failed' : 'is running'}`,
        );
      }
      return track(href, { atMs: now, outcome: 'pending', done: cache.reload(href, { forced: true }) }, true);
    },
  };
}

function readMarker(value: unknown): RefetchAttempt | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const { atMs, outcome } = value as Record<string, unknown>;
  if (typeof atMs !== 'number' || !['pending', 'succeeded', 'failed'].includes(outcome as string))
    return undefined;
  return { atMs, outcome: outcome as Outcome };
}
