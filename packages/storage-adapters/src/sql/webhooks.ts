import type { WebhookEventRecord, WebhookStore, WebhookSubscriptionRecord } from '@rialto-exchange/core';
import { storeKit } from '@rialto-exchange/core';
import type { Transaction } from 'kysely';
import { type SqlContext, withRetries } from './context.js';
import { fromDelivery, fromSubscription, subscriptionColumns, toDelivery, toSubscription } from './rows.js';
import type { Database } from './schema.js';
import { isRetryableConflict } from './sql-errors.js';

/** Fan-out inside the caller's transaction: the deliveries commit with the change that caused them. */
export async function insertDeliveries(
  trx: Transaction<Database>,
  events: readonly WebhookEventRecord[],
): Promise<void> {
  if (events.length === 0) return;
  const orgIds = [...new Set(events.map((event) => event.orgId))];
  const subscriptions = (
    await trx.selectFrom('webhook_subscriptions').selectAll().where('org_id', 'in', orgIds).execute()
  ).map(toSubscription);
  const deliveries = storeKit.webhookDeliveriesFor(events, (orgId) =>
    subscriptions.filter((sub) => sub.orgId === orgId),
  );
  if (deliveries.length > 0)
    await trx.insertInto('webhook_deliveries').values(deliveries.map(fromDelivery)).execute();
}

