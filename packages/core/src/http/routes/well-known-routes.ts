import type { Services } from '../../services.js';
import { json, respond } from '../messages.js';
import { declareRoute, type Route } from '../route.js';
import { jwksResponseSchema, openIdConfigurationResponseSchema } from '../wire-format.js';

// Public documents: resource servers may cache them briefly; key rotation pre-publishes keys.
const PUBLIC_CACHE = { 'cache-control': 'public, max-age=300' };

/** The service's JWKS and metadata, so any JWT library can verify its access tokens. */
export function wellKnownRoutes({ signingKeys, options }: Services): Route[] {
  return [
    declareRoute({
      route: 'GET /.well-known/jwks.json',
      credentials: [],
      operationId: 'getJwks',
      summary: "The public keys that verify this service's access tokens",
      tag: 'Discovery',
      cacheControl: 'public',
      responses: { 200: jwksResponseSchema },
      errors: ['temporarily_unavailable'],
      async run() {
        // jose types a JWK loosely; the strict schema is what keeps private members out.
        return json(200, jwksResponseSchema.parse((await signingKeys.load()).publicJwks), PUBLIC_CACHE);
      },
    }),
    declareRoute({
      route: 'GET /.well-known/openid-configuration',
      credentials: [],
      operationId: 'getOpenIdConfiguration',
      summary: "This service's metadata, so any JWT library can find its keys",
      tag: 'Discovery',
      cacheControl: 'public',
      responses: { 200: openIdConfigurationResponseSchema },
      errors: [],
      async run() {
        const metadata = {
          issuer: options.issuer,
          jwks_uri: `${options.issuer}/.well-known/jwks.json`,
          scopes_supported: ['openid', 'email', 'profile'],
          access_token_signing_alg_values_supported: [options.accessTokenAlgorithm],
        };
        return respond(200, openIdConfigurationResponseSchema, metadata, PUBLIC_CACHE);
      },
    }),
  ];
}
