import { RialtoError } from '../../errors.js';
import { type OAuthEndpoint, oauthErrorResponse, toOAuthError } from '../../oauth/error-mapping.js';
import { type FormParameters, parseFormBody } from '../../oauth/form-body.js';
import { OAuthError } from '../../oauth/oauth-error.js';
import { tokenRequestSchema } from '../../oauth/token-request.js';
import type { Services } from '../../services.js';
import type { OAuthGrantLabel } from '../../telemetry/prometheus-metrics.js';
import { createTokenIntrospection, typeOf } from '../../tokens/introspect-token.js';
import { ACCESS_TOKEN_TYPE } from '../../tokens/mint-tokens.js';
import type { RequestLike, ResponseLike } from '../http-types.js';
import { json, respond } from '../messages.js';
import { authenticateOAuthCaller, type OAuthCaller, type OAuthClientAttempt } from '../oauth-client.js';
import { declareRoute, type Route } from '../route.js';
import {
  emptyResponseSchema,
  oauthIntrospectionRequestSchema,
  oauthIntrospectionResponseSchema,
  oauthRevocationRequestSchema,
  oauthTokenResponseSchema,
} from '../wire-format.js';

/** `POST /oauth/token`, and for resource servers `POST /oauth/revoke` (RFC 7009) and `POST /oauth/introspect` (RFC 7662). */
export function oauthRoutes(services: Services): Route[] {
  const { options, apiKeys, adminAuth, refreshTokens, accessTokens, exchange, tokenEndpoint } = services;
  // Every request counts against the per-address limit, refused ones included.
  const admitClientAddress = services.addressLimit.admit;
  const introspection = createTokenIntrospection({ accessTokens, refreshTokens });
  const recorder = services.telemetry.metrics;
  const tokenErrorContext = (request: RequestLike) => ({
    endpoint: 'token' as const,
    clientAuthMethod: triedBasic(request) ? ('client_secret_basic' as const) : undefined,
    remoteRetryAfterSeconds: options.remoteFailureBackoffSeconds,
  });

  /**
   * What both endpoints do before their own work, and their error answers: the per-address limit
   * (refused authentications count too), the form body, the caller, the per-organization limit.
   */
  async function serve(
    endpoint: OAuthEndpoint,
    request: RequestLike,
    answer: (parameters: FormParameters, caller: OAuthCaller) => Promise<ResponseLike>,
  ): Promise<ResponseLike> {
    const attempt: OAuthClientAttempt = {};
    try {
      admitClientAddress(request);
      const parameters = parseFormBody(request, { maxBytes: options.maxBodyBytes });
      const caller = await authenticateOAuthCaller(
        request,
        parameters,
        attempt,
        { apiKeys, adminAuth },
        { admitsAdmin: endpoint === 'introspection' },
      );
      if (caller.kind === 'client') await exchange.deps.admitOrganization(caller.orgId);
      return await answer(parameters, caller);
    } catch (error) {
      const response = oauthErrorResponse(error, {
        endpoint,
        clientAuthMethod: attempt.method,
        remoteRetryAfterSeconds: options.remoteFailureBackoffSeconds,
      });
      if (response.status >= 500) {
        const { error: code } = response.body as { error: string };
        options.logger.error({ err: error, code }, 'rialto-exchange request failed');
      }
      return response;
    }
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
        answerError: (error, request) => oauthErrorResponse(error, tokenErrorContext(request)),
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
          recorder.oauthTokenAnswered(grantType, toOAuthError(error, tokenErrorContext(request)).code);
          throw error;
        }
      },
    }),
    declareRoute({
      route: 'POST /oauth/revoke',
      credentials: [],
      handlesRequestItself: true,
      oauth: { endpoint: 'revocation', form: oauthRevocationRequestSchema },
      operationId: 'oauthRevoke',
      summary: 'Revoke a refresh token of the authenticating organization, ending its family (RFC 7009)',
      description:
        "The organization authenticates as the OAuth client (`client_id` = org id, `client_secret` = API key; Basic, body or X-API-Key). Unknown, expired, already revoked and other organizations' tokens answer 200 and change nothing. Access tokens are not revocable (no deny-list): `400 unsupported_token_type`; they expire within `accessTokenTtlSeconds`.",
      tag: 'Tokens',
      responses: { 200: emptyResponseSchema },
      errors: [],
      run: (request) =>
        serve('revocation', request, async (parameters, caller) => {
          const token = requiredToken(parameters);
          const orgId = caller.kind === 'client' ? caller.orgId : undefined;
          if (orgId !== undefined && !(await refreshTokens.revokeOfOrganization(token, orgId))) {
            // RFC 7009 §2.2.1: only a token that is recognizably an access token is refused, whatever
            // its signature says, so the answer reveals nothing about other organizations' tokens.
            if (typeOf(token) === ACCESS_TOKEN_TYPE) throw unsupportedTokenType();
          }
          return respond(200, emptyResponseSchema, {});
        }),
    }),
    declareRoute({
      route: 'POST /oauth/introspect',
      credentials: [],
      handlesRequestItself: true,
      oauth: { endpoint: 'introspection', form: oauthIntrospectionRequestSchema },
      operationId: 'oauthIntrospect',
      summary: 'Describe an access or refresh token to a resource server (RFC 7662)',
      description:
        'An organization (client credentials) sees its own tokens only; the admin token (`Authorization: Bearer`) sees every one. Expired, revoked, used, tampered, deleted-user, suspended-organization and other organizations\' tokens are `{ "active": false }` and nothing else. Access tokens stay active until `exp` after their refresh family is revoked.',
      tag: 'Tokens',
      responses: { 200: oauthIntrospectionResponseSchema },
      errors: [],
      run: (request) =>
        serve('introspection', request, async (parameters, caller) => {
          const token = requiredToken(parameters);
          const viewer =
            caller.kind === 'admin' ? caller : { kind: 'organization' as const, orgId: caller.orgId };
          return json(200, await introspection.introspect(token, viewer));
        }),
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

// RFC 6749 §5.2: a failed Basic authentication is challenged, whatever else the request got wrong.
function triedBasic(request: RequestLike): boolean {
  const authorization = request.headers.authorization;
  const value = Array.isArray(authorization) ? authorization[0] : authorization;
  return value !== undefined && /^basic(?: |$)/i.test(value);
}
