import { RemoteDocumentError } from '../internal/bounded-fetch.js';
import { ResilientCache } from '../internal/resilient-cache.js';
import { NO_TELEMETRY, observeIdpFetch, type Telemetry } from '../telemetry/tracing.js';
import type { RemoteDocuments } from './remote-documents.js';

/** The parts of an issuer's OpenID configuration that verification uses. */
export interface IssuerMetadata {
  issuer: string;
  jwksUri: URL;
}

export interface RemoteCachePolicy {
  /** How long a fetched document is reused. */
  cacheTtlSeconds: number;
  /** How long past that a document is still used while the IdP cannot be reached. */
  staleIfErrorSeconds: number;
  /** How long a failed fetch is remembered before the IdP is asked again. */
  failureBackoffSeconds: number;
  /** How many documents are kept. */
  maxEntries: number;
  /** Fetch spans, fetch outcomes and cache hits are reported here. @default none */
  telemetry?: Telemetry;
}

export interface DiscoveryOptions extends RemoteCachePolicy {
  documents: RemoteDocuments;
  /** Accept `http:` JWKS URLs (loopback development only). */
  allowInsecureIssuers: boolean;
  onRefreshFailure?(url: string, error: unknown): void;
}

export interface Discovery {
  /**
   * Returns the issuer's metadata, fetching `{issuer}/.well-known/openid-configuration` when it is
   * not cached. Concurrent calls for one issuer share one fetch; expired metadata is returned at
   * once while it refreshes in the background.
   * @throws RemoteDocumentError when the document cannot be fetched or is not usable.
   */
  getMetadata(registeredIssuer: string): Promise<IssuerMetadata>;
  /**
   * When the last fetch of the issuer's configuration failed, if it did (a later success clears
   * it): the cached copy may be outdated, and what the IdP would say now is unknown.
   */
  lastFailureAtMs(registeredIssuer: string): number | undefined;
}

/**
 * Caches OpenID Provider metadata per issuer. Callers pass only issuers registered to an
 * organization, so nothing is ever fetched from a URL an attacker chose.
 */
export function createDiscovery(options: DiscoveryOptions): Discovery {
  const telemetry = options.telemetry ?? NO_TELEMETRY;
  const { metrics } = telemetry;
  const cache = new ResilientCache<IssuerMetadata>({
    ...cachePolicyMs(options),
    onFreshHit: metrics && (() => metrics.idpCacheHit('discovery')),
    onRefreshFailure: options.onRefreshFailure,
    load: (issuer) => {
      const url = new URL(`${issuer}/.well-known/openid-configuration`);
      return observeIdpFetch(telemetry, 'discovery', url, async () =>
        parseMetadata(await options.documents.get(url), url, options.allowInsecureIssuers),
      );
    },
  });
  return {
    getMetadata: (registeredIssuer) => cache.get(registeredIssuer),
    lastFailureAtMs: (registeredIssuer) => cache.lastFailureAtMs(registeredIssuer),
  };
}

export function cachePolicyMs(policy: RemoteCachePolicy) {
  return {
    ttlMs: policy.cacheTtlSeconds * 1000,
    staleIfErrorMs: policy.staleIfErrorSeconds * 1000,
    failureBackoffMs: policy.failureBackoffSeconds * 1000,
    max: policy.maxEntries,
  };
}

function parseMetadata(
  document: Record<string, unknown>,
  source: URL,
  allowInsecure: boolean,
): IssuerMetadata {
  const { issuer, jwks_uri: jwksUri } = document;
  if (typeof issuer !== 'string' || issuer.length === 0) {
    throw new RemoteDocumentError(`${source.href} has no issuer`);
  }
  if (typeof jwksUri !== 'string' || !URL.canParse(jwksUri)) {
    throw new RemoteDocumentError(`${source.href} has no valid jwks_uri`);
  }
  const url = new URL(jwksUri);
  if (!isAllowedRemoteUrl(url, allowInsecure)) {
    throw new RemoteDocumentError(`${source.href} names a jwks_uri with a disallowed scheme`);
  }
  return { issuer, jwksUri: url };
}

/** `https:` always; `http:` only when the host opted into insecure issuers for local development. */
export function isAllowedRemoteUrl(url: URL, allowInsecure: boolean): boolean {
  return url.protocol === 'https:' || (allowInsecure && url.protocol === 'http:');
}
