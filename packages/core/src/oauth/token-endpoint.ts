import { RialtoError } from '../errors.js';
import type { ExchangeInput } from '../exchange/exchange-context.js';
import type { ExchangePipeline } from '../exchange/pipeline.js';
import { runExchange } from '../exchange/run-exchange.js';
import type { RequestLike } from '../http/http-types.js';
import type { ApiKeys } from '../organizations/api-keys.js';
import type { OrganizationRecord } from '../store/store.js';
import type { OAuthGrantLabel } from '../telemetry/prometheus-metrics.js';
import { type OAuthGrant, scopeFor, scopeOf, type TokenResponse } from '../tokens/mint-tokens.js';
import type { RefreshTokens } from '../tokens/refresh-tokens.js';
import type { AudienceNarrowing } from './audience-narrowing.js';
import {
  authenticateClient,
  type ClientCredentials,
  requireClientCredentials,
} from './client-authentication.js';
import type { DpopProofVerifier } from './dpop-proof.js';
import { oauthEndpointUrl } from './endpoints.js';
import { parseFormBody } from './form-body.js';
import { OAuthError } from './oauth-error.js';
import {
  ACCESS_TOKEN_TYPE,
  JWT_BEARER_GRANT,
  parseTokenRequest,
  REFRESH_TOKEN_GRANT,
  TOKEN_EXCHANGE_GRANT,
  type TokenRequest,
} from './token-request.js';

/** The answer of `POST /oauth/token` (RFC 6749 §5.1, RFC 8693 §2.2.1). */
export type OAuthTokenResponse = TokenResponse & { issued_token_type?: typeof ACCESS_TOKEN_TYPE };

export interface TokenEndpointOptions {
  /** The service's issuer: the DPoP proof's `htu` is the endpoint URL built from it. */
  issuer: string;
  exchange: ExchangePipeline;
  refreshTokens: RefreshTokens;
  /** The organizations' API keys alone: the organization's standing is the exchange's own step. */
  apiKeys: Pick<ApiKeys, 'authenticate'>;
  narrowing: AudienceNarrowing;
  dpop: DpopProofVerifier;
  maxBodyBytes: number;
  /**
   * Whether the organization's access tokens must be DPoP-bound (`dpop_bound_access_tokens`,
   * RFC 9449 §5.2): then a request without a proof is refused.
   */
  requiresDpop(org: OrganizationRecord): boolean;
}

export interface TokenEndpoint {
  /**
   * Answers a token request: form body, client authentication, then the grant, through the
   * exchange's own steps (token exchange, jwt-bearer) or its refresh rotation (refresh_token).
   * @throws RialtoError or OAuthError, answered by `oauthErrorResponse`
   */
  token(request: RequestLike, onGrantType?: (label: OAuthGrantLabel) => void): Promise<OAuthTokenResponse>;
  /**
   * The exchange's input for a token-endpoint body at the debugger: the same client
   * authentication, ID token and grant (narrowing, and the organization's DPoP requirement). A
   * `DPoP` header counts as a proof but is not checked: its `htu` names the token endpoint, and
   * checking it would use up its `jti`.
   * @throws RialtoError `invalid_request` for a body that is no token-exchange or jwt-bearer request
   */
  explainInput(request: RequestLike): ExchangeInput;
}

const GRANT_LABELS: Partial<Record<string, OAuthGrantLabel>> = {
  [TOKEN_EXCHANGE_GRANT]: 'token_exchange',
  [JWT_BEARER_GRANT]: 'jwt_bearer',
  [REFRESH_TOKEN_GRANT]: 'refresh_token',
};

type ExchangeGrantRequest = Exclude<TokenRequest, { grantType: typeof REFRESH_TOKEN_GRANT }>;

/**
 * `POST /oauth/token`: the organization is the OAuth client, its API key the client secret. Token
 * exchange (RFC 8693) and jwt-bearer (RFC 7523) run the exchange's pipeline with the subject token
 * or assertion as the ID token; refresh_token (RFC 6749 §6) runs the seed refresh's rotation.
 */
