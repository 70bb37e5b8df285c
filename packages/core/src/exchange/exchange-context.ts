import type { Tracer } from '@opentelemetry/api';
import type { JWTVerifyGetKey } from 'jose';
import type { Discovery, IssuerMetadata } from '../issuers/discovery.js';
import type { CompiledPolicies } from '../issuers/issuer-policies.js';
import type { IssuerRegistrations } from '../issuers/issuer-registrations.js';
import type { RemoteJwks } from '../issuers/remote-jwks.js';
import type { ApiKeys } from '../organizations/api-keys.js';
import type { Organizations } from '../organizations/organizations.js';
import type { JsonValue } from '../policy/custom-claims.js';
import type { PolicyEvaluation } from '../policy/evaluate-policy.js';
import type { PolicyHookOutcome, PolicyHookRunner } from '../policy/policy-hook.js';
import type { IssuerRegistrationRecord, OrganizationRecord, Store } from '../store/store.js';
import type { RialtoEvents } from '../telemetry/audit-events.js';
import type { OAuthGrant, TokenMinter, TokenResponse } from '../tokens/mint-tokens.js';
import type { ProvisionedUser, ProvisioningPreview } from '../users/provision-user.js';
import type { UnverifiedIdToken, VerifiedIdentity } from './id-token.js';

/**
 * What a way in to the exchange supplies: how its client authenticates and where the ID token is.
 * The seed route `POST /identity/auth/exchange` takes the `X-API-Key` header and the JSON body's
 * `token` (`apiKeyExchangeInput`); an OAuth token endpoint would take client_secret_basic or
 * client_secret_post and a form's `subject_token` or `assertion`, and run the same steps.
 */
export interface ExchangeInput {
  /**
   * Authenticates the client, with the API keys the exchange holds (whatever carries the key).
   * @returns the id of the client's organization
   * @throws RialtoError when credentials are missing or wrong
   */
  authenticateClient(apiKeys: ApiKeys): Promise<string>;
  /**
   * The ID token as received, nothing checked yet. Read once the client is authenticated, so a
   * malformed body is never answered before missing credentials.
   * @throws RialtoError `invalid_token` when the request carries nothing a token could be read from
   */
  readIdToken(): unknown;
  /**
   * The debugger's draft exchange policy (`policy` of its body), as received; `undefined` when
   * none was sent, and always for the exchange itself.
   */
  readDraftPolicy?(): unknown;
  /**
   * What the tokens are granted for beyond the organization's defaults, decided once the token is
   * verified and before anything is written: the token endpoint narrows the audiences and binds a
   * DPoP key; the seed route grants the organization's whole audience (`undefined`).
   * @throws RialtoError or OAuthError when the request asks for what the organization may not get
   */
  grant(org: OrganizationRecord): Promise<OAuthGrant | undefined> | OAuthGrant | undefined;
  /** The `grant_type` label of metrics and audit events. */
  readonly grantType: ExchangeGrantType;
}

/**
 * How an exchange was asked for, as metrics and audit events name it: a fixed set, so labels stay
 * bounded. `exchange` is the seed route `POST /identity/auth/exchange`.
 */
export type ExchangeGrantType = 'exchange' | OAuthExchangeGrantType;

/** The token endpoint's grants that run the exchange. */
export type OAuthExchangeGrantType = 'token_exchange' | 'jwt_bearer';

/** What the steps use, built once per exchange instance and shared by every request. */
export interface ExchangeDependencies {
  store: Store;
  /** API keys alone: the organization's standing is a step of its own. */
  apiKeys: ApiKeys;
  organizations: Organizations;
  issuers: IssuerRegistrations;
  discovery: Discovery;
  remoteJwks: RemoteJwks;
  minter: TokenMinter;
  events: RialtoEvents;
  /** Each step runs in its own span, `rialto.exchange.<step>`. */
  tracer: Tracer;
  /** @throws RialtoError `rate_limited` when the organization is over its limit */
  admitOrganization(orgId: string): Promise<void>;
  maxTokenBytes: number;
  clockToleranceSeconds: number;
  /** Tokens whose `exp` is further away than this are refused: ID tokens are meant to be short-lived. */
  maxIdTokenLifetimeSeconds: number;
  /** Each ID token may be exchanged once (see `RialtoExchangeOptions.singleUseIdTokens`). */
  singleUseIdTokens: boolean;
  /** Each registration's exchange policy, compiled once per version. */
  policies: CompiledPolicies;
  /** The host's `exchangePolicyHook` under its deadline, when it has one. */
  runPolicyHook: PolicyHookRunner | undefined;
}

/** What the `policy` step decided, for minting and the debugger. */
export interface PolicyResult {
  /** The registration's policy version, or `draft` for the debugger's draft. */
  version: number | 'draft';
  isDryRun: boolean;
  /** `null` when the policy has neither condition nor mappings. */
  evaluation: PolicyEvaluation | null;
  /** The hook's outcome; `none` without a hook, `not_run` when the condition denied first. */
  hook: PolicyHookOutcome | 'none' | 'not_run';
  /** The access token's custom claims: mapped, then the hook's. */
  claims: Record<string, JsonValue>;
}

/**
 * One request's way through the steps: what it came with, and what each step established, in
 * step order. A step reads only what earlier steps set (`established` says so when one did not).
 * Fields a later feature needs join here (a narrowed audience or a DPoP key thumbprint from the
 * way in, claims a policy adds), so minting reads them from the one context whatever the way in.
 */
export interface ExchangeContext {
  readonly deps: ExchangeDependencies;
  readonly input: ExchangeInput;
  /** `api_key`: the authenticated client's organization. */
  orgId?: string;
  /** `org_standing`, read again by `linking`: the organization, not suspended. */
  org?: OrganizationRecord;
  /** `token_shape`. */
  idToken?: UnverifiedIdToken;
  /** `issuer`: the registration of the token's issuer (and client) for the organization. */
  registration?: IssuerRegistrationRecord;
  /** `discovery`: the issuer's metadata and its key set, as cached. */
  metadata?: IssuerMetadata;
  keySet?: JWTVerifyGetKey;
  /**
   * `signature`: jose checks the times in the same call, after the signature; a time failure
   * means the signature held, so it is handed to `times` to answer.
   */
  timeFailure?: unknown;
  /** `times`: the clock the times were checked against, epoch seconds. */
  now?: number;
  /** `claims`. */
  identity?: VerifiedIdentity;
  /** `policy`. */
  policy?: PolicyResult;
  /** `grant`: what the way in narrowed or bound the tokens to. */
  grant?: OAuthGrant;
  /** `linking`, in the exchange. */
  provisioned?: ProvisionedUser;
  /** `linking`, in the token debugger: what the exchange would do, nothing written. */
  provisioningPreview?: ProvisioningPreview;
  /** `minting`. */
  tokens?: TokenResponse;
}

/**
 * A value an earlier step set. Steps run in order and stop at the first failure, so its absence
 * is a bug in the step list, never a client's error.
 */
export function established<T>(value: T | undefined): T {
  if (value === undefined) throw new Error('exchange step read a value that no earlier step set');
  return value;
}
