import type { Tracer } from '@opentelemetry/api';
import { RialtoError } from '../errors.js';
import type { RequestLike } from '../http/http-types.js';
import { isPlainObject, parseJsonBody } from '../http/messages.js';
import type { IssuerRegistrations } from '../issuers/issuer-registrations.js';
import type { ApiKeys } from '../organizations/api-keys.js';
import type { Organizations } from '../organizations/organizations.js';
import type { IssuerRegistrationRecord, OrganizationRecord, Store } from '../store/store.js';
import { inSpan } from '../telemetry/tracing.js';
import type { TokenMinter, TokenResponse } from '../tokens/mint-tokens.js';
import { type ProvisionedUser, provisionUser } from '../users/provision-user.js';
import { consumeIdToken } from './consume-id-token.js';
import { decodeIdToken, type IdTokenVerifier, type UnverifiedIdToken } from './verify-id-token.js';

/** What an exchange established before it finished or failed, for audit events. */
export interface ExchangeProgress {
  orgId?: string;
  issuer?: string;
}

export interface TokenExchangeDependencies {
  store: Store;
  apiKeys: ApiKeys;
  organizations: Organizations;
  issuers: IssuerRegistrations;
  idTokens: IdTokenVerifier;
  minter: TokenMinter;
  maxTokenBytes: number;
  /** Each ID token may be exchanged once (see `RialtoExchangeOptions.singleUseIdTokens`). */
  singleUseIdTokens: boolean;
  clockToleranceSeconds: number;
  /** Called once the API key is authenticated; throws `rate_limited` when the org is over its limit. */
  admitOrganization(orgId: string): Promise<void>;
  /** Each step runs in its own span (`rialto.exchange.*`). */
  tracer: Tracer;
}

export interface ExchangeResult {
  tokens: TokenResponse;
  org: OrganizationRecord;
  /** The issuer registration the token was verified against. */
  registration: IssuerRegistrationRecord;
  provisioned: ProvisionedUser;
}

export interface TokenExchange {
  /**
   * Exchanges a partner IdP's ID token for this service's tokens. Checks run in a fixed order, so
   * a request with several faults always gets the same error: API key, token shape, issuer,
   * discovery, signature, times, token type, audience, claims; only then is anything written
   * (first the single-use record of the token, when `singleUseIdTokens` is on, then the user).
   * @param body the request body, expected to be the JSON `{ token }`
   */
  exchange(
    apiKeyHeader: string | undefined,
    body: RequestLike['body'],
    progress?: ExchangeProgress,
  ): Promise<ExchangeResult>;
}

/**
 * The ID token of an exchange body `{ token }`, decoded but not verified.
 * @throws RialtoError `invalid_token`
 */
export function idTokenOfBody(rawBody: RequestLike['body'], maxTokenBytes: number): UnverifiedIdToken {
  const body = parseJsonBody(rawBody, 'invalid_token');
  return decodeIdToken(isPlainObject(body) ? body.token : undefined, maxTokenBytes);
}

export function createTokenExchange(deps: TokenExchangeDependencies): TokenExchange {
  const { store, apiKeys, organizations, issuers, idTokens, minter, maxTokenBytes, admitOrganization } = deps;
  const { singleUseIdTokens, clockToleranceSeconds, tracer } = deps;

  return {
    async exchange(apiKeyHeader, rawBody, progress = {}) {
      const apiKeyOrgId = await inSpan(tracer, 'rialto.exchange.authenticate_api_key', () =>
        apiKeys.authenticate(apiKeyHeader),
      );
      progress.orgId = apiKeyOrgId;
      await admitOrganization(apiKeyOrgId);
      const idToken = idTokenOfBody(rawBody, maxTokenBytes);
      const registration = await inSpan(tracer, 'rialto.exchange.find_organization', () =>
        issuers.resolve(apiKeyOrgId, idToken.payload.iss, idToken.payload.aud),
      );
      progress.issuer = registration.issuer;
      const identity = await inSpan(tracer, 'rialto.exchange.verify_id_token', () =>
        idTokens.verify(idToken, registration),
      );
      const org = await organizations.get(apiKeyOrgId);
      // The key authenticated, so the org existed a moment ago; gone now means it was just deleted.
      if (!org) throw new RialtoError('invalid_api_key');
      if (singleUseIdTokens) await consumeIdToken(store, idToken, clockToleranceSeconds);
      const provisioned = await inSpan(tracer, 'rialto.exchange.provision_user', () =>
        provisionUser(store, org, identity, registration),
      );
      const tokens = await inSpan(tracer, 'rialto.exchange.mint_tokens', () =>
        minter.mint(org, provisioned.user),
      );
      return { tokens, org, registration, provisioned };
    },
  };
}
