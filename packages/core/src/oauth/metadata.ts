import { z } from 'zod';
import type { ClientAuthMethod } from './client-authentication.js';
import { oauthEndpointUrl } from './endpoints.js';
import { GRANT_TYPES } from './token-request.js';

/** RFC 8414 §3: the well-known suffix of authorization server metadata. */
export const AUTHORIZATION_SERVER_METADATA_SUFFIX = '/.well-known/oauth-authorization-server';

// The registered names (RFC 7591 §2) of what the token, revocation and introspection endpoints accept.
// X-API-Key is this service's own header and has no registered name, so it is not listed.
const CLIENT_AUTH_METHODS = [
  'client_secret_basic',
  'client_secret_post',
] as const satisfies readonly ClientAuthMethod[];

/** The service's authorization server metadata (RFC 8414 §2); also merged into its OpenID configuration. */
export const authorizationServerMetadataSchema = z.strictObject({
  issuer: z.string(),
  token_endpoint: z.string(),
  revocation_endpoint: z.string(),
  introspection_endpoint: z.string(),
  jwks_uri: z.string(),
  grant_types_supported: z.array(z.string()),
  // Empty: there is no authorization endpoint, so no response type (RFC 8414 §2 still requires the member).
  response_types_supported: z.array(z.string()).length(0),
  token_endpoint_auth_methods_supported: z.array(z.string()),
  revocation_endpoint_auth_methods_supported: z.array(z.string()),
  introspection_endpoint_auth_methods_supported: z.array(z.string()),
  dpop_signing_alg_values_supported: z.array(z.string()),
});

export type AuthorizationServerMetadata = z.infer<typeof authorizationServerMetadataSchema>;

export interface AuthorizationServerMetadataOptions {
  /** The service's issuer (its `issuer` option), which includes the router's mount path. */
  issuer: string;
  /** The algorithms the DPoP verifier accepts; the same list, so the metadata cannot promise more. */
  dpopSigningAlgorithms: readonly string[];
}

/**
 * The RFC 8414 metadata of this service. Every URL is built from the issuer, never from a request.
 * @example
 * authorizationServerMetadata({ issuer: 'https://api.example.com', dpopSigningAlgorithms: ['ES256'] }).token_endpoint;
 * // 'https://api.example.com/oauth/token'
 */
export function authorizationServerMetadata(
  options: AuthorizationServerMetadataOptions,
): AuthorizationServerMetadata {
  const issuer = options.issuer.replace(/\/+$/, '');
  return {
    issuer,
    token_endpoint: oauthEndpointUrl(issuer, 'token'),
    revocation_endpoint: oauthEndpointUrl(issuer, 'revocation'),
    introspection_endpoint: oauthEndpointUrl(issuer, 'introspection'),
    jwks_uri: `${issuer}/.well-known/jwks.json`,
    grant_types_supported: [...GRANT_TYPES],
    response_types_supported: [],
    token_endpoint_auth_methods_supported: [...CLIENT_AUTH_METHODS],
    revocation_endpoint_auth_methods_supported: [...CLIENT_AUTH_METHODS],
    introspection_endpoint_auth_methods_supported: [...CLIENT_AUTH_METHODS],
    dpop_signing_alg_values_supported: [...options.dpopSigningAlgorithms],
  };
}

/**
 * Where RFC 8414 §3.1 puts the metadata of `issuer`: the well-known suffix goes between the host and
 * the issuer's path, so for an issuer with a path it lives at the host's root, outside the router,
 * and the host mounts a handler there.
 * @returns the absolute `url` clients fetch, and its `path` on the host
 * @example
 * authorizationServerMetadataLocation('https://api.example.com/auth');
 * // { url: 'https://api.example.com/.well-known/oauth-authorization-server/auth',
 * //   path: '/.well-known/oauth-authorization-server/auth' }
 */
export function authorizationServerMetadataLocation(issuer: string): { url: string; path: string } {
  const { origin, pathname } = new URL(issuer);
  const path = `${AUTHORIZATION_SERVER_METADATA_SUFFIX}${pathname.replace(/\/+$/, '')}`;
  return { url: `${origin}${path}`, path };
}
