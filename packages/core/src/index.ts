/**
 * Everything that is not Express: ID-token verification, API keys, organizations, users, token minting and refresh, signing keys, webhooks, the `Store` contract and the HTTP-agnostic handler `createRialtoExchange`.
 * @packageDocumentation
 * @module @rialto-exchange/core
 */

export type { RialtoExchange } from './create-rialto-exchange.js';
export { createRialtoExchange } from './create-rialto-exchange.js';
export type { ErrorBody, RialtoErrorCode, RialtoErrorOptions } from './errors.js';
export { RialtoError, StoreUnavailableError } from './errors.js';
export type { ExchangeExplanation, ExplainedError, ExplainStep, ExplainStepName } from './exchange/index.js';
export { exchangeErrorFix } from './exchange/index.js';
// The facade's groups: `exchange.organizations`, `.apiKeys`, `.issuers`, `.users`, `.keys`, `.webhooks`,
// `.health`, `.consoleSessions`, `.operators`.
export type {
  ApiKeySummary,
  DiscoveryCheck,
  OrganizationOverview,
  RialtoApiKeys,
  RialtoConsoleSessions,
  RialtoHealth,
  RialtoIssuers,
  RialtoKeys,
  RialtoOperators,
  RialtoOrganizations,
  RialtoUsers,
  RialtoWebhooks,
  StartedConsoleSession,
  WebhookSubscriptionSummary,
} from './facade/index.js';
export type { HealthSummary, StoreProbeResult } from './health/index.js';
// The HTTP API's OpenAPI document and the option that serves it.
export type {
  FetchHandler,
  FetchHandlerOptions,
  FetchRequestContext,
  HealthOptions,
  OpenApiDocument,
  OpenApiOptions,
  RequestLike,
  ResponseLike,
} from './http/index.js';
export { createFetchHandler } from './http/index.js';
export type {
  IssuerPolicyDiff,
  IssuerPolicyPatch,
  IssuerRegistrationInput,
  PolicyChangedBy,
} from './issuers/index.js';
export type { AccessTokenAlgorithm, HostKeys, RotatedKey, SigningKeyStatus } from './keys/index.js';
export type { Page, PageRequest } from './listing/index.js';
export type { ProtectedRequest } from './oauth/index.js';
export type { ResolvedRialtoExchangeOptions, RialtoExchangeOptions } from './options/index.js';
export type {
  GeneratedApiKey,
  OrganizationRegistration,
  RegisteredOrganization,
} from './organizations/index.js';
export type {
  ExchangePolicyHook,
  ExchangePolicyHookInput,
  ExchangePolicyHookResult,
  JsonValue,
} from './policy/index.js';
export type {
  AccreditationStatus,
  ApiKeyRecord,
  ClaimWebhookDeliveriesInput,
  CompleteWebhookAttemptInput,
  ConsoleSessionRecord,
  ConsoleSessionStore,
  CreateUserInput,
  DeleteUserInput,
  EmailLinkingPolicy,
  EndedRegistration,
  FindOrCreateUserInput,
  FindOrCreateUserResult,
  IssuerPolicyRecord,
  IssuerRegistrationConflict,
  IssuerRegistrationRecord,
  KycStatus,
  LinkScope,
  ListingPosition,
  ListOrganizationsInput,
  ListRefreshFamiliesInput,
  ListUsersInput,
  OrganizationPatch,
  OrganizationRecord,
  OrganizationStore,
  ProvisioningMode,
  RateLimitHit,
  RateLimitHitResult,
  RateLimitStore,
  RedeliverWebhookDeliveryInput,
  RefreshFamilySummary,
  RefreshTokenLivenessQuery,
  RefreshTokenRecord,
  RotateRefreshTokenInput,
  RotateRefreshTokenResult,
  SetUserRoleInput,
  SigningKeyRecord,
  SigningKeyStore,
  SigningKeyUse,
  Store,
  TokenStore,
  UpdateUserVerificationInput,
  UpdateUserVerificationResult,
  UserIdentityRecord,
  UserRecord,
  UserRole,
  UserStore,
  UserVerification,
  WebhookAttemptRecord,
  WebhookDeliveryRecord,
  WebhookDeliveryStatus,
  WebhookEventRecord,
  WebhookStore,
  WebhookSubscriptionPatch,
  WebhookSubscriptionRecord,
} from './store/index.js';
// For store adapters: the rules every Store applies, in one namespace (docs/store-adapters.md).
export * as storeKit from './store/kit/index.js';
export type {
  Logger,
  MetricsOptions,
  PrometheusRegistry,
  RialtoEventMap,
  RialtoEventType,
  RialtoMetrics,
} from './telemetry/index.js';
export type { RialtoAccessTokenClaims, TokenResponse, VerifyAccessTokenOptions } from './tokens/index.js';
export type {
  UserCreation,
  UserLifecycle,
  UserRoles,
  UserVerificationPatch,
  VerificationFlags,
} from './users/index.js';
export { verificationFlags } from './users/index.js';
export type {
  DeliveryRunSummary,
  VerifyWebhookOptions,
  WebhookHeaders,
  WebhookOptions,
} from './webhooks/index.js';
export { verifyWebhook, WebhookVerificationError } from './webhooks/index.js';
