import type { Store, UserRecord, UserVerification } from '@rialto-exchange/core';
import { describe, expect, it } from 'vitest';
import type { SuiteContext } from './context.js';
import { apiKey, identity, issuerRegistration, organization, subscription } from './fixtures.js';

const INITIAL: UserVerification = {
  onboardingCompleted: false,
  kycStatus: 'not_started',
  accreditationStatus: 'not_submitted',
};

export async function storeWithUser(store: Store): Promise<{ orgId: string; user: UserRecord }> {
  const org = organization();
  await store.createOrganization(org, apiKey(org.orgId), issuerRegistration(org.orgId));
  const result = await store.findOrCreateUser(identity(org.orgId));
  if (result.outcome !== 'created') expect.unreachable(`expected a new user, got ${result.outcome}`);
  return { orgId: org.orgId, user: result.user };
}

/** Webhook subscriptions, user lookup by id and verification compare-and-set. */
export function describeWebhookSubscriptions({ freshStore, itGuarantees }: SuiteContext): void {
  describe('webhook subscriptions', () => {
    it('getWebhookSubscription returns a stored subscription to its org only; listWebhookSubscriptions lists oldest first', async () => {
      const store = await freshStore();
      const orgId = organization().orgId;
      const newer = subscription(orgId, { createdAt: 1_700_000_100, description: 'newer' });
      const older = subscription(orgId, { createdAt: 1_700_000_000, eventTypes: ['kyc.session.approved'] });
      await store.createWebhookSubscription(newer);
      await store.createWebhookSubscription(older);

      expect(await store.getWebhookSubscription(orgId, newer.subscriptionId)).toEqual(newer);
      expect(await store.getWebhookSubscription(organization().orgId, newer.subscriptionId)).toBeNull();
      expect(await store.listWebhookSubscriptions(orgId)).toEqual([older, newer]);
      expect(await store.listWebhookSubscriptions(organization().orgId)).toEqual([]);
    });

    it('updateWebhookSubscription applies the patch and updatedAt; null for another org or an unknown id', async () => {
      const store = await freshStore();
      const orgId = organization().orgId;
      const stored = subscription(orgId);
      await store.createWebhookSubscription(stored);

      const patch = {
        eventTypes: ['user.created'],
        secret: 'whsec_bmV3',
        previousSecret: stored.secret,
        previousSecretExpiresAt: 1_700_086_900,
        disabledAt: 1_700_000_500,
      };
      const expected = { ...stored, ...patch, updatedAt: 1_700_000_500 };
      expect(
        await store.updateWebhookSubscription(orgId, stored.subscriptionId, patch, 1_700_000_500),
      ).toEqual(expected);
      expect(await store.getWebhookSubscription(orgId, stored.subscriptionId)).toEqual(expected);
      expect(
        await store.updateWebhookSubscription(
          orgId,
          stored.subscriptionId,
          { disabledAt: null },
          1_700_000_600,
        ),
      ).toEqual({ ...expected, disabledAt: null, updatedAt: 1_700_000_600 });
      expect(
        await store.updateWebhookSubscription(
          organization().orgId,
          stored.subscriptionId,
          patch,
          1_700_000_700,
        ),
      ).toBeNull();
      expect(
        await store.updateWebhookSubscription(orgId, subscription(orgId).subscriptionId, patch, 1),
      ).toBeNull();
    });

    it('deleteWebhookSubscription removes it once; another org cannot delete it', async () => {
      const store = await freshStore();
      const orgId = organization().orgId;
      const stored = subscription(orgId);
      await store.createWebhookSubscription(stored);

      expect(await store.deleteWebhookSubscription(organization().orgId, stored.subscriptionId)).toBe(false);
      expect(await store.deleteWebhookSubscription(orgId, stored.subscriptionId)).toBe(true);
      expect(await store.deleteWebhookSubscription(orgId, stored.subscriptionId)).toBe(false);
      expect(await store.getWebhookSubscription(orgId, stored.subscriptionId)).toBeNull();
    });
  });

  describe('user verification', () => {
    it('getUserById returns the user whatever its org, or null', async () => {
      const store = await freshStore();
      const { user } = await storeWithUser(store);
      expect(await store.getUserById(user.userId)).toEqual(user);
      expect(await store.getUserById(identity(user.orgId).newUser.userId)).toBeNull();
    });

    it('updateUserVerification applies the next state when the user is in the expected one', async () => {
      const store = await freshStore();
      const { orgId, user } = await storeWithUser(store);
      const next: UserVerification = {
        onboardingCompleted: true,
        kycStatus: 'approved',
        accreditationStatus: 'verified',
      };

      const result = await store.updateUserVerification({
        orgId,
        userId: user.userId,
        expected: INITIAL,
        next,
        now: user.createdAt + 10,
        events: [],
      });

      const updated = { ...user, ...next, updatedAt: user.createdAt + 10 };
      expect(result).toEqual({ outcome: 'updated', user: updated });
      expect(await store.getUser(orgId, user.userId)).toEqual(updated);
    });

    it('updateUserVerification answers stale with the current user, writing nothing, when the state differs', async () => {
      const store = await freshStore();
      const { orgId, user } = await storeWithUser(store);

      const result = await store.updateUserVerification({
        orgId,
        userId: user.userId,
        expected: { ...INITIAL, kycStatus: 'processing' },
        next: { ...INITIAL, kycStatus: 'approved' },
        now: user.createdAt + 10,
        events: [],
      });

      expect(result).toEqual({ outcome: 'stale', user });
      expect(await store.getUser(orgId, user.userId)).toEqual(user);
    });

    it("updateUserVerification answers not_found for an unknown user and another org's user", async () => {
      const store = await freshStore();
      const { user } = await storeWithUser(store);
      const change = {
        expected: INITIAL,
        next: { ...INITIAL, onboardingCompleted: true },
        now: 1,
        events: [],
      };

      expect(
        await store.updateUserVerification({ ...change, orgId: organization().orgId, userId: user.userId }),
      ).toEqual({
        outcome: 'not_found',
      });
      expect(
        await store.updateUserVerification({
          ...change,
          orgId: user.orgId,
          userId: identity(user.orgId).newUser.userId,
        }),
      ).toEqual({ outcome: 'not_found' });
      expect(await store.getUserById(user.userId)).toEqual(user);
    });

    itGuarantees(
      'concurrentUserVerification',
      '10 parallel updateUserVerification calls from one state: exactly one is applied, the others are stale',
      async () => {
        const store = await freshStore();
        const { orgId, user } = await storeWithUser(store);
        const statuses = ['session_created', 'pii_submitted', 'processing', 'approved', 'denied'] as const;

        const results = await Promise.all(
          Array.from({ length: 10 }, (_, index) =>
            store.updateUserVerification({
              orgId,
              userId: user.userId,
              expected: INITIAL,
              next: { ...INITIAL, kycStatus: statuses[index % statuses.length] ?? 'approved' },
              now: user.createdAt + index,
              events: [],
            }),
          ),
        );

        const applied = results.filter((result) => result.outcome === 'updated');
        expect(applied).toHaveLength(1);
        expect(results.filter((result) => result.outcome === 'stale')).toHaveLength(9);
        const winner = applied[0]?.outcome === 'updated' ? applied[0].user : expect.unreachable();
        expect((await store.getUser(orgId, user.userId))?.kycStatus).toBe(winner.kycStatus);
      },
    );
  });
}
