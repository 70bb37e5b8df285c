import { RialtoError } from '../../errors.js';
import {
  authenticateClient,
  clientAuthMethodOf,
  readClientCredentials,
  requireClientCredentials,
} from '../../oauth/client-authentication.js';
import {
  type OAuthEndpoint,
  type OAuthErrorContext,
  oauthErrorResponse,
  toOAuthError,
} from '../../oauth/error-mapping.js';
import { type FormParameters, parseFormBody } from '../../oauth/form-body.js';
import { OAuthError } from '../../oauth/oauth-error.js';
import { tokenRequestSchema } from '../../oauth/token-request.js';
import type { Services } from '../../services.js';
import type { OAuthGrantLabel } from '../../telemetry/prometheus-metrics.js';
import { createTokenIntrospection, typeOf } from '../../tokens/introspect-token.js';
import { ACCESS_TOKEN_TYPE } from '../../tokens/mint-tokens.js';
import type { RequestLike, ResponseLike } from '../http-types.js';
import { header, json, respond } from '../messages.js';
import { declareRoute, type Route } from '../route.js';
import {
  emptyResponseSchema,
  oauthIntrospectionRequestSchema,
  oauthIntrospectionResponseSchema,
  oauthRevocationRequestSchema,
  oauthTokenResponseSchema,
} from '../wire-format.js';

/** Who called the revocation or introspection endpoint: an organization as its OAuth client, or the service admin. */
type OAuthCaller = { kind: 'client'; orgId: string } | { kind: 'admin' };

