/**
 * Everything that is not Express: ID-token verification, API keys, organizations, users, token minting and refresh, signing keys, webhooks, the `Store` contract and the HTTP-agnostic handler `createRialtoExchange`.
 * @packageDocumentation
 * @module @rialto-exchange/core
 */
export type { GeneratedApiKey } from './api-keys.js';
export type { ErrorBody, RialtoErrorCode, RialtoErrorOptions } from './errors.js';
export { RialtoError, StoreUnavailableError } from './errors.js';
export type {
  ExchangeExplanation,
  ExplainedError,
  ExplainStep,
  ExplainStepName,
} from './explain-exchange.js';
export { exchangeErrorFix } from './explain-exchange.js';
export type { RialtoExchange, RialtoWebhooks } from './handler.js';
export { createRialtoExchange } from './handler.js';
export type { HealthOptions } from './health-options.js';
export type { RequestLike, ResponseLike } from './http-types.js';
export type { IssuerRegistrationInput } from './issuer-registrations.js';
export type { Logger } from './logger.js';
export type { RialtoAccessTokenClaims, TokenResponse } from './mint-tokens.js';
// The HTTP API's OpenAPI document and the option that serves it.
export type { OpenApiDocument } from './openapi.js';
export type { OpenApiOptions } from './openapi-options.js';
export type { ResolvedRialtoExchangeOptions, RialtoExchangeOptions } from './options.js';
export type { OrganizationRegistration, RegisteredOrganization } from './organizations.js';
export type { MetricsOptions, PrometheusRegistry, RialtoMetrics } from './prometheus-metrics.js';
export type { AccessTokenAlgorithm, HostKeys, RotatedKey } from './signing-keys.js';
export type {
  AccreditationStatus,
  ApiKeyRecord,
  ClaimWebhookDeliveriesInput,
  CompleteWebhookAttemptInput,
  CreateUserInput,
  DeleteUserInput,
  EmailLinkingPolicy,
  FindOrCreateUserInput,
  FindOrCreateUserResult,
  IssuerRegistrationConflict,
  IssuerRegistrationRecord,
  KycStatus,
  OrganizationPatch,
  OrganizationRecord,
  OrganizationStore,
  ProvisioningMode,
  RateLimitHit,
  RateLimitHitResult,
  RateLimitStore,
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
} from './store.js';
// For store adapters: the rules every Store applies, in one namespace (docs/store-adapters.md).
export * as storeKit from './store-kit/index.js';
export type { UserCreation, UserLifecycle } from './user-lifecycle.js';
export type { UserRoles } from './user-roles.js';
export type { Users, UserVerificationPatch } from './users.js';
export type { VerificationFlags } from './verification-flags.js';
export { verificationFlags } from './verification-flags.js';
export type { VerifyAccessTokenOptions } from './verify-access-token.js';
export type { DeliveryRunSummary } from './webhooks/delivery-worker.js';
export type { WebhookOptions } from './webhooks/webhook-options.js';
export type { VerifyWebhookOptions, WebhookHeaders } from './webhooks/webhook-signature.js';
export { verifyWebhook, WebhookVerificationError } from './webhooks/webhook-signature.js';
