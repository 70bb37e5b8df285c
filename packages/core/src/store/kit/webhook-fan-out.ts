import { randomUUID } from 'node:crypto';
import type { WebhookDeliveryRecord, WebhookEventRecord, WebhookSubscriptionRecord } from '../store.js';

/** Whether a subscription receives events of `type`: enabled, and naming the type or `*`. */
export function subscribesTo(subscription: WebhookSubscriptionRecord, type: string): boolean {
  return (
    subscription.disabledAt === null &&
    (subscription.eventTypes.includes(type) || subscription.eventTypes.includes('*'))
  );
}

/**
 * The fan-out of `enqueueWebhookEvents` (and of every call that records events): one `pending`
 * delivery, due at the event's `createdAt`, per subscription of the event's org that
 * `subscribesTo` its type. A store calls it inside its atomic operation with the subscriptions it
 * read there, so a subscription created or disabled concurrently is either wholly in or wholly out.
 * @param subscriptionsOf the stored subscriptions of one organization
 */
export function webhookDeliveriesFor(
  events: readonly WebhookEventRecord[],
  subscriptionsOf: (orgId: string) => readonly WebhookSubscriptionRecord[],
  newDeliveryId: () => string = randomUUID,
): WebhookDeliveryRecord[] {
  return events.flatMap((event) =>
    subscriptionsOf(event.orgId)
      .filter((subscription) => subscribesTo(subscription, event.type))
      .map(
        (subscription): WebhookDeliveryRecord => ({
          deliveryId: newDeliveryId(),
          subscriptionId: subscription.subscriptionId,
          orgId: event.orgId,
          eventId: event.eventId,
          eventType: event.type,
          payload: event.payload,
          status: 'pending',
          nextAttemptAt: event.createdAt,
          leaseToken: null,
          leaseExpiresAt: null,
          attempts: [],
          createdAt: event.createdAt,
          updatedAt: event.createdAt,
        }),
      ),
  );
}

/**
 * Whether a worker may claim the delivery at `now`: pending, due, and not held under a live lease.
 * The outbox backlog (`countPendingWebhookDeliveries`) counts these.
 */
export function isClaimable(delivery: WebhookDeliveryRecord, now: number): boolean {
  return (
    delivery.status === 'pending' &&
    delivery.nextAttemptAt !== null &&
    delivery.nextAttemptAt <= now &&
    (delivery.leaseExpiresAt === null || delivery.leaseExpiresAt <= now)
  );
}
