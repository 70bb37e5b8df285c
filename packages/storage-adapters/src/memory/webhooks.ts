import type { WebhookStore } from '@rialto-exchange/core';
import { storeKit } from '@rialto-exchange/core';
import { copy } from './copies.js';
import { enqueue, type MemoryState, subscriptionsOf } from './state.js';

export function memoryWebhooks(state: MemoryState): WebhookStore {
  const { subscriptions, deliveries } = state;

  return {
    async createWebhookSubscription(record) {
      subscriptions.set(record.subscriptionId, copy(record));
    },

    async getWebhookSubscription(orgId, subscriptionId) {
      const subscription = subscriptions.get(subscriptionId);
      return subscription && subscription.orgId === orgId ? copy(subscription) : null;
    },

    async listWebhookSubscriptions(orgId) {
      return storeKit.sortedBy(subscriptionsOf(state, orgId), storeKit.oldestSubscriptionFirst).map(copy);
    },

    async updateWebhookSubscription(orgId, subscriptionId, patch, now) {
      const subscription = subscriptions.get(subscriptionId);
      if (!subscription || subscription.orgId !== orgId) return null;
      const updated = storeKit.applyWebhookSubscriptionPatch(subscription, copy(patch), now);
      subscriptions.set(subscriptionId, updated);
      return copy(updated);
    },

    async deleteWebhookSubscription(orgId, subscriptionId) {
      const subscription = subscriptions.get(subscriptionId);
      if (!subscription || subscription.orgId !== orgId) return false;
      return subscriptions.delete(subscriptionId);
    },

    async enqueueWebhookEvents(events) {
      enqueue(state, events);
    },

    async addWebhookDelivery(record) {
      deliveries.set(record.deliveryId, copy(record));
    },

    async claimWebhookDeliveries({ now, limit, leaseSeconds, leaseToken }) {
      const due = storeKit.sortedBy(
        [...deliveries.values()].filter((delivery) => storeKit.isClaimable(delivery, now)),
        storeKit.earliestDueDeliveryFirst,
      );
      return due.slice(0, limit).map((delivery) => {
        delivery.leaseToken = leaseToken;
        delivery.leaseExpiresAt = now + leaseSeconds;
        return copy(delivery);
      });
    },

    async completeWebhookAttempt(input) {
      const delivery = deliveries.get(input.deliveryId);
      if (!delivery || delivery.leaseToken !== input.leaseToken) return false;
      deliveries.set(input.deliveryId, {
        ...delivery,
        status: input.status,
        nextAttemptAt: input.nextAttemptAt,
        leaseToken: null,
        leaseExpiresAt: null,
        attempts: [...delivery.attempts, copy(input.attempt)],
        updatedAt: input.now,
      });
      return true;
    },

    async redeliverWebhookDelivery({ orgId, subscriptionId, deliveryId, now }) {
      const delivery = deliveries.get(deliveryId);
      if (!delivery || delivery.orgId !== orgId || delivery.subscriptionId !== subscriptionId) return null;
      const updated = storeKit.redelivered(delivery, now);
      deliveries.set(deliveryId, updated);
      return copy(updated);
    },

    async countPendingWebhookDeliveries(now) {
      let pending = 0;
      for (const delivery of deliveries.values()) if (storeKit.isClaimable(delivery, now)) pending++;
      return pending;
    },

    async listWebhookDeliveries(orgId, subscriptionId, limit) {
      return [...deliveries.values()]
        .filter((delivery) => delivery.orgId === orgId && delivery.subscriptionId === subscriptionId)
        .sort(storeKit.newestDeliveryFirst)
        .slice(0, limit)
        .map(copy);
    },
  };
}
