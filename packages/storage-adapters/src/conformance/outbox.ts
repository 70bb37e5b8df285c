import { randomUUID } from 'node:crypto';
import type {
  Store,
  WebhookAttemptRecord,
  WebhookDeliveryRecord,
  WebhookEventRecord,
} from '@rialto-exchange/core';
import { describe, expect, it } from 'vitest';
import type { SuiteContext } from './context.js';
import { identity, nowSeconds, organization, subscription, webhookEvent } from './fixtures.js';
import { storeWithUser } from './webhooks.js';

const LEASE_SECONDS = 60;

const ATTEMPT: WebhookAttemptRecord = {
  attemptedAt: 0,
  durationMs: 12,
  responseStatus: 500,
  error: null,
  responseExcerpt: 'oops',
};

function claim(store: Store, now: number, limit = 100, leaseToken = randomUUID()) {
  return store.claimWebhookDeliveries({ now, limit, leaseSeconds: LEASE_SECONDS, leaseToken });
}

/** The pending delivery fan-out should have made for `event` to `subscriptionId`, as a claim returns it. */
function expectedDelivery(event: WebhookEventRecord, subscriptionId: string) {
  return {
    deliveryId: expect.any(String),
    subscriptionId,
    orgId: event.orgId,
    eventId: event.eventId,
    eventType: event.type,
    payload: event.payload,
    status: 'pending',
    nextAttemptAt: event.createdAt,
    leaseToken: expect.any(String),
    leaseExpiresAt: expect.any(Number),
    attempts: [],
    createdAt: event.createdAt,
    updatedAt: event.createdAt,
  };
}

const bySubscription = (a: WebhookDeliveryRecord, b: WebhookDeliveryRecord) =>
  a.subscriptionId.localeCompare(b.subscriptionId);

