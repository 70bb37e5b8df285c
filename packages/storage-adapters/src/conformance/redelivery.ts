import { randomUUID } from 'node:crypto';
import type { WebhookAttemptRecord } from '@rialto-exchange/core';
import { describe, expect, it } from 'vitest';
import type { SuiteContext } from './context.js';
import { delivery, nowSeconds, organization, subscription } from './fixtures.js';

const refused: WebhookAttemptRecord = {
  attemptedAt: 1,
  durationMs: 12,
  responseStatus: 500,
  error: null,
  responseExcerpt: 'oops',
};

/** `redeliverWebhookDelivery`: a finished or waiting delivery becomes due now; a leased one is left alone. */
export function describeRedelivery({ freshStore }: SuiteContext): void {
  describe('webhook redelivery', () => {
    it('makes a failed delivery pending and due now, keeping its attempts; a worker then claims it; again changes nothing', async () => {
      const store = await freshStore();
      const now = nowSeconds();
      const hook = subscription(organization().orgId);
      await store.createWebhookSubscription(hook);
      const failed = delivery(hook, {
        status: 'failed',
        nextAttemptAt: null,
        attempts: [refused, refused],
        updatedAt: now - 100,
      });
      await store.addWebhookDelivery(failed);
      expect(
        await store.claimWebhookDeliveries({ now, limit: 10, leaseSeconds: 60, leaseToken: randomUUID() }),
      ).toEqual([]);

      const expected = { ...failed, status: 'pending', nextAttemptAt: now, updatedAt: now };
      const input = {
        orgId: hook.orgId,
        subscriptionId: hook.subscriptionId,
        deliveryId: failed.deliveryId,
        now,
      };
      expect(await store.redeliverWebhookDelivery(input)).toEqual(expected);
      expect(await store.redeliverWebhookDelivery(input)).toEqual(expected);
      expect(await store.listWebhookDeliveries(hook.orgId, hook.subscriptionId, 10)).toEqual([expected]);

      const leaseToken = randomUUID();
      const claimed = await store.claimWebhookDeliveries({ now, limit: 10, leaseSeconds: 60, leaseToken });
      expect(claimed).toEqual([{ ...expected, leaseToken, leaseExpiresAt: now + 60 }]);
    });

    it('makes a succeeded delivery and one waiting for its retry due now', async () => {
      const store = await freshStore();
      const now = nowSeconds();
      const hook = subscription(organization().orgId);
      await store.createWebhookSubscription(hook);
      const succeeded = delivery(hook, { status: 'succeeded', nextAttemptAt: null, attempts: [refused] });
      const waiting = delivery(hook, { nextAttemptAt: now + 3600, attempts: [refused] });
      for (const record of [succeeded, waiting]) await store.addWebhookDelivery(record);

      for (const record of [succeeded, waiting]) {
        expect(
          await store.redeliverWebhookDelivery({
            orgId: hook.orgId,
            subscriptionId: hook.subscriptionId,
            deliveryId: record.deliveryId,
            now,
          }),
        ).toEqual({ ...record, status: 'pending', nextAttemptAt: now, updatedAt: now });
      }
      const claimed = await store.claimWebhookDeliveries({
        now,
        limit: 10,
        leaseSeconds: 60,
        leaseToken: randomUUID(),
      });
      expect(claimed.map((record) => record.deliveryId).sort()).toEqual(
        [succeeded.deliveryId, waiting.deliveryId].sort(),
      );
    });

    it('leaves a delivery a worker holds to that worker, whose completion still counts', async () => {
      const store = await freshStore();
      const now = nowSeconds();
      const hook = subscription(organization().orgId);
      await store.createWebhookSubscription(hook);
      const pending = delivery(hook, { nextAttemptAt: now - 5 });
      await store.addWebhookDelivery(pending);
      const leaseToken = randomUUID();
      const [claimed] = await store.claimWebhookDeliveries({ now, limit: 1, leaseSeconds: 60, leaseToken });

      const input = {
        orgId: hook.orgId,
        subscriptionId: hook.subscriptionId,
        deliveryId: pending.deliveryId,
        now,
      };
      expect(await store.redeliverWebhookDelivery(input)).toEqual(claimed);
      expect(
        await store.completeWebhookAttempt({
          deliveryId: pending.deliveryId,
          leaseToken,
          attempt: { ...refused, responseStatus: 200, attemptedAt: now },
          status: 'succeeded',
          nextAttemptAt: null,
          now,
        }),
      ).toBe(true);
      const [completed] = await store.listWebhookDeliveries(hook.orgId, hook.subscriptionId, 1);
      expect(completed?.status).toBe('succeeded');
    });

    it("answers null for an unknown delivery, another subscription's or another org's, writing nothing", async () => {
      const store = await freshStore();
      const now = nowSeconds();
      const hook = subscription(organization().orgId);
      const sibling = subscription(hook.orgId);
      const otherOrgHook = subscription(organization().orgId);
      for (const record of [hook, sibling, otherOrgHook]) await store.createWebhookSubscription(record);
      const failed = delivery(hook, { status: 'failed', nextAttemptAt: null, attempts: [refused] });
      await store.addWebhookDelivery(failed);

      const attempt = (orgId: string, subscriptionId: string, deliveryId: string) =>
        store.redeliverWebhookDelivery({ orgId, subscriptionId, deliveryId, now });
      expect(await attempt(hook.orgId, hook.subscriptionId, randomUUID())).toBeNull();
      expect(await attempt(hook.orgId, sibling.subscriptionId, failed.deliveryId)).toBeNull();
      expect(await attempt(otherOrgHook.orgId, hook.subscriptionId, failed.deliveryId)).toBeNull();
      expect(await attempt(otherOrgHook.orgId, otherOrgHook.subscriptionId, failed.deliveryId)).toBeNull();
      expect(await store.listWebhookDeliveries(hook.orgId, hook.subscriptionId, 10)).toEqual([failed]);
    });
  });
}
