/**
 * The Express binding: `rialtoExchange(options)` mounts the exchange as a router; `requireRialtoToken()` guards your own routes.
 * @packageDocumentation
 * @module @rialto-exchange/express
 */
export type {
  HealthOptions,
  MetricsOptions,
  PrometheusRegistry,
  RialtoAccessTokenClaims,
  RialtoErrorCode,
  RialtoMetrics,
  VerifyWebhookOptions,
  WebhookHeaders,
} from '@rialto-exchange/core';
export { RialtoError, verifyWebhook, WebhookVerificationError } from '@rialto-exchange/core';
export type { RequireRialtoTokenOptions, RialtoAuth } from './require-rialto-token.js';
export { requireRialtoToken } from './require-rialto-token.js';
export { rialtoAuthorizationServerMetadataHandler } from './rialto-authorization-server-metadata-handler.js';
export { rialtoMetricsHandler } from './rialto-metrics-handler.js';
export type { RialtoExchangeExpressOptions, RialtoExchangeRouter } from './router.js';
export { rialtoExchange } from './router.js';