/** `POST /oauth/token`, and for resource servers `POST /oauth/revoke` (RFC 7009) and `POST /oauth/introspect` (RFC 7662). */
export function oauthRoutes(services: Services): Route[] {
  const { options, apiKeys, adminAuth, refreshTokens, accessTokens, exchange, tokenEndpoint } = services;
  // Every request counts against the per-address limit, refused ones included.
  const admitClientAddress = services.addressLimit.admit;
  const introspection = createTokenIntrospection({ accessTokens, refreshTokens });
  const recorder = services.telemetry.metrics;
  const errorContext = (endpoint: OAuthEndpoint, request: RequestLike): OAuthErrorContext => ({
    endpoint,
    clientAuthMethod: clientAuthMethodOf(request),
    remoteRetryAfterSeconds: options.remoteFailureBackoffSeconds,
  });
  // The route table answers whatever an endpoint throws through this, and logs it.
  const answerErrorOf =
    (endpoint: OAuthEndpoint) =>
    (error: unknown, request: RequestLike): ResponseLike =>
      oauthErrorResponse(error, errorContext(endpoint, request));

  /**
   * What revocation and introspection do before their own work: the per-address limit (refused
   * authentications count too), the form body, the caller, the per-organization limit.
   */
  async function admitCaller(
    request: RequestLike,
    { admitsAdmin }: { admitsAdmin: boolean },
  ): Promise<{ parameters: FormParameters; caller: OAuthCaller }> {
    admitClientAddress(request);
    const parameters = parseFormBody(request, { maxBytes: options.maxBodyBytes });
    const caller = await authenticateCaller(request, parameters, admitsAdmin);
    if (caller.kind === 'client') await exchange.deps.admitOrganization(caller.orgId);
    return { parameters, caller };
  }

  /**
   * The organization's client credentials (RFC 6749 §2.3.1, or `X-API-Key`), or, where
   * `admitsAdmin`, the admin token as `Authorization: Bearer` (RFC 7662 §2.1 lets a resource server
   * use a bearer token there).
   * @throws RialtoError as `requireClientCredentials` and `authenticateClient` do, or `unauthorized`
   * for an Authorization header that is neither (answered `401 invalid_client`)
   */
  async function authenticateCaller(
    request: RequestLike,
    parameters: FormParameters,
    admitsAdmin: boolean,
  ): Promise<OAuthCaller> {
    if (admitsAdmin && readClientCredentials(request.headers, parameters) === undefined) {
      if (await adminAuth.isAdmin(request)) return { kind: 'admin' };
      if (header(request, 'authorization') !== undefined) {
        throw new RialtoError(
          'unauthorized',
          'The Authorization header is neither client credentials nor admin credentials.',
        );
      }
    }
    const credentials = requireClientCredentials(request, parameters);
    return { kind: 'client', orgId: await authenticateClient(credentials, apiKeys) };
  }

  return [
    declareRoute({
      route: 'POST /oauth/token',
      credentials: [],
      handlesRequestItself: true,
      operationId: 'oauthToken',
      summary: 'OAuth 2.0 token endpoint: token exchange (RFC 8693), jwt-bearer (RFC 7523) and refresh_token',
      description:
        "The organization is the OAuth client: `client_id` is its id, `client_secret` its API key, sent by HTTP Basic (`client_secret_basic`), in the form (`client_secret_post`) or as `X-API-Key`. Token exchange takes the partner IdP's ID token as `subject_token`, jwt-bearer as `assertion`; `audience`, `resource` and `scope` narrow the token to some of the organization's audiences. A `DPoP` proof binds the access token to its key (RFC 9449).",
      tag: 'Tokens',
      responses: { 200: oauthTokenResponseSchema },
      errors: [],
      oauth: {
        endpoint: 'token',
        form: tokenRequestSchema,
        answerError: answerErrorOf('token'),
      },
      async run(request) {
        if (recorder === undefined) {
          admitClientAddress(request);
          return json(200, await tokenEndpoint.token(request));
        }
        let grantType: OAuthGrantLabel = 'unsupported';
        try {
          admitClientAddress(request);
          const tokens = await tokenEndpoint.token(request, (label) => {
            grantType = label;
          });
          recorder.oauthTokenAnswered(grantType, 'success');
          return json(200, tokens);
        } catch (error) {
          recorder.oauthTokenAnswered(grantType, toOAuthError(error, errorContext('token', request)).code);
          throw error;
        }
      },
    }),
    declareRoute({
      route: 'POST /oauth/revoke',
      credentials: [],
      handlesRequestItself: true,
      oauth: {
        endpoint: 'revocation',
        form: oauthRevocationRequestSchema,
        answerError: answerErrorOf('revocation'),
      },
      operationId: 'oauthRevoke',
      summary: 'Revoke a refresh token of the authenticating organization, ending its family (RFC 7009)',
      description:
        "The organization authenticates as the OAuth client (`client_id` = org id, `client_secret` = API key; Basic, body or X-API-Key). Unknown, expired, already revoked and other organizations' tokens answer 200 and change nothing. Access tokens are not revocable (no deny-list): `400 unsupported_token_type`; they expire within `accessTokenTtlSeconds`.",
      tag: 'Tokens',
      responses: { 200: emptyResponseSchema },
      errors: [],
      async run(request) {
        const { parameters, caller } = await admitCaller(request, { admitsAdmin: false });
        const token = requiredToken(parameters);
        const orgId = caller.kind === 'client' ? caller.orgId : undefined;
        if (orgId !== undefined && !(await refreshTokens.revokeOfOrganization(token, orgId))) {
          // RFC 7009 §2.2.1: only a token that is recognizably an access token is refused, whatever
          // its signature says, so the answer reveals nothing about other organizations' tokens.
          if (typeOf(token) === ACCESS_TOKEN_TYPE) throw unsupportedTokenType();
        }
        return respond(200, emptyResponseSchema, {});
      },
    }),
    declareRoute({
      route: 'POST /oauth/introspect',
      credentials: [],
      handlesRequestItself: true,
      oauth: {
        endpoint: 'introspection',
        form: oauthIntrospectionRequestSchema,
        answerError: answerErrorOf('introspection'),
      },
      operationId: 'oauthIntrospect',
      summary: 'Describe an access or refresh token to a resource server (RFC 7662)',
      description:
        'An organization (client credentials) sees its own tokens only; the admin token (`Authorization: Bearer`) sees every one. Expired, revoked, used, tampered, deleted-user, suspended-organization and other organizations\' tokens are `{ "active": false }` and nothing else. Access tokens stay active until `exp` after their refresh family is revoked.',
      tag: 'Tokens',
      responses: { 200: oauthIntrospectionResponseSchema },
      errors: [],
      async run(request) {
        const { parameters, caller } = await admitCaller(request, { admitsAdmin: true });
        const token = requiredToken(parameters);
        const viewer =
          caller.kind === 'admin' ? caller : { kind: 'organization' as const, orgId: caller.orgId };
        return json(200, await introspection.introspect(token, viewer));
      },
    }),
  ];
}

function requiredToken(parameters: FormParameters): string {
  const { token } = parameters;
  if (typeof token !== 'string') {
    throw new RialtoError(
      'invalid_request',
      'The token parameter is required (RFC 7009 §2.1, RFC 7662 §2.1).',
    );
  }
  return token;
}

function unsupportedTokenType(): OAuthError {
  return new OAuthError(
    'unsupported_token_type',
    'Access tokens cannot be revoked: they expire on their own within minutes. Revoke the refresh token instead.',
  );
}
