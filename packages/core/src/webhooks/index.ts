/**
 * Webhook subscriptions, the outbox and its delivery worker, signatures.
 * This file is the folder's public face: what the rest of core and the package's entry point take
 * from it. Inside core, modules import each other's files directly, so no import cycle runs
 * through a face.
 */
export type { DeliveryRunSummary, DeliveryWorker } from './delivery-worker.js';
export { createDeliveryWorker } from './delivery-worker.js';
export type { EventCatalogue } from './event-catalogue.js';
export { createEventCatalogue, webhookEvent } from './event-catalogue.js';
export type { WebhookOptions } from './webhook-options.js';
export { webhookOptionsSchema } from './webhook-options.js';
export type { VerifyWebhookOptions, WebhookHeaders } from './webhook-signature.js';
export { verifyWebhook, WebhookVerificationError } from './webhook-signature.js';
export type { WebhookSubscriptions } from './webhook-subscriptions.js';
export {
  createWebhookSubscriptions,
  webhookCreationSchema,
  webhookEventTypesSchema,
} from './webhook-subscriptions.js';
