import { authorizationServerMetadata } from '../../oauth/metadata.js';
import type { Services } from '../../services.js';
import { json, respond } from '../messages.js';
import { declareRoute, type Route } from '../route.js';
import {
  jwksResponseSchema,
  oauthMetadataResponseSchema,
  openIdConfigurationResponseSchema,
} from '../wire-format.js';

// Public documents: resource servers may cache them briefly; key rotation pre-publishes keys.
const PUBLIC_CACHE = { 'cache-control': 'public, max-age=300' };

/** The service's JWKS and metadata, so any JWT library can verify its access tokens. */
export function wellKnownRoutes({ signingKeys, options, dpop }: Services): Route[] {
  const oauthMetadata = authorizationServerMetadata({
    issuer: options.issuer,
    dpopSigningAlgorithms: dpop.algorithms,
  });
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
          ...oauthMetadata,
          scopes_supported: ['openid', 'email', 'profile'],
          access_token_signing_alg_values_supported: [options.accessTokenAlgorithm],
        };
        return respond(200, openIdConfigurationResponseSchema, metadata, PUBLIC_CACHE);
      },
    }),
    declareRoute({
      route: 'GET /.well-known/oauth-authorization-server',
      credentials: [],
      operationId: 'getAuthorizationServerMetadata',
      summary: 'RFC 8414 metadata: the token, revocation and introspection endpoints and what they accept',
      description:
        'Here for an issuer without a path. For an issuer with a path, RFC 8414 §3.1 puts the metadata at the host root (`/.well-known/oauth-authorization-server/<path>`): serve `exchange.authorizationServerMetadata` there.',
      tag: 'Discovery',
      cacheControl: 'public',
      responses: { 200: oauthMetadataResponseSchema },
      errors: [],
      async run() {
        return respond(200, oauthMetadataResponseSchema, oauthMetadata, PUBLIC_CACHE);
      },
    }),
  ];
}
