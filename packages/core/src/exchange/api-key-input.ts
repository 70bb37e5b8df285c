import type { RequestLike } from '../http/http-types.js';
import { header, isPlainObject, parseJsonBody } from '../http/messages.js';
import { refuseUnboundTokens } from '../oauth/dpop-requirement.js';
import type { ExchangeInput } from './exchange-context.js';

/**
 * The way in of `POST /identity/auth/exchange` and its debugger: the organization's API key in
 * `X-API-Key`, the ID token as the `token` of a JSON body.
 */
export function apiKeyExchangeInput(request: RequestLike): ExchangeInput {
  return {
    authenticateClient: (apiKeys) => apiKeys.authenticate(header(request, 'x-api-key')),
    readIdToken() {
      const body = parseJsonBody(request.body, 'invalid_token');
      return isPlainObject(body) ? body.token : undefined;
    },
    grant(org) {
      refuseUnboundTokens(org, 'exchange at POST /oauth/token with a DPoP proof');
      return undefined;
    },
    grantType: 'exchange',
  };
}

/** The way in of `POST /identity/auth/exchange/explain`: the exchange's, and a draft `policy` in the body. */
export function apiKeyExplainInput(request: RequestLike): ExchangeInput {
  return {
    ...apiKeyExchangeInput(request),
    readDraftPolicy() {
      const body = parseJsonBody(request.body, 'invalid_token');
      return isPlainObject(body) ? body.policy : undefined;
    },
  };
}
