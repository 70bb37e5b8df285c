import type { WebhookEventRecord, WebhookSubscriptionRecord } from '@rialto-exchange/core';
import { storeKit } from '@rialto-exchange/core';
import type { RedisContext } from './context.js';
import { LOWER_DUE_ORG, READ_SUBSCRIPTIONS } from './scripts.js';

// Subscriptions change rarely; losing this many races in a row means something else is wrong.
export const MAX_OUTBOX_ATTEMPTS = 5;

/** The outbox keys and arguments a script that records events ends with. */
export interface Outbox {
  keys: string[];
  args: string[];
  /** The earliest due time of the deliveries it writes, or null when it writes none. */
  earliestDue: number | null;
  deliveryIds: string[];
}

export interface RedisOutbox {
  /**
   * Runs a script that ends in the outbox of `orgId`, again while it answers 'retry' (a
   * subscription changed). Global index entries of new deliveries are written before the script
   * (so a failure after it leaves none unfindable) and the org's due mark again after it (so a
   * claimer that cleared the mark meanwhile cannot lose them).
   * @param isLazy try first without reading the subscriptions, for scripts that mostly record nothing
   */
  withOutbox<T>(
    deadlineAt: number,
    orgId: string,
    events: () => readonly WebhookEventRecord[],
    attempt: (outbox: Outbox) => Promise<T | 'retry'>,
    options?: { isLazy?: boolean },
  ): Promise<T>;
  /** Makes the org findable by claimers from `due` on (global index, see key-layout.ts). */
  markDue(deadlineAt: number, orgId: string, due: number): Promise<void>;
}

/** The webhook outbox as the scripts that record events write it: fanned out by subscription version. */
export function redisOutbox({ key, send, script }: RedisContext): RedisOutbox {
  /** Outbox keys and arguments telling a script that deliveries were not computed. */
  function unpreparedOutbox(orgId: string): Outbox {
    const keys = key.org(orgId);
    return {
      keys: [keys.subscriptionsVersion, keys.deliveries, keys.dueDeliveries],
      args: ['-1', '0'],
      earliestDue: null,
      deliveryIds: [],
    };
  }

  /** The deliveries of one org's `events` and the outbox that writes them if no subscription changed meanwhile. */
  async function outboxOf(
    deadlineAt: number,
    orgId: string,
    events: readonly WebhookEventRecord[],
  ): Promise<Outbox> {
    if (events.some((event) => event.orgId !== orgId)) {
      throw new Error('redisStore: the events of one write must belong to its organization');
    }
    const keys = key.org(orgId);
    const [version, stored] = (await script(
      deadlineAt,
      READ_SUBSCRIPTIONS,
      [keys.subscriptions, keys.subscriptionsVersion],
      [],
    )) as [string, string[]];
    const subscriptions = stored.map((json) => JSON.parse(json) as WebhookSubscriptionRecord);
    const deliveries = storeKit.webhookDeliveriesFor(events, () => subscriptions);
    const listIds = [...new Set(deliveries.map((delivery) => delivery.subscriptionId))];
    return {
      keys: [
        keys.subscriptionsVersion,
        keys.deliveries,
        keys.dueDeliveries,
        ...listIds.map((id) => keys.subscriptionDeliveries(id)),
      ],
      args: [
        version,
        String(deliveries.length),
        ...deliveries.flatMap((delivery) => [
          delivery.deliveryId,
          String(listIds.indexOf(delivery.subscriptionId) + 1),
          JSON.stringify(delivery),
          String(delivery.nextAttemptAt),
        ]),
      ],
      earliestDue:
        deliveries.length === 0
          ? null
          : Math.min(...deliveries.map((delivery) => delivery.nextAttemptAt ?? 0)),
      deliveryIds: deliveries.map((delivery) => delivery.deliveryId),
    };
  }

  async function markDue(deadlineAt: number, orgId: string, due: number): Promise<void> {
    await script(deadlineAt, LOWER_DUE_ORG, [key.dueOrgs], [String(due), orgId]);
  }

  async function withOutbox<T>(
    deadlineAt: number,
    orgId: string,
    events: () => readonly WebhookEventRecord[],
    attempt: (outbox: Outbox) => Promise<T | 'retry'>,
    { isLazy = false } = {},
  ): Promise<T> {
    for (let attempts = 1; ; attempts++) {
      const outbox =
        isLazy && attempts === 1 ? unpreparedOutbox(orgId) : await outboxOf(deadlineAt, orgId, events());
      await Promise.all(
        outbox.deliveryIds.map((id) => send(deadlineAt, ['SET', key.deliveryOrg(id), orgId])),
      );
      if (outbox.earliestDue !== null) await markDue(deadlineAt, orgId, outbox.earliestDue);
      const result = await attempt(outbox);
      if (result !== 'retry') {
        if (outbox.earliestDue !== null) await markDue(deadlineAt, orgId, outbox.earliestDue);
        return result;
      }
      if (attempts >= MAX_OUTBOX_ATTEMPTS) {
        throw new Error('redisStore: subscriptions kept changing while recording webhook events');
      }
    }
  }

  return { withOutbox, markDue };
}
