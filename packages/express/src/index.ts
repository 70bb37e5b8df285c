export type {
  RialtoAccessTokenClaims,
  RialtoErrorCode,
  VerifyWebhookOptions,
  WebhookHeaders,
} from '@rialto-exchange/core';
export { RialtoError, verifyWebhook, WebhookVerificationError } from '@rialto-exchange/core';
export type { RequireRialtoTokenOptions, RialtoAuth } from './require-rialto-token.js';
export { requireRialtoToken } from './require-rialto-token.js';
export type { RialtoExchangeExpressOptions, RialtoExchangeRouter } from './router.js';
export { rialtoExchange } from './router.js';
