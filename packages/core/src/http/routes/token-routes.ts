import { apiKeyExchangeInput, apiKeyExplainInput } from '../../exchange/api-key-input.js';
import { explainExchange } from '../../exchange/explain-exchange.js';
import { EXCHANGE_ERRORS, EXPLAIN_ERRORS } from '../../exchange/pipeline.js';
import { runExchange } from '../../exchange/run-exchange.js';
import type { Services } from '../../services.js';
import type { RequestLike } from '../http-types.js';
import { json, respond } from '../messages.js';
import { declareRoute, type Route } from '../route.js';
import {
  emptyResponseSchema,
  exchangeExplanationResponseSchema,
  exchangeRequestSchema,
  explainRequestSchema,
  refreshRequestSchema,
  tokenResponseSchema,
} from '../wire-format.js';

/** `POST /identity/auth/exchange`, `/exchange/explain`, `/refresh` and `/revoke`. */
export function tokenRoutes({ exchange, refreshTokens, tokenEndpoint, addressLimit }: Services): Route[] {
  // Every request of these routes counts, before its API key or refresh token is looked at.
  const admitClient = addressLimit.admit;

  return [
    declareRoute({
      route: 'POST /identity/auth/exchange',
      credentials: ['apiKey'],
      handlesRequestItself: true,
      body: exchangeRequestSchema,
      operationId: 'exchangeToken',
      summary: "Exchange a partner IdP's ID token for this service's access and refresh tokens",
      tag: 'Tokens',
      responses: { 200: tokenResponseSchema },
      errors: [...EXCHANGE_ERRORS],
      async run(request) {
        admitClient(request);
        return json(200, await runExchange(exchange, apiKeyExchangeInput(request)));
      },
    }),
    declareRoute({
      route: 'POST /identity/auth/exchange/explain',
      credentials: ['apiKey'],
      handlesRequestItself: true,
      body: explainRequestSchema,
      operationId: 'explainExchange',
      summary: 'Run every check of an exchange, writing and minting nothing, and report each step',
      description:
        "Takes the exchange's JSON body with `X-API-Key`, or a `POST /oauth/token` form body (`grant_type` token-exchange or jwt-bearer, `subject_token` and `subject_token_type` or `assertion`, `audience`, `resource`, `scope`) with its client authentication, and reports the same steps. Its `grant` step reports what the token endpoint would grant (the narrowed audience, or its `invalid_target` or `invalid_scope`, and `invalid_dpop_proof` without a `DPoP` header for an organization that requires DPoP-bound tokens; a proof is not checked here) or, for the JSON body, the seed exchange's refusal of such an organization.",
      tag: 'Tokens',
      responses: { 200: exchangeExplanationResponseSchema },
      // invalid_request: a token-endpoint body that is malformed or asks for no exchange.
      errors: [...EXPLAIN_ERRORS, 'invalid_request'],
      async run(request) {
        // The exchange's own limits: explaining is no way around them.
        admitClient(request);
        return respond(
          200,
          exchangeExplanationResponseSchema,
          await explainExchange(
            exchange,
            isForm(request) ? tokenEndpoint.explainInput(request) : apiKeyExplainInput(request),
          ),
        );
      },
    }),
    declareRoute({
      route: 'POST /identity/auth/refresh',
      credentials: [],
      handlesRequestItself: true,
      body: refreshRequestSchema,
      operationId: 'refreshTokens',
      summary: 'Trade a refresh token (once) for a new access and refresh token',
      tag: 'Tokens',
      responses: { 200: tokenResponseSchema },
      errors: [
        'invalid_request',
        'invalid_grant',
        'organization_suspended',
        'rate_limited',
        'temporarily_unavailable',
      ],
      async run(request) {
        admitClient(request);
        return json(200, await refreshTokens.refresh(request.body));
      },
    }),
    declareRoute({
      route: 'POST /identity/auth/revoke',
      credentials: [],
      handlesRequestItself: true,
      body: refreshRequestSchema,
      operationId: 'revokeRefreshToken',
      summary: "Revoke a refresh token's family; an unknown token is not an error (RFC 7009)",
      tag: 'Tokens',
      responses: { 200: emptyResponseSchema },
      errors: ['invalid_request', 'rate_limited', 'temporarily_unavailable'],
      async run(request) {
        admitClient(request);
        await refreshTokens.revoke(request.body);
        return respond(200, emptyResponseSchema, {});
      },
    }),
  ];
}

// A token-endpoint body is a form (RFC 6749 §3.2); the exchange's own is JSON.
function isForm(request: RequestLike): boolean {
  const type = request.headers['content-type'];
  const value = Array.isArray(type) ? type[0] : type;
  return value?.split(';')[0]?.trim().toLowerCase() === 'application/x-www-form-urlencoded';
}
