import type { WebhookDeliveryRecord, WebhookStore } from '@rialto-exchange/core';
import { storeKit } from '@rialto-exchange/core';
import type { KeyvContext } from './context.js';
import { addDeliveries, enqueue, OUTBOX, saveDelivery, subscriptionsOf } from './outbox.js';

/**
 * Webhook subscriptions (one list per org) and the outbox: each delivery under its id, a global due
 * list and a list per subscription, rewritten under the in-process outbox lock.
 * @param refusesWebhooks whether subscriptions are refused (see `acceptDuplicateWebhookDeliveries`)
 */
export function keyvWebhooks(context: KeyvContext, refusesWebhooks: boolean): WebhookStore {
  const { key, run, get, set, withLocks } = context;

  return {
    createWebhookSubscription(record) {
      if (refusesWebhooks) {
        return Promise.reject(
          new Error(
            'keyvStore: webhooks need atomic delivery claims, which Keyv cannot give between processes; use redisStore() or sqlStore(), or set `acceptDuplicateWebhookDeliveries: true`',
          ),
        );
      }
      return run((deadlineAt) =>
        withLocks([key.subscriptions(record.orgId)], async () => {
          await set(deadlineAt, key.subscriptions(record.orgId), [
            ...(await subscriptionsOf(context, deadlineAt, record.orgId)),
            record,
          ]);
        }),
      );
    },

    getWebhookSubscription: (orgId, subscriptionId) =>
      run(
        async (deadlineAt) =>
          (await subscriptionsOf(context, deadlineAt, orgId)).find(
            (record) => record.subscriptionId === subscriptionId,
          ) ?? null,
      ),

    listWebhookSubscriptions: (orgId) =>
      run(async (deadlineAt) =>
        storeKit.sortedBy(
          await subscriptionsOf(context, deadlineAt, orgId),
          storeKit.oldestSubscriptionFirst,
        ),
      ),

    updateWebhookSubscription: (orgId, subscriptionId, patch, now) =>
      run((deadlineAt) =>
        withLocks([key.subscriptions(orgId)], async () => {
          const stored = await subscriptionsOf(context, deadlineAt, orgId);
          const index = stored.findIndex((record) => record.subscriptionId === subscriptionId);
          const current = stored[index];
          if (!current) return null;
          const updated = storeKit.applyWebhookSubscriptionPatch(current, patch, now);
          stored[index] = updated;
          await set(deadlineAt, key.subscriptions(orgId), stored);
          return updated;
        }),
      ),

    deleteWebhookSubscription: (orgId, subscriptionId) =>
      run((deadlineAt) =>
        withLocks([key.subscriptions(orgId)], async () => {
          const stored = await subscriptionsOf(context, deadlineAt, orgId);
          const kept = stored.filter((record) => record.subscriptionId !== subscriptionId);
          if (kept.length === stored.length) return false;
          await set(deadlineAt, key.subscriptions(orgId), kept);
          return true;
        }),
      ),

    enqueueWebhookEvents: (events) => run((deadlineAt) => enqueue(context, deadlineAt, events)),

    addWebhookDelivery: (record) => run((deadlineAt) => addDeliveries(context, deadlineAt, [record])),

    claimWebhookDeliveries: ({ now, limit, leaseSeconds, leaseToken }) =>
      run((deadlineAt) =>
        withLocks([OUTBOX], async () => {
          const due = (await get<string[]>(deadlineAt, key.dueDeliveries)) ?? [];
          const pending: WebhookDeliveryRecord[] = [];
          const finished = new Set<string>();
          for (const deliveryId of due) {
            const delivery = await get<WebhookDeliveryRecord>(deadlineAt, key.delivery(deliveryId));
            if (delivery?.status !== 'pending') finished.add(deliveryId);
            else if (storeKit.isClaimable(delivery, now)) pending.push(delivery);
          }
          if (finished.size > 0) {
            const latest = (await get<string[]>(deadlineAt, key.dueDeliveries)) ?? [];
            await set(
              deadlineAt,
              key.dueDeliveries,
              latest.filter((deliveryId) => !finished.has(deliveryId)),
            );
          }
          const claimed = pending
            .sort(storeKit.earliestDueDeliveryFirst)
            .slice(0, limit)
            .map((delivery) => ({ ...delivery, leaseToken, leaseExpiresAt: now + leaseSeconds }));
          for (const delivery of claimed) await saveDelivery(context, deadlineAt, delivery);
          return claimed;
        }),
      ),

    completeWebhookAttempt: (input) =>
      run((deadlineAt) =>
        withLocks([OUTBOX], async () => {
          const delivery = await get<WebhookDeliveryRecord>(deadlineAt, key.delivery(input.deliveryId));
          if (!delivery || delivery.leaseToken !== input.leaseToken) return false;
          await saveDelivery(context, deadlineAt, {
            ...delivery,
            status: input.status,
            nextAttemptAt: input.nextAttemptAt,
            leaseToken: null,
            leaseExpiresAt: null,
            attempts: [...delivery.attempts, input.attempt],
            updatedAt: input.now,
          });
          return true;
        }),
      ),

    redeliverWebhookDelivery: ({ orgId, subscriptionId, deliveryId, now }) =>
      run((deadlineAt) =>
        withLocks([OUTBOX], async () => {
          const delivery = await get<WebhookDeliveryRecord>(deadlineAt, key.delivery(deliveryId));
          if (delivery?.orgId !== orgId || delivery.subscriptionId !== subscriptionId) return null;
          const redelivered = storeKit.redelivered(delivery, now);
          if (redelivered === delivery) return delivery;
          await saveDelivery(context, deadlineAt, redelivered);
          const due = (await get<string[]>(deadlineAt, key.dueDeliveries)) ?? [];
          if (!due.includes(deliveryId)) await set(deadlineAt, key.dueDeliveries, [...due, deliveryId]);
          return redelivered;
        }),
      ),

    countPendingWebhookDeliveries: (now) =>
      run(async (deadlineAt) => {
        const due = (await get<string[]>(deadlineAt, key.dueDeliveries)) ?? [];
        const deliveries = await Promise.all(
          due.map((deliveryId) => get<WebhookDeliveryRecord>(deadlineAt, key.delivery(deliveryId))),
        );
        return deliveries.filter((delivery) => delivery && storeKit.isClaimable(delivery, now)).length;
      }),

    listWebhookDeliveries: (orgId, subscriptionId, limit) =>
      run(async (deadlineAt) => {
        const ids = (await get<string[]>(deadlineAt, key.subscriptionDeliveries(subscriptionId))) ?? [];
        const found = await Promise.all(
          ids.map((deliveryId) => get<WebhookDeliveryRecord>(deadlineAt, key.delivery(deliveryId))),
        );
        return found
          .filter((delivery): delivery is WebhookDeliveryRecord => delivery?.orgId === orgId)
          .sort(storeKit.newestDeliveryFirst)
          .slice(0, limit);
      }),
  };
}