/** The webhook outbox: fan-out at write time, claims under a lease, attempts, the delivery log. */
export function describeOutbox({ freshStore, itGuarantees }: SuiteContext): void {
  describe('webhook outbox', () => {
    it('enqueueWebhookEvents fans out one delivery per enabled subscription of the org naming the type or *', async () => {
      const store = await freshStore();
      const orgId = organization().orgId;
      const named = subscription(orgId, { eventTypes: ['kyc.session.approved', 'user.created'] });
      const wildcard = subscription(orgId, { eventTypes: ['*'] });
      const other = subscription(orgId, { eventTypes: ['user.created'] });
      const disabled = subscription(orgId, { disabledAt: 1_700_000_000 });
      const otherOrg = subscription(organization().orgId);
      for (const record of [named, wildcard, other, disabled, otherOrg])
        await store.createWebhookSubscription(record);
      const event = webhookEvent(orgId, 'kyc.session.approved');

      await store.enqueueWebhookEvents([event]);

      const claimed = (await claim(store, event.createdAt)).sort(bySubscription);
      const expected = [named, wildcard]
        .map((record) => expectedDelivery(event, record.subscriptionId))
        .sort((a, b) => a.subscriptionId.localeCompare(b.subscriptionId));
      expect(claimed).toEqual(expected);
      expect(new Set(claimed.map((delivery) => delivery.deliveryId)).size).toBe(2);
    });

    it('an event no subscription matches leaves nothing to claim', async () => {
      const store = await freshStore();
      const orgId = organization().orgId;
      await store.createWebhookSubscription(subscription(orgId, { eventTypes: ['user.created'] }));
      const event = webhookEvent(orgId, 'accreditation.verified');

      await store.enqueueWebhookEvents([event]);

      expect(await claim(store, event.createdAt + 3600)).toEqual([]);
    });

    it('findOrCreateUser records eventsIfCreated with the new user, and never for an existing one', async () => {
      const store = await freshStore();
      const orgId = organization().orgId;
      const hook = subscription(orgId);
      await store.createWebhookSubscription(hook);
      const input = identity(orgId);
      const created = webhookEvent(orgId, 'user.created');

      expect((await store.findOrCreateUser({ ...input, eventsIfCreated: [created] })).outcome).toBe(
        'created',
      );
      const again = webhookEvent(orgId, 'user.created');
      expect((await store.findOrCreateUser({ ...input, eventsIfCreated: [again] })).outcome).toBe('existing');

      expect(await claim(store, nowSeconds() + 60)).toEqual([expectedDelivery(created, hook.subscriptionId)]);
    });

    it('updateUserVerification records its events when applied, and none when stale', async () => {
      const store = await freshStore();
      const { orgId, user } = await storeWithUser(store);
      const hook = subscription(orgId);
      await store.createWebhookSubscription(hook);
      const initial = {
        onboardingCompleted: false,
        kycStatus: 'not_started',
        accreditationStatus: 'not_submitted',
      } as const;
      const approved = webhookEvent(orgId, 'kyc.session.approved');
      const change = {
        orgId,
        userId: user.userId,
        next: { ...initial, kycStatus: 'approved' as const },
        now: nowSeconds(),
      };

      await store.updateUserVerification({ ...change, expected: initial, events: [approved] });
      const lost = webhookEvent(orgId, 'kyc.session.approved');
      expect(
        (await store.updateUserVerification({ ...change, expected: initial, events: [lost] })).outcome,
      ).toBe('stale');

      expect(await claim(store, nowSeconds() + 60)).toEqual([
        expectedDelivery(approved, hook.subscriptionId),
      ]);
    });

    it('claimWebhookDeliveries takes due deliveries only, earliest first, at most limit, under a lease', async () => {
      const store = await freshStore();
      const orgId = organization().orgId;
      await store.createWebhookSubscription(subscription(orgId));
      const now = nowSeconds();
      const [first, second, future] = [now - 20, now - 10, now + 100].map((createdAt) =>
        webhookEvent(orgId, 'user.created', { createdAt }),
      ) as [WebhookEventRecord, WebhookEventRecord, WebhookEventRecord];
      await store.enqueueWebhookEvents([future, second, first]);

      const leaseToken = randomUUID();
      const claimed = await claim(store, now, 1, leaseToken);
      expect(claimed.map((delivery) => delivery.eventId)).toEqual([first.eventId]);
      expect(claimed[0]).toMatchObject({ leaseToken, leaseExpiresAt: now + LEASE_SECONDS });
      expect((await claim(store, now)).map((delivery) => delivery.eventId)).toEqual([second.eventId]);
      expect(await claim(store, now)).toEqual([]);
    });

    it('a lease that expired is claimable again (a worker died mid-attempt), and its holder can no longer complete', async () => {
      const store = await freshStore();
      const orgId = organization().orgId;
      await store.createWebhookSubscription(subscription(orgId));
      const event = webhookEvent(orgId, 'user.created');
      await store.enqueueWebhookEvents([event]);
      const [dead] = await claim(store, event.createdAt);

      expect(await claim(store, event.createdAt + LEASE_SECONDS - 1)).toEqual([]);
      const [reclaimed] = await claim(store, event.createdAt + LEASE_SECONDS);
      expect(reclaimed?.deliveryId).toBe(dead?.deliveryId);

      const late = {
        deliveryId: dead?.deliveryId ?? '',
        leaseToken: dead?.leaseToken ?? '',
        attempt: ATTEMPT,
        status: 'succeeded' as const,
        nextAttemptAt: null,
        now: event.createdAt + LEASE_SECONDS + 1,
      };
      expect(await store.completeWebhookAttempt(late)).toBe(false);
      expect(await store.completeWebhookAttempt({ ...late, leaseToken: reclaimed?.leaseToken ?? '' })).toBe(
        true,
      );
    });

    it('completeWebhookAttempt appends the attempt, releases the lease and reschedules a retry', async () => {
      const store = await freshStore();
      const orgId = organization().orgId;
      const hook = subscription(orgId);
      await store.createWebhookSubscription(hook);
      const event = webhookEvent(orgId, 'user.created');
      await store.enqueueWebhookEvents([event]);
      const [claimed] = await claim(store, event.createdAt);
      const delivery = claimed ?? expect.unreachable();
      const retryAt = event.createdAt + 300;

      expect(
        await store.completeWebhookAttempt({
          deliveryId: delivery.deliveryId,
          leaseToken: delivery.leaseToken ?? '',
          attempt: { ...ATTEMPT, attemptedAt: event.createdAt },
          status: 'pending',
          nextAttemptAt: retryAt,
          now: event.createdAt + 1,
        }),
      ).toBe(true);

      expect(await claim(store, retryAt - 1)).toEqual([]);
      const [retried] = await claim(store, retryAt);
      expect(retried).toEqual({
        ...delivery,
        nextAttemptAt: retryAt,
        leaseToken: expect.any(String),
        leaseExpiresAt: retryAt + LEASE_SECONDS,
        attempts: [{ ...ATTEMPT, attemptedAt: event.createdAt }],
        updatedAt: event.createdAt + 1,
      });
    });

    it('finished deliveries are never claimed again; a wrong lease token completes nothing', async () => {
      const store = await freshStore();
      const orgId = organization().orgId;
      const hook = subscription(orgId);
      await store.createWebhookSubscription(hook);
      const events = [webhookEvent(orgId, 'user.created'), webhookEvent(orgId, 'user.created')];
      await store.enqueueWebhookEvents(events);
      const now = nowSeconds();
      const claimed = await claim(store, now);
      expect(claimed).toHaveLength(2);
      const [succeeded, failed] = claimed as [WebhookDeliveryRecord, WebhookDeliveryRecord];
      const complete = (
        delivery: WebhookDeliveryRecord,
        status: 'succeeded' | 'failed',
        leaseToken = delivery.leaseToken ?? '',
      ) =>
        store.completeWebhookAttempt({
          deliveryId: delivery.deliveryId,
          leaseToken,
          attempt: ATTEMPT,
          status,
          nextAttemptAt: null,
          now,
        });

      expect(await complete(succeeded, 'succeeded', randomUUID())).toBe(false);
      expect(await complete(succeeded, 'succeeded')).toBe(true);
      expect(await complete(failed, 'failed')).toBe(true);
      expect(await complete(failed, 'failed')).toBe(false);

      expect(await claim(store, now + 10 * 86_400)).toEqual([]);
      const listed = await store.listWebhookDeliveries(orgId, hook.subscriptionId, 10);
      expect(
        listed.map((delivery) => [delivery.deliveryId, delivery.status, delivery.attempts]).sort(),
      ).toEqual(
        [
          [succeeded.deliveryId, 'succeeded', [ATTEMPT]],
          [failed.deliveryId, 'failed', [ATTEMPT]],
        ].sort(),
      );
    });

    it('addWebhookDelivery stores a leased delivery that no worker claims while its lease holds', async () => {
      const store = await freshStore();
      const orgId = organization().orgId;
      const hook = subscription(orgId);
      await store.createWebhookSubscription(hook);
      const now = nowSeconds();
      const event = webhookEvent(orgId, 'test.ping', { createdAt: now });
      const leased: WebhookDeliveryRecord = {
        deliveryId: randomUUID(),
        subscriptionId: hook.subscriptionId,
        orgId,
        eventId: event.eventId,
        eventType: event.type,
        payload: event.payload,
        status: 'pending',
        nextAttemptAt: now,
        leaseToken: randomUUID(),
        leaseExpiresAt: now + LEASE_SECONDS,
        attempts: [],
        createdAt: now,
        updatedAt: now,
      };

      await store.addWebhookDelivery(leased);

      expect(await claim(store, now + 1)).toEqual([]);
      expect(
        await store.completeWebhookAttempt({
          deliveryId: leased.deliveryId,
          leaseToken: leased.leaseToken ?? '',
          attempt: ATTEMPT,
          status: 'succeeded',
          nextAttemptAt: null,
          now: now + 1,
        }),
      ).toBe(true);
      expect(await claim(store, now + LEASE_SECONDS + 1)).toEqual([]);
    });

    it("listWebhookDeliveries lists a subscription's deliveries newest first, at most limit, to its org only", async () => {
      const store = await freshStore();
      const orgId = organization().orgId;
      const hook = subscription(orgId);
      await store.createWebhookSubscription(hook);
      const now = nowSeconds();
      const events = [0, 1, 2].map((offset) =>
        webhookEvent(orgId, 'user.created', { createdAt: now - 100 + offset }),
      );
      await store.enqueueWebhookEvents(events);

      const listed = await store.listWebhookDeliveries(orgId, hook.subscriptionId, 2);
      expect(listed.map((delivery) => delivery.eventId)).toEqual([events[2]?.eventId, events[1]?.eventId]);
      expect(listed[0]).toMatchObject({ status: 'pending', attempts: [], payload: events[2]?.payload });
      expect(await store.listWebhookDeliveries(organization().orgId, hook.subscriptionId, 10)).toEqual([]);
    });

    itGuarantees(
      'concurrentWebhookClaim',
      '2 workers claiming concurrently never get the same delivery',
      async () => {
        const store = await freshStore();
        const orgId = organization().orgId;
        await store.createWebhookSubscription(subscription(orgId));
        const events = Array.from({ length: 30 }, () => webhookEvent(orgId, 'user.created'));
        await store.enqueueWebhookEvents(events);
        const now = nowSeconds();

        // Claims may come back short when the two collide; they go on until both find nothing left.
        const seen: string[] = [];
        for (let round = 0; round < 30; round++) {
          const batches = await Promise.all([claim(store, now, 7), claim(store, now, 7)]);
          for (const batch of batches) seen.push(...batch.map((delivery) => delivery.deliveryId));
          if (batches.every((batch) => batch.length === 0)) break;
        }

        expect(new Set(seen).size).toBe(seen.length);
        expect(seen).toHaveLength(30);
      },
    );

    itGuarantees(
      'concurrentWebhookClaim',
      '10 parallel claimWebhookDeliveries calls: every due delivery is handed out exactly once',
      async () => {
        const store = await freshStore();
        const orgId = organization().orgId;
        await store.createWebhookSubscription(subscription(orgId));
        await store.enqueueWebhookEvents(
          Array.from({ length: 20 }, () => webhookEvent(orgId, 'user.created')),
        );
        const now = nowSeconds();

        const batches = await Promise.all(Array.from({ length: 10 }, () => claim(store, now, 20)));
        const leftover = await claim(store, now, 20);

        const ids = [...batches.flat(), ...leftover].map((delivery) => delivery.deliveryId);
        expect(new Set(ids).size).toBe(ids.length);
        expect(ids).toHaveLength(20);
      },
    );
  });
}
