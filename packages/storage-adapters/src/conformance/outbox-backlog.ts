import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { SuiteContext } from './context.js';
import { delivery, nowSeconds, organization, subscription } from './fixtures.js';

/** `countPendingWebhookDeliveries`, the optional capability behind the outbox backlog metric. */
export function describeOutboxBacklog({ freshStore }: SuiteContext): void {
  describe('outbox backlog', () => {
    it('countPendingWebhookDeliveries counts the claimable deliveries of every org: pending, due, no live lease', async ({
      skip,
    }) => {
      const store = await freshStore();
      const countPending = store.countPendingWebhookDeliveries?.bind(store);
      if (!countPending) return skip('the store leaves out countPendingWebhookDeliveries');
      const now = nowSeconds();
      const hook = subscription(organization().orgId);
      const otherOrgHook = subscription(organization().orgId);
      for (const record of [hook, otherOrgHook]) await store.createWebhookSubscription(record);
      expect(await countPending(now)).toBe(0);

      const due = delivery(hook, { nextAttemptAt: now - 10 });
      const dueInOtherOrg = delivery(otherOrgHook, { nextAttemptAt: now - 5 });
      const notYetDue = delivery(hook, { nextAttemptAt: now + 600 });
      const leased = delivery(hook, {
        nextAttemptAt: now - 1,
        leaseToken: randomUUID(),
        leaseExpiresAt: now + 60,
      });
      const finished = delivery(hook, { status: 'succeeded', nextAttemptAt: null });
      for (const record of [due, dueInOtherOrg, notYetDue, leased, finished]) {
        await store.addWebhookDelivery(record);
      }
      expect(await countPending(now)).toBe(2);

      const leaseToken = randomUUID();
      const [claimed] = await store.claimWebhookDeliveries({ now, limit: 1, leaseSeconds: 60, leaseToken });
      expect(claimed?.deliveryId).toBe(due.deliveryId);
      expect(await countPending(now)).toBe(1);

      expect(
        await store.completeWebhookAttempt({
          deliveryId: due.deliveryId,
          leaseToken,
          attempt: {
            attemptedAt: now,
            durationMs: 5,
            responseStatus: 410,
            error: null,
            responseExcerpt: null,
          },
          status: 'failed',
          nextAttemptAt: null,
          now,
        }),
      ).toBe(true);
      // Later, the future delivery has come due and the lease has run out.
      expect(await countPending(now + 601)).toBe(3);
    });
  });
}
