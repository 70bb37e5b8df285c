import { randomUUID } from 'node:crypto';
import type { Store, UserRecord } from '@rialto-exchange/core';
import { describe, expect, it } from 'vitest';
import type { SuiteContext } from './context.js';
import {
  apiKey,
  identity,
  issuerRegistration,
  nowSeconds,
  organization,
  subscription,
  webhookEvent,
  withAnotherNewUser,
} from './fixtures.js';

function preProvisioned(orgId: string, overrides: Partial<UserRecord> = {}): UserRecord {
  return {
    userId: randomUUID(),
    orgId,
    email: 'imported@example.com',
    role: 'member',
    onboardingCompleted: true,
    kycStatus: 'approved',
    accreditationStatus: 'not_submitted',
    createdAt: 1_700_000_000,
    updatedAt: 1_700_000_000,
    ...overrides,
  };
}

export function describeLifecycle({ freshStore, itGuarantees }: SuiteContext): void {
  async function storeWithOrg(): Promise<{ store: Store; orgId: string }> {
    const store = await freshStore();
    const org = organization();
    await store.createOrganization(org, apiKey(org.orgId), issuerRegistration(org.orgId));
    return { store, orgId: org.orgId };
  }

  async function deliveriesOf(store: Store, orgId: string, subscriptionId: string): Promise<string[]> {
    return (await store.listWebhookDeliveries(orgId, subscriptionId, 10)).map(
      (delivery) => delivery.eventType,
    );
  }

  describe('createUser and deleteUser', () => {
    it('createUser stores a user with no identity, which findOrCreateUser then links by email', async () => {
      const { store, orgId } = await storeWithOrg();
      const user = preProvisioned(orgId);

      expect(await store.createUser({ user, events: [] })).toBe('created');
      expect(await store.getUser(orgId, user.userId)).toEqual(user);
      expect(await store.findOrCreateUser(identity(orgId, { email: user.email }))).toEqual({
        outcome: 'linked',
        user,
      });
    });

    it('createUser records its events, and answers email_taken writing nothing when the email is in use', async () => {
      const { store, orgId } = await storeWithOrg();
      const hook = subscription(orgId);
      await store.createWebhookSubscription(hook);
      const first = preProvisioned(orgId);
      await store.createUser({ user: first, events: [webhookEvent(orgId, 'user.created')] });
      const second = preProvisioned(orgId);

      expect(await store.createUser({ user: second, events: [webhookEvent(orgId, 'user.created')] })).toBe(
        'email_taken',
      );
      expect(await store.getUser(orgId, second.userId)).toBeNull();
      expect(await deliveriesOf(store, orgId, hook.subscriptionId)).toEqual(['user.created']);
    });

    itGuarantees(
      'concurrentCreateUser',
      '10 parallel createUser calls for one email: exactly one created',
      async () => {
        const { store, orgId } = await storeWithOrg();
        const results = await Promise.all(
          Array.from({ length: 10 }, () => store.createUser({ user: preProvisioned(orgId), events: [] })),
        );
        expect(results.filter((result) => result === 'created')).toHaveLength(1);
      },
    );

    it('deleteUser removes the user, its identity links and email entry, and records its events', async () => {
      const { store, orgId } = await storeWithOrg();
      const hook = subscription(orgId);
      await store.createWebhookSubscription(hook);
      const first = identity(orgId);
      const created = await store.findOrCreateUser(first);
      if (created.outcome !== 'created') expect.unreachable();
      const second = identity(orgId, { email: first.email });
      await store.findOrCreateUser(second);

      expect(
        await store.deleteUser({
          orgId,
          userId: first.newUser.userId,
          events: [webhookEvent(orgId, 'user.deleted')],
        }),
      ).toBe(true);

      expect(await store.getUser(orgId, first.newUser.userId)).toBeNull();
      expect(await store.getUserById(first.newUser.userId)).toBeNull();
      expect(await deliveriesOf(store, orgId, hook.subscriptionId)).toEqual(['user.deleted']);
      // Both identities and the email are free again: the same person becomes a new user.
      const again = identity(orgId, { sub: second.sub, email: first.email, now: first.now + 60 });
      expect(await store.findOrCreateUser(again)).toMatchObject({
        outcome: 'created',
        user: { userId: again.newUser.userId },
      });
      const firstAgain = identity(orgId, { sub: first.sub, email: first.email, mayLinkByEmail: false });
      expect(await store.findOrCreateUser(firstAgain)).toEqual({ outcome: 'conflict' });
    });

    it('findOrCreateUser with mayCreate false answers not_provisioned for an unknown person, writing nothing, and links a created user', async () => {
      const { store, orgId } = await storeWithOrg();
      const stranger = identity(orgId, { email: 'stranger@example.com', mayCreate: false });

      expect(await store.findOrCreateUser(stranger)).toEqual({ outcome: 'not_provisioned' });
      expect(await store.getUser(orgId, stranger.newUser.userId)).toBeNull();
      expect(await store.findOrCreateUser({ ...stranger, mayCreate: true })).toMatchObject({
        outcome: 'created',
      });

      const user = preProvisioned(orgId);
      await store.createUser({ user, events: [] });
      const claimant = identity(orgId, { email: user.email, mayCreate: false });
      expect(await store.findOrCreateUser(claimant)).toEqual({ outcome: 'linked', user });
      expect(await store.findOrCreateUser(claimant)).toEqual({ outcome: 'existing', user });
    });

    it("deleteUser returns false and writes nothing for another org's user or an unknown one", async () => {
      const { store, orgId } = await storeWithOrg();
      const other = await storeWithOrgIn(store);
      const input = identity(orgId);
      await store.findOrCreateUser(input);

      expect(await store.deleteUser({ orgId: other, userId: input.newUser.userId, events: [] })).toBe(false);
      expect(await store.deleteUser({ orgId, userId: randomUUID(), events: [] })).toBe(false);
      expect(await store.getUser(orgId, input.newUser.userId)).not.toBeNull();
      expect(await store.findOrCreateUser(input)).toMatchObject({ outcome: 'existing' });
    });
  });

  describe('organization suspension and deletion', () => {
    it('updateOrganization sets and clears suspendedAt and sets the provisioning mode', async () => {
      const store = await freshStore();
      const org = organization();
      await store.createOrganization(org, apiKey(org.orgId), issuerRegistration(org.orgId));
      expect(await store.getOrganization(org.orgId)).toMatchObject({
        suspendedAt: null,
        provisioning: 'create',
      });

      await store.updateOrganization(org.orgId, { suspendedAt: 1_700_000_100, provisioning: 'link_only' }, 1);
      expect(await store.getOrganization(org.orgId)).toMatchObject({
        suspendedAt: 1_700_000_100,
        provisioning: 'link_only',
      });
      await store.updateOrganization(org.orgId, { suspendedAt: null }, 2);
      expect(await store.getOrganization(org.orgId)).toMatchObject({
        suspendedAt: null,
        provisioning: 'link_only',
      });
    });

    it("deleteOrganization removes the org and everything stored for it, and nothing of another org's", async () => {
      const store = await freshStore();
      const [doomed, kept] = [organization(), organization()];
      const doomedKey = apiKey(doomed.orgId);
      const doomedIssuer = issuerRegistration(doomed.orgId);
      await store.createOrganization(doomed, doomedKey, doomedIssuer);
      await store.createOrganization(kept, apiKey(kept.orgId), issuerRegistration(kept.orgId));
      await store.addApiKey(apiKey(doomed.orgId));
      const [doomedHook, keptHook] = [subscription(doomed.orgId), subscription(kept.orgId)];
      await store.createWebhookSubscription(doomedHook);
      await store.createWebhookSubscription(keptHook);
      const doomedUser = identity(doomed.orgId);
      const keptUser = identity(kept.orgId);
      await store.findOrCreateUser(doomedUser);
      await store.findOrCreateUser(keptUser);
      const imported = preProvisioned(doomed.orgId);
      await store.createUser({ user: imported, events: [] });
      await store.enqueueWebhookEvents([
        webhookEvent(doomed.orgId, 'user.created'),
        webhookEvent(kept.orgId, 'user.created'),
      ]);

      expect(await store.deleteOrganization(doomed.orgId)).toBe(true);

      expect(await store.getOrganization(doomed.orgId)).toBeNull();
      expect(await store.findIssuerRegistrations(doomedIssuer.issuer)).toEqual([]);
      expect(await store.listIssuerRegistrations(doomed.orgId)).toEqual([]);
      expect(await store.listActiveApiKeys(doomed.orgId)).toEqual([]);
      expect(await store.getUserById(doomedUser.newUser.userId)).toBeNull();
      expect(await store.getUserById(imported.userId)).toBeNull();
      expect(await store.listWebhookSubscriptions(doomed.orgId)).toEqual([]);
      expect(await store.listWebhookDeliveries(doomed.orgId, doomedHook.subscriptionId, 10)).toEqual([]);
      const claimed = await store.claimWebhookDeliveries({
        now: nowSeconds() + 60,
        limit: 10,
        leaseSeconds: 30,
        leaseToken: randomUUID(),
      });
      expect(claimed.map((delivery) => delivery.orgId)).toEqual([kept.orgId]);

      expect(await store.getOrganization(kept.orgId)).toEqual(kept);
      expect(await store.listActiveApiKeys(kept.orgId)).toHaveLength(1);
      expect(await store.findOrCreateUser(keptUser)).toMatchObject({ outcome: 'existing' });
      expect(await store.listWebhookSubscriptions(kept.orgId)).toHaveLength(1);

      // The issuer can be registered again, and a returning identity is a new user there.
      const reborn = organization({ orgId: doomed.orgId });
      const again = issuerRegistration(reborn.orgId, { issuer: doomedIssuer.issuer });
      expect(await store.createOrganization(reborn, apiKey(reborn.orgId), again)).toBe('created');
      expect(await store.findOrCreateUser(withAnotherNewUser(doomedUser))).toMatchObject({
        outcome: 'created',
      });
    });

    it('deleteOrganization returns false for an unknown organization', async () => {
      const store = await freshStore();
      expect(await store.deleteOrganization(randomUUID())).toBe(false);
    });
  });
}

async function storeWithOrgIn(store: Store): Promise<string> {
  const org = organization();
  await store.createOrganization(org, apiKey(org.orgId), issuerRegistration(org.orgId));
  return org.orgId;
}
