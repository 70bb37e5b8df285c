import type { WebhookDeliveryRecord } from '../store.js';

/**
 * What `redeliverWebhookDelivery` stores: the delivery pending and due at `now`, lease cleared,
 * attempts kept (the worker's retry schedule counts them, so a delivery that ran out of retries
 * gets one more attempt). A delivery a worker holds under a live lease is returned unchanged: its
 * attempt is under way, and resetting it would let a second worker send it at the same time.
 */
export function redelivered(delivery: WebhookDeliveryRecord, now: number): WebhookDeliveryRecord {
  const isHeld = delivery.leaseExpiresAt !== null && delivery.leaseExpiresAt > now;
  if (isHeld) return delivery;
  return {
    ...delivery,
    status: 'pending',
    nextAttemptAt: now,
    leaseToken: null,
    leaseExpiresAt: null,
    updatedAt: now,
  };
}
