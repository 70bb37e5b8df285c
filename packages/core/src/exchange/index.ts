/**
 * The exchange as a list of steps (pipeline.ts), run by run-exchange.ts and explained step by step by explain-exchange.ts.
 * This file is the folder's public face: what the rest of core and the package's entry point take
 * from it. Inside core, modules import each other's files directly, so no import cycle runs
 * through a face.
 */
export { apiKeyExchangeInput, apiKeyExplainInput } from './api-key-input.js';
export type { ExchangeInput, OAuthExchangeGrantType } from './exchange-context.js';
export type { ExplainStepName } from './exchange-step.js';
export type { ExchangeExplanation, ExplainedError, ExplainStep } from './explain-exchange.js';
export { exchangeErrorFix, explainExchange } from './explain-exchange.js';
export type { VerifiedIdentity } from './id-token.js';
export { ASYMMETRIC_ALGORITHMS } from './id-token.js';
export type { ExchangePipeline } from './pipeline.js';
export { createExchangePipeline, EXCHANGE_ERRORS, EXPLAIN_ERRORS } from './pipeline.js';
export { runExchange } from './run-exchange.js';
