import type { WebhookDeliveryRecord, WebhookStore, WebhookSubscriptionRecord } from '@rialto-exchange/core';
import { storeKit } from '@rialto-exchange/core';
import { DELIVERY_RETENTION_SECONDS, epochSeconds } from '../internal/retention.js';
import type { RedisContext } from './context.js';
import { MAX_OUTBOX_ATTEMPTS, type RedisOutbox } from './outbox.js';
import {
  ADD_DELIVERY,
  CLAIM_DELIVERIES,
  COMPLETE_DELIVERY,
  DELETE_SUBSCRIPTION,
  ENQUEUE_WEBHOOK_EVENTS,
  LIST_DELIVERIES,
  READ_DELIVERY,
  REDELIVER,
  WRITE_SUBSCRIPTION,
} from './scripts.js';

/**
 * Webhook subscriptions (one hash per org, versioned so that fan-out sees a consistent set) and the
 * outbox: each org's deliveries, due set and leases in its slot, and the global list of orgs with
 * deliveries due.
 */
export function redisWebhooks(context: RedisContext, { withOutbox, markDue }: RedisOutbox): WebhookStore {
  const { key, run, send, script, deleteIndexEntries } = context;

  async function writeSubscription(
    deadlineAt: number,
    orgId: string,
    subscriptionId: string,
    expected: string,
    record: WebhookSubscriptionRecord,
  ): Promise<boolean> {
    const keys = key.org(orgId);
    const reply = await script(
      deadlineAt,
      WRITE_SUBSCRIPTION,
      [keys.subscriptions, keys.subscriptionsVersion],
      [subscriptionId, expected, JSON.stringify(record)],
    );
    return reply === 1;
  }

  return {
    createWebhookSubscription: (record) =>
      run(async (deadlineAt) => {
        await writeSubscription(deadlineAt, record.orgId, record.subscriptionId, '', record);
      }),

    getWebhookSubscription: (orgId, subscriptionId) =>
      run(async (deadlineAt) => {
        const json = await send(deadlineAt, ['HGET', key.org(orgId).subscriptions, subscriptionId]);
        return typeof json === 'string' ? (JSON.parse(json) as WebhookSubscriptionRecord) : null;
      }),

    listWebhookSubscriptions: (orgId) =>
      run(async (deadlineAt) => {
        const stored = (await send(deadlineAt, ['HVALS', key.org(orgId).subscriptions])) as string[];
        return stored
          .map((json) => JSON.parse(json) as WebhookSubscriptionRecord)
          .sort(storeKit.oldestSubscriptionFirst);
      }),

    updateWebhookSubscription: (orgId, subscriptionId, patch, now) =>
      run(async (deadlineAt) => {
        for (let attempts = 1; attempts <= MAX_OUTBOX_ATTEMPTS; attempts++) {
          const json = await send(deadlineAt, ['HGET', key.org(orgId).subscriptions, subscriptionId]);
          if (typeof json !== 'string') return null;
          const updated = storeKit.applyWebhookSubscriptionPatch(JSON.parse(json), patch, now);
          if (await writeSubscription(deadlineAt, orgId, subscriptionId, json, updated)) return updated;
        }
        throw new Error('redisStore: a webhook subscription kept changing while being updated');
      }),

    deleteWebhookSubscription: (orgId, subscriptionId) =>
      run(async (deadlineAt) => {
        const keys = key.org(orgId);
        const reply = await script(
          deadlineAt,
          DELETE_SUBSCRIPTION,
          // Its delivery list goes with it: deleteOrganization only knows the subscriptions still stored.
          [keys.subscriptions, keys.subscriptionsVersion, keys.subscriptionDeliveries(subscriptionId)],
          [subscriptionId],
        );
        return reply === 1;
      }),

    enqueueWebhookEvents: (events) =>
      run(async (deadlineAt) => {
        // One script per organization: an org's deliveries share its slot, different orgs may not.
        const orgIds = [...new Set(events.map((event) => event.orgId))];
        await Promise.all(
          orgIds.map((orgId) =>
            withOutbox(
              deadlineAt,
              orgId,
              () => events.filter((event) => event.orgId === orgId),
              async (outbox) => {
                const reply = await script(deadlineAt, ENQUEUE_WEBHOOK_EVENTS, outbox.keys, outbox.args);
                return reply === 'retry' ? 'retry' : undefined;
              },
            ),
          ),
        );
      }),

    addWebhookDelivery: (record) =>
      run(async (deadlineAt) => {
        const { leaseToken, leaseExpiresAt } = record;
        const claimableAt = leaseToken !== null ? leaseExpiresAt : record.nextAttemptAt;
        const due = record.status === 'pending' && claimableAt !== null ? claimableAt : null;
        const keys = key.org(record.orgId);
        await send(deadlineAt, ['SET', key.deliveryOrg(record.deliveryId), record.orgId]);
        if (due !== null) await markDue(deadlineAt, record.orgId, due);
        await script(
          deadlineAt,
          ADD_DELIVERY,
          [
            keys.deliveries,
            keys.dueDeliveries,
            keys.deliveryLeases,
            keys.subscriptionDeliveries(record.subscriptionId),
          ],
          [
            record.deliveryId,
            JSON.stringify(withoutLease(record)),
            leaseToken ?? '',
            due === null ? '' : String(due),
            String(record.createdAt),
          ],
        );
        if (due !== null) await markDue(deadlineAt, record.orgId, due);
      }),

    claimWebhookDeliveries: ({ now, limit, leaseSeconds, leaseToken }) =>
      run(async (deadlineAt) => {
        const leaseExpiresAt = now + leaseSeconds;
        const orgIds = (await send(deadlineAt, [
          'ZRANGEBYSCORE',
          key.dueOrgs,
          '-inf',
          String(now),
          'LIMIT',
          '0',
          String(limit),
        ])) as string[];
        const claimed: WebhookDeliveryRecord[] = [];
        for (const orgId of orgIds) {
          if (claimed.length >= limit) break;
          // Unmark, claim, mark again with what is left: a delivery written meanwhile marks the org
          // itself after its write, so it is never left unfindable (see key-layout.ts).
          await send(deadlineAt, ['ZREM', key.dueOrgs, orgId]);
          const keys = key.org(orgId);
          const [records, nextDue] = (await script(
            deadlineAt,
            CLAIM_DELIVERIES,
            [keys.dueDeliveries, keys.deliveryLeases, keys.deliveries],
            [String(now), String(limit - claimed.length), String(leaseExpiresAt), leaseToken],
          )) as [string[], string];
          if (nextDue !== '') await markDue(deadlineAt, orgId, Number(nextDue));
          claimed.push(
            ...records.map(
              (json): WebhookDeliveryRecord => ({ ...JSON.parse(json), leaseToken, leaseExpiresAt }),
            ),
          );
        }
        return claimed.sort(storeKit.earliestDueDeliveryFirst);
      }),

    completeWebhookAttempt: (input) =>
      run(async (deadlineAt) => {
        const orgId = await send(deadlineAt, ['GET', key.deliveryOrg(input.deliveryId)]);
        if (typeof orgId !== 'string') return false;
        const keys = key.org(orgId);
        const json = await send(deadlineAt, ['HGET', keys.deliveries, input.deliveryId]);
        if (typeof json !== 'string') return false;
        // Only the lease holder writes the record while its lease holds, so what was read is current.
        const current: WebhookDeliveryRecord = JSON.parse(json);
        const updated: WebhookDeliveryRecord = {
          ...current,
          status: input.status,
          nextAttemptAt: input.nextAttemptAt,
          attempts: [...current.attempts, input.attempt],
          updatedAt: input.now,
        };
        const nextDue = input.status === 'pending' ? input.nextAttemptAt : null;
        const [completed, dropped] = (await script(
          deadlineAt,
          COMPLETE_DELIVERY,
          [keys.deliveries, keys.dueDeliveries, keys.deliveryLeases, keys.finishedDeliveries],
          [
            input.deliveryId,
            input.leaseToken,
            JSON.stringify(updated),
            nextDue === null ? '' : String(nextDue),
            String(input.now),
            String(input.now - DELIVERY_RETENTION_SECONDS),
          ],
        )) as [number, string[]?];
        if (completed !== 1) return false;
        if (nextDue !== null) await markDue(deadlineAt, orgId, nextDue);
        if (dropped && dropped.length > 0)
          await deleteIndexEntries(
            deadlineAt,
            dropped.map((id) => key.deliveryOrg(id)),
          );
        return true;
      }),

    countPendingWebhookDeliveries: (now) =>
      run(async (deadlineAt) => {
        // An org's mark is at most its earliest due time, so orgs marked later have nothing due.
        const orgIds = (await send(deadlineAt, [
          'ZRANGEBYSCORE',
          key.dueOrgs,
          '-inf',
          String(now),
        ])) as string[];
        const counts = await Promise.all(
          orgIds.map((orgId) =>
            send(deadlineAt, ['ZCOUNT', key.org(orgId).dueDeliveries, '-inf', String(now)]),
          ),
        );
        return counts.reduce((total: number, count) => total + Number(count), 0);
      }),

    redeliverWebhookDelivery: ({ orgId, subscriptionId, deliveryId, now }) =>
      run(async (deadlineAt) => {
        const keys = key.org(orgId);
        const deliveryKeys = [keys.deliveries, keys.dueDeliveries, keys.deliveryLeases];
        for (let attempts = 1; ; attempts++) {
          const [json, leaseToken, dueScore] = (await script(deadlineAt, READ_DELIVERY, deliveryKeys, [
            deliveryId,
          ])) as [string, string, string];
          if (json === '') return null;
          const stored: WebhookDeliveryRecord = JSON.parse(json);
          if (stored.orgId !== orgId || stored.subscriptionId !== subscriptionId) return null;
          // While leased, the due score is the lease's expiry (CLAIM_DELIVERIES).
          const delivery: WebhookDeliveryRecord =
            leaseToken === '' || stored.status !== 'pending'
              ? stored
              : { ...stored, leaseToken, leaseExpiresAt: dueScore === '' ? null : Number(dueScore) };
          const redelivered = storeKit.redelivered(delivery, now);
          if (redelivered === delivery) return delivery;
          await markDue(deadlineAt, orgId, now);
          const isRedelivered = await script(
            deadlineAt,
            REDELIVER,
            [...deliveryKeys, keys.finishedDeliveries],
            [deliveryId, json, leaseToken, JSON.stringify(withoutLease(redelivered)), String(now)],
          );
          if (isRedelivered === 1) {
            await markDue(deadlineAt, orgId, now);
            return redelivered;
          }
          if (attempts >= MAX_OUTBOX_ATTEMPTS) {
            throw new Error('redisStore: the delivery kept changing while redelivering it');
          }
        }
      }),

    listWebhookDeliveries: (orgId, subscriptionId, limit) =>
      run(async (deadlineAt) => {
        const keys = key.org(orgId);
        const stored = (await script(
          deadlineAt,
          LIST_DELIVERIES,
          [keys.subscriptionDeliveries(subscriptionId), keys.deliveries],
          [String(limit), String(epochSeconds() - DELIVERY_RETENTION_SECONDS)],
        )) as string[];
        return stored
          .map((json) => JSON.parse(json) as WebhookDeliveryRecord)
          .filter((delivery) => delivery.orgId === orgId);
      }),
  };
}

/** Leases live in their own hash, so a claim never rewrites the delivery's JSON. */
function withoutLease(record: WebhookDeliveryRecord): WebhookDeliveryRecord {
  return { ...record, leaseToken: null, leaseExpiresAt: null };
}