export function createTokenEndpoint(options: TokenEndpointOptions): TokenEndpoint {
  const { exchange, refreshTokens, apiKeys, narrowing, dpop, maxBodyBytes, requiresDpop } = options;
  const tokenUrl = oauthEndpointUrl(options.issuer, 'token');

  function proofKey(request: RequestLike): () => Promise<string | undefined> | undefined {
    // Most requests carry no proof: they bind nothing and wait for nothing.
    return () => {
      const proof = request.headers.dpop;
      if (proof === undefined) return undefined;
      return dpop.verify(proof, { method: 'POST', url: tokenUrl }).then((verified) => verified.jkt);
    };
  }

  function exchangeInput(
    credentials: ClientCredentials,
    grantRequest: ExchangeGrantRequest,
    bindKey: () => Promise<string | undefined> | undefined,
  ): ExchangeInput {
    return {
      grantType: grantRequest.grantType === TOKEN_EXCHANGE_GRANT ? 'token_exchange' : 'jwt_bearer',
      authenticateClient: () => authenticateClient(credentials, apiKeys),
      readIdToken: () =>
        grantRequest.grantType === TOKEN_EXCHANGE_GRANT ? grantRequest.subjectToken : grantRequest.assertion,
      async grant(org): Promise<OAuthGrant> {
        const { audience } = narrowing.narrow(grantRequest.targets, scopeFor(org));
        const binding = bindKey();
        const jkt = binding === undefined ? undefined : await binding;
        if (jkt === undefined && requiresDpop(org)) {
          throw new OAuthError(
            'invalid_dpop_proof',
            "This organization's access tokens must be DPoP-bound: send a DPoP proof (RFC 9449 §4).",
          );
        }
        return jkt === undefined ? { audience } : { audience, jkt };
      },
    };
  }

  return {
    async token(request, onGrantType) {
      const parameters = parseFormBody(request, { maxBytes: maxBodyBytes });
      onGrantType?.(GRANT_LABELS[String(parameters.grant_type)] ?? 'unsupported');
      const credentials = requireClientCredentials(request, parameters);
      const tokenRequest = parseTokenRequest(parameters);
      if (tokenRequest.grantType === REFRESH_TOKEN_GRANT) {
        const orgId = await authenticateClient(credentials, apiKeys);
        // The exchange's per-organization budget: the client is known, so its refreshes count too.
        await exchange.deps.admitOrganization(orgId);
        return refreshTokens.refreshForClient({
          refreshToken: tokenRequest.refreshToken,
          orgId,
          proofKey: proofKey(request),
          narrow: (familyAudience) =>
            narrowing.narrow(tokenRequest.targets, scopeOf(familyAudience)).audience,
        });
      }
      const tokens = await runExchange(exchange, exchangeInput(credentials, tokenRequest, proofKey(request)));
      // RFC 7523 has no issued_token_type; RFC 8693 §2.2.1 requires it.
      return tokenRequest.grantType === JWT_BEARER_GRANT
        ? tokens
        : { ...tokens, issued_token_type: ACCESS_TOKEN_TYPE };
    },

    explainInput(request) {
      try {
        const parameters = parseFormBody(request, { maxBytes: maxBodyBytes });
        const credentials = requireClientCredentials(request, parameters);
        const tokenRequest = parseTokenRequest(parameters);
        if (tokenRequest.grantType === REFRESH_TOKEN_GRANT) {
          throw new RialtoError(
            'invalid_request',
            'The debugger explains token exchange and jwt-bearer requests; a refresh runs no exchange.',
          );
        }
        return exchangeInput(credentials, tokenRequest, unverifiedProofKey(request));
      } catch (error) {
        // The debugger answers in the service's own format: an OAuth-only refusal is a malformed request there.
        if (error instanceof OAuthError) throw new RialtoError('invalid_request', error.description);
        throw error;
      }
    },
  };
}

// The debugger's stand-in for a proof's key: present when a proof was sent, never checked or minted into a token.
const UNVERIFIED_PROOF_KEY = 'unverified-dpop-proof';

function unverifiedProofKey(request: RequestLike): () => Promise<string | undefined> {
  return async () => (request.headers.dpop === undefined ? undefined : UNVERIFIED_PROOF_KEY);
}