/** Webhook subscriptions and the outbox; a delivery is claimed by a conditional UPDATE of its lease. */
export function sqlWebhooks({ db, run }: SqlContext): WebhookStore {
  async function readSubscription(
    orgId: string,
    subscriptionId: string,
  ): Promise<WebhookSubscriptionRecord | null> {
    const row = await db
      .selectFrom('webhook_subscriptions')
      .selectAll()
      .where('subscription_id', '=', subscriptionId)
      .where('org_id', '=', orgId)
      .executeTakeFirst();
    return row ? toSubscription(row) : null;
  }

  return {
    createWebhookSubscription: (record) =>
      run(async () => {
        await db.insertInto('webhook_subscriptions').values(fromSubscription(record)).execute();
      }),

    getWebhookSubscription: (orgId, subscriptionId) => run(() => readSubscription(orgId, subscriptionId)),

    listWebhookSubscriptions: (orgId) =>
      run(async () => {
        const rows = await db
          .selectFrom('webhook_subscriptions')
          .selectAll()
          .where('org_id', '=', orgId)
          .orderBy('created_at')
          .orderBy('subscription_id')
          .execute();
        return rows.map(toSubscription);
      }),

    updateWebhookSubscription: (orgId, subscriptionId, patch, now) =>
      run(async () => {
        await db
          .updateTable('webhook_subscriptions')
          .set({ ...subscriptionColumns(patch), updated_at: now })
          .where('subscription_id', '=', subscriptionId)
          .where('org_id', '=', orgId)
          .execute();
        return readSubscription(orgId, subscriptionId);
      }),

    deleteWebhookSubscription: (orgId, subscriptionId) =>
      run(async () => {
        const { numDeletedRows } = await db
          .deleteFrom('webhook_subscriptions')
          .where('subscription_id', '=', subscriptionId)
          .where('org_id', '=', orgId)
          .executeTakeFirst();
        return numDeletedRows === 1n;
      }),

    enqueueWebhookEvents: (events) =>
      run(() =>
        withRetries(isRetryableConflict, () =>
          db.transaction().execute((trx) => insertDeliveries(trx, events)),
        ),
      ),

    addWebhookDelivery: (record) =>
      run(async () => {
        await db.insertInto('webhook_deliveries').values(fromDelivery(record)).execute();
      }),

    redeliverWebhookDelivery: ({ orgId, subscriptionId, deliveryId, now }) =>
      run(async () => {
        const readDelivery = async () => {
          const row = await db
            .selectFrom('webhook_deliveries')
            .selectAll()
            .where('delivery_id', '=', deliveryId)
            .where('org_id', '=', orgId)
            .where('subscription_id', '=', subscriptionId)
            .executeTakeFirst();
          return row ? toDelivery(row) : null;
        };
        const delivery = await readDelivery();
        if (!delivery) return null;
        const redelivered = storeKit.redelivered(delivery, now);
        if (redelivered === delivery) return delivery;
        const { status, next_attempt_at, lease_token, lease_expires_at, updated_at } =
          fromDelivery(redelivered);
        // The lease condition makes it atomic with claims: a worker that leased the delivery since
        // the read keeps it, and the delivery is read back as that worker holds it.
        await db
          .updateTable('webhook_deliveries')
          .set({ status, next_attempt_at, lease_token, lease_expires_at, updated_at })
          .where('delivery_id', '=', deliveryId)
          .where((eb) => eb.or([eb('lease_expires_at', 'is', null), eb('lease_expires_at', '<=', now)]))
          .execute();
        return readDelivery();
      }),

    claimWebhookDeliveries: ({ now, limit, leaseSeconds, leaseToken }) =>
      run(async () => {
        const candidates = await db
          .selectFrom('webhook_deliveries')
          .select('delivery_id')
          .where('status', '=', 'pending')
          .where('next_attempt_at', '<=', now)
          .where((eb) => eb.or([eb('lease_expires_at', 'is', null), eb('lease_expires_at', '<=', now)]))
          .orderBy('next_attempt_at')
          .orderBy('delivery_id')
          .limit(limit)
          .execute();
        // Each row is taken by a conditional UPDATE, which the database applies to the latest
        // committed row: of workers racing for one delivery, exactly one sees its WHERE still hold.
        for (const { delivery_id } of candidates) {
          await db
            .updateTable('webhook_deliveries')
            .set({ lease_token: leaseToken, lease_expires_at: now + leaseSeconds })
            .where('delivery_id', '=', delivery_id)
            .where('status', '=', 'pending')
            // Re-checked: since the SELECT, another worker may have attempted it and rescheduled it.
            .where('next_attempt_at', '<=', now)
            .where((eb) => eb.or([eb('lease_expires_at', 'is', null), eb('lease_expires_at', '<=', now)]))
            .execute();
        }
        if (candidates.length === 0) return [];
        const rows = await db
          .selectFrom('webhook_deliveries')
          .selectAll()
          .where('lease_token', '=', leaseToken)
          .orderBy('next_attempt_at')
          .orderBy('delivery_id')
          .execute();
        return rows.map(toDelivery);
      }),

    completeWebhookAttempt: (input) =>
      run(async () => {
        const row = await db
          .selectFrom('webhook_deliveries')
          .select('attempts')
          .where('delivery_id', '=', input.deliveryId)
          .where('lease_token', '=', input.leaseToken)
          .executeTakeFirst();
        if (!row) return false;
        // Only the lease holder writes while the lease token matches, so the attempts read are current.
        const { numUpdatedRows } = await db
          .updateTable('webhook_deliveries')
          .set({
            status: input.status,
            next_attempt_at: input.nextAttemptAt,
            lease_token: null,
            lease_expires_at: null,
            attempts: JSON.stringify([...JSON.parse(row.attempts), input.attempt]),
            updated_at: input.now,
          })
          .where('delivery_id', '=', input.deliveryId)
          .where('lease_token', '=', input.leaseToken)
          .executeTakeFirst();
        return numUpdatedRows === 1n;
      }),

    countPendingWebhookDeliveries: (now) =>
      run(async () => {
        const { pending } = await db
          .selectFrom('webhook_deliveries')
          .select((eb) => eb.fn.countAll<number | string | bigint>().as('pending'))
          .where('status', '=', 'pending')
          .where('next_attempt_at', '<=', now)
          .where((eb) => eb.or([eb('lease_expires_at', 'is', null), eb('lease_expires_at', '<=', now)]))
          .executeTakeFirstOrThrow();
        return Number(pending);
      }),

    listWebhookDeliveries: (orgId, subscriptionId, limit) =>
      run(async () => {
        const rows = await db
          .selectFrom('webhook_deliveries')
          .selectAll()
          .where('org_id', '=', orgId)
          .where('subscription_id', '=', subscriptionId)
          .orderBy('created_at', 'desc')
          .orderBy('delivery_id', 'desc')
          .limit(limit)
          .execute();
        return rows.map(toDelivery);
      }),
  };
}
