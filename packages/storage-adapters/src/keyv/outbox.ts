import type {
  WebhookDeliveryRecord,
  WebhookEventRecord,
  WebhookSubscriptionRecord,
} from '@rialto-exchange/core';
import { storeKit } from '@rialto-exchange/core';
import { DELIVERY_RETENTION_SECONDS } from '../internal/retention.js';
import type { KeyvContext } from './context.js';

// The due list and the per-subscription lists are rewritten whole: one writer at a time.
export const OUTBOX = 'outbox';
// The per-subscription delivery list keeps this many ids; it is read and rewritten whole.
const MAX_LISTED_DELIVERIES = 100;

export async function subscriptionsOf({ get, key }: KeyvContext, deadlineAt: number, orgId: string) {
  return (await get<WebhookSubscriptionRecord[]>(deadlineAt, key.subscriptions(orgId))) ?? [];
}

/** Writes a delivery record; a finished one expires once the delivery log no longer shows it. */
export async function saveDelivery(
  { set, key }: KeyvContext,
  deadlineAt: number,
  delivery: WebhookDeliveryRecord,
): Promise<void> {
  const isFinished = delivery.status !== 'pending';
  await set(
    deadlineAt,
    key.delivery(delivery.deliveryId),
    delivery,
    isFinished ? DELIVERY_RETENTION_SECONDS : undefined,
  );
}

/** Stores deliveries and lists them as due and under their subscription, under the outbox lock. */
export async function addDeliveries(
  context: KeyvContext,
  deadlineAt: number,
  deliveries: readonly WebhookDeliveryRecord[],
): Promise<void> {
  if (deliveries.length === 0) return;
  const { get, set, key, withLocks } = context;
  await withLocks([OUTBOX], async () => {
    for (const delivery of deliveries) await saveDelivery(context, deadlineAt, delivery);
    const due = (await get<string[]>(deadlineAt, key.dueDeliveries)) ?? [];
    await set(deadlineAt, key.dueDeliveries, [...due, ...deliveries.map((delivery) => delivery.deliveryId)]);
    for (const delivery of deliveries) {
      const listKey = key.subscriptionDeliveries(delivery.subscriptionId);
      const listed = (await get<string[]>(deadlineAt, listKey)) ?? [];
      await set(deadlineAt, listKey, [...listed, delivery.deliveryId].slice(-MAX_LISTED_DELIVERIES));
    }
  });
}

/** Records events as deliveries, fanned out as `enqueueWebhookEvents` does. */
export async function enqueue(
  context: KeyvContext,
  deadlineAt: number,
  events: readonly WebhookEventRecord[],
): Promise<void> {
  const orgIds = [...new Set(events.map((event) => event.orgId))];
  const byOrg = new Map(
    await Promise.all(
      orgIds.map(async (orgId) => [orgId, await subscriptionsOf(context, deadlineAt, orgId)] as const),
    ),
  );
  await addDeliveries(
    context,
    deadlineAt,
    storeKit.webhookDeliveriesFor(events, (orgId) => byOrg.get(orgId) ?? []),
  );
}
