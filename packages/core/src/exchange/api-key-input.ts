import { RialtoError } from '../errors.js';
import type { RequestLike } from '../http/http-types.js';
import { header, isPlainObject, parseJsonBody } from '../http/messages.js';
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
      // RFC 9449 §5.2: the binding cannot be skipped by asking the route that takes no proof.
      if (org.dpopBoundAccessTokens === true) {
        throw new RialtoError(
          'invalid_request',
          "This organization's access tokens must be DPoP-bound: exchange at POST /oauth/token with a DPoP proof (RFC 9449).",
        );
      }
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
