import { LRUCache } from 'lru-cache';
import { type BoundedFetchLimits, fetchJsonObject, RemoteDocumentError } from './internal/bounded-fetch.js';

/** The parts of an issuer's OpenID configuration that verification uses. */
export interface IssuerMetadata {
  issuer: string;
  jwksUri: URL;
}

export interface DiscoveryOptions extends BoundedFetchLimits {
  /** How long a fetched document is reused. */
  cacheTtlSeconds: number;
  /** How many issuers' documents are kept. */
  maxIssuers: number;
  /** Accept `http:` issuer and JWKS URLs (loopback development only). */
  allowInsecureIssuers: boolean;
}

export interface Discovery {
  /**
   * Returns the issuer's metadata, fetching `{issuer}/.well-known/openid-configuration` when it is
   * not cached. Concurrent calls for one issuer share one fetch.
   * @throws RemoteDocumentError when the document cannot be fetched or is not usable.
   */
  getMetadata(registeredIssuer: string): Promise<IssuerMetadata>;
}

/**
 * Caches OpenID Provider metadata per issuer. Callers pass only issuers registered to an
 * organization, so nothing is ever fetched from a URL an attacker chose.
 */
export function createDiscovery(options: DiscoveryOptions): Discovery {
  const cache = new LRUCache<string, IssuerMetadata>({
    max: options.maxIssuers,
    ttl: options.cacheTtlSeconds * 1000,
    fetchMethod: async (issuer) => {
      const url = new URL(`${issuer}/.well-known/openid-configuration`);
      const document = await fetchJsonObject(url, options);
      return parseMetadata(document, url, options.allowInsecureIssuers);
    },
  });

  return {
    async getMetadata(registeredIssuer) {
      const metadata = await cache.fetch(registeredIssuer);
      if (!metadata) throw new RemoteDocumentError(`no metadata for ${registeredIssuer}`);
      return metadata;
    },
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
