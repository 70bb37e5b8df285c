import type { OAuthEndpoint } from './error-mapping.js';

/** Where the router serves each OAuth endpoint, relative to its mount path (= the issuer's path). */
export const OAUTH_ENDPOINT_PATHS = {
  token: '/oauth/token',
  revocation: '/oauth/revoke',
  introspection: '/oauth/introspect',
} as const satisfies Record<OAuthEndpoint, string>;

/**
 * The published URL of an endpoint, built from the configured issuer and never from the request's
 * `Host` header: a DPoP proof's `htu` is compared with it, and a forged Host must not move it.
 * @param issuer the service's issuer, which includes the router's mount path
 */
export function oauthEndpointUrl(issuer: string, endpoint: OAuthEndpoint): string {
  return serviceUrl(issuer, OAUTH_ENDPOINT_PATHS[endpoint]);
}

/**
 * The published URL of any of the router's routes: a DPoP proof sent to one of the service's own
 * access-token routes names it as `htu`.
 * @param path relative to the mount path, as the router sees it (`/identity/users/u1`)
 */
export function serviceUrl(issuer: string, path: string): string {
  return `${issuer.replace(/\/+$/, '')}${path}`;
}
