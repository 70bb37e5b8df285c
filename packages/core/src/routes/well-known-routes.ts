import { json } from '../internal/http.js';
import type { Route } from '../internal/route.js';
import type { Services } from '../services.js';

// Public documents: resource servers may cache them briefly; key rotation pre-publishes keys.
const PUBLIC_CACHE = { 'cache-control': 'public, max-age=300' };

/** The service's JWKS and metadata, so any JWT library can verify its access tokens. */
export function wellKnownRoutes({ signingKeys, options }: Services): Route[] {
  return [
    {
      method: 'GET',
      pattern: /^\/\.well-known\/jwks\.json$/,
      scheme: 'none',
      async run() {
        return json(200, (await signingKeys.load()).publicJwks, PUBLIC_CACHE);
      },
    },
    {
      method: 'GET',
      pattern: /^\/\.well-known\/openid-configuration$/,
      scheme: 'none',
      async run() {
        const metadata = {
          issuer: options.issuer,
          jwks_uri: `${options.issuer}/.well-known/jwks.json`,
          scopes_supported: ['openid', 'email', 'profile'],
          access_token_signing_alg_values_supported: [options.accessTokenAlgorithm],
        };
        return json(200, metadata, PUBLIC_CACHE);
      },
    },
  ];
}
