/**
 * Everything that is not Express: ID-token verification, API keys, organizations, users, token minting and refresh, signing keys, webhooks, the `Store` contract and the HTTP-agnostic handler `createRialtoExchange`.
 * @packageDocumentation
 * @module @rialto-exchange/core
 */

export type { RialtoExchange } from './create-rialto-exchange.js';
export { createRialtoExchange } from './create-rialto-exchange.js';
export type { ErrorBody, RialtoErrorCode, RialtoErrorOptions } from './errors.js';
export { RialtoError, StoreUnavailableError } from './errors.js';
export type { ExplainStepName } from './exchange/exchange-step.js';
export type { ExchangeExplanation, ExplainedError, ExplainStep } from './exchange/explain-exchange.js';
export { exchangeErrorFix } from './exchange/explain-exchange.js';
export type { StartedConsoleSession } from './facade/console-sessions.js';
// The facade's groups: `exchange.organizations`, `.apiKeys`, `.issuers`, `.users`, `.keys`, `.webhooks`,
// `.health`, `.consoleSessions`, `.operators`.
export type {
  DiscoveryCheck,
  RialtoApiKeys,
  RialtoConsoleSessions,
  RialtoHealth,
  RialtoIssuers,
  RialtoKeys,
  RialtoOperators,
  RialtoOrganizations,
  RialtoUsers,
  RialtoWebhooks,
} from './facade/index.js';
export type { ApiKeySummary, OrganizationOverview } from './facade/organizations.js';
export type { WebhookSubscriptionSummary } from './facade/webhooks.js';
export type { HealthSummary, StoreProbeResult } from './health/health-summary.js';
export type { FetchHandler, FetchHandlerOptions, FetchRequestContext } from './http/fetch-handler.js';
export { createFetchHandler } from './http/fetch-handler.js';
export type { HealthOptions } from './http/health-options.js';
export type { RequestLike, ResponseLike } from './http/http-types.js';
// The HTTP API's OpenAPI document and the option that serves it.
export type { OpenApiDocument } from './http/openapi.js';
export type { OpenApiOptions } from './http/openapi-options.js';
export type { IssuerPolicyDiff } from './issuers/issuer-policies.js';
export type {
  IssuerPolicyPatch,
  IssuerRegistrationInput,
  PolicyChangedBy,
} from './issuers/issuer-registrations.js';
export type { AccessTokenAlgorithm, HostKeys, RotatedKey, SigningKeyStatus } from './keys/signing-keys.js';
export type { Page, PageRequest } from './listing/paging.js';
export type { ProtectedRequest } from './oauth/protected-request.js';
export type { ResolvedRialtoExchangeOptions, RialtoExchangeOptions } from './options/options.js';
export type { GeneratedApiKey } from './organizations/api-keys.js';
export type { OrganizationRegistration, RegisteredOrganization } from './organizations/organizations.js';
export type {
  ExchangePolicyHook,
  ExchangePolicyHookInput,
  ExchangePolicyHookResult,
  JsonValue,
} from './policy/index.js';
// For store adapters: the rules every Store applies, in one namespace (docs/store-adapters.md).
export * as storeKit from './store/kit/index.js';
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
  FindOrCreateUserInput,
  FindOrCreateUserResult,
  IssuerPolicyRecord,
  IssuerRegistrationConflict,
  IssuerRegistrationRecord,
  KycStatus,
  ListingPosition,
  ListOrganizationsInput,
  ListUsersInput,
  OrganizationPatch,
  OrganizationRecord,
  OrganizationStore,
  ProvisioningMode,
  RateLimitHit,
  RateLimitHitResult,
  RateLimitStore,
  RedeliverWebhookDeliveryInput,
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
} from './store/store.js';
export type { RialtoEventMap, RialtoEventType } from './telemetry/audit-events.js';
export type { Logger } from './telemetry/logger.js';
export type { MetricsOptions, PrometheusRegistry, RialtoMetrics } from './telemetry/prometheus-metrics.js';
export type { RialtoAccessTokenClaims, TokenResponse } from './tokens/mint-tokens.js';
export type { VerifyAccessTokenOptions } from './tokens/verify-access-token.js';
export type { UserCreation, UserLifecycle } from './users/user-lifecycle.js';
export type { UserRoles } from './users/user-roles.js';
export type { UserVerificationPatch } from './users/users.js';
export type { VerificationFlags } from './users/verification-flags.js';
export { verificationFlags } from './users/verification-flags.js';
export type { DeliveryRunSummary } from './webhooks/delivery-worker.js';
export type { WebhookOptions } from './webhooks/webhook-options.js';
export type { VerifyWebhookOptions, WebhookHeaders } from './webhooks/webhook-signature.js';
export { verifyWebhook, WebhookVerificationError } from './webhooks/webhook-signature.js';
