import { RialtoError } from '../../errors.js';
import { type OAuthEndpoint, oauthErrorResponse } from '../../oauth/error-mapping.js';
import { type FormParameters, parseFormBody } from '../../oauth/form-body.js';
import { OAuthError } from '../../oauth/oauth-error.js';
import type { Services } from '../../services.js';
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
} from '../wire-format.js';

/** `POST /oauth/revoke` (RFC 7009) and `POST /oauth/introspect` (RFC 7662), for resource servers. */
export function oauthRoutes(services: Services): Route[] {
  const { options, apiKeys, adminAuth, refreshTokens, accessTokens, exchange } = services;
  const admitClientAddress = services.addressLimit.admit;
  const introspection = createTokenIntrospection({ accessTokens, refreshTokens });

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
