import { randomBytes, randomUUID } from 'node:crypto';
import type { Store } from '@rialto-exchange/core';
import { describe, expect, it } from 'vitest';
import type { SuiteContext } from './context.js';
import {
  apiKey,
  delivery,
  issuerRegistration,
  nowSeconds,
  organization,
  signingKey,
  subscription,
  tiedIds,
} from './fixtures.js';

/*
 * Every listing's order, and its tie-break when records share `createdAt` (common: an organization's
 * first key and registration, several keys added in one second). Each case stores records created
 * in the same second in the reverse of the expected order, plus one older record with the greatest
 * id, so neither insertion order nor id order alone passes. The rules are `storeKit`'s comparators.
 */

const CREATED_AT = 1_700_000_000;

/** Greater than any random UUID: the id of the one older record in each case. */
const GREATEST_ID = 'ffffffff-ffff-4fff-bfff-ffffffffffff';

async function storeWithOrg(store: Store, { firstKeyId = randomUUID(), registrationId = randomUUID() } = {}) {
  const org = organization({ createdAt: CREATED_AT - 100, updatedAt: CREATED_AT - 100 });
  const registration = issuerRegistration(org.orgId, {
    registrationId,
    createdAt: CREATED_AT - 100,
    updatedAt: CREATED_AT - 100,
  });
  const firstKey = apiKey(org.orgId, { keyId: firstKeyId, createdAt: CREATED_AT - 100 });
  expect(await store.createOrganization(org, firstKey, registration)).toBe('created');
  return { orgId: org.orgId, registration, firstKey };
}

export function describeListingOrder({ freshStore }: SuiteContext): void {
  describe('listing order and tie-breaks', () => {
    it('listIssuerRegistrations: oldest first, ties by registrationId ascending', async () => {
      const store = await freshStore();
      const { orgId, registration } = await storeWithOrg(store, { registrationId: GREATEST_ID });
      const ids = tiedIds(3);
      for (const registrationId of ids.insertionOrder) {
        const added = issuerRegistration(orgId, {
          registrationId,
          issuer: `https://idp-${registrationId}.example.com`,
          createdAt: CREATED_AT,
          updatedAt: CREATED_AT,
        });
        expect(await store.addIssuerRegistration(added)).toBe('added');
      }

      const listed = await store.listIssuerRegistrations(orgId);

      expect(listed.map((record) => record.registrationId)).toEqual([
        registration.registrationId,
        ...ids.ascending,
      ]);
    });

    it('findIssuerRegistrations: oldest first, ties by registrationId ascending, across organizations', async () => {
      const store = await freshStore();
      const issuer = `https://shared-${randomUUID()}.example.com`;
      const ids = tiedIds(3);
      const oldest = { registrationId: GREATEST_ID, createdAt: CREATED_AT - 1 };
      for (const { registrationId, createdAt } of [
        ...ids.insertionOrder.map((registrationId) => ({ registrationId, createdAt: CREATED_AT })),
        oldest,
      ]) {
        const { orgId } = await storeWithOrg(store);
        const shared = issuerRegistration(orgId, {
          registrationId,
          issuer,
          clientIds: [`client-${registrationId}`],
          createdAt,
          updatedAt: createdAt,
        });
        expect(await store.addIssuerRegistration(shared)).toBe('added');
      }

      const found = await store.findIssuerRegistrations(issuer);

      expect(found.map((record) => record.registrationId)).toEqual([oldest.registrationId, ...ids.ascending]);
    });

    it('listActiveApiKeys: oldest first, ties by keyId ascending', async () => {
      const store = await freshStore();
      const { orgId, firstKey } = await storeWithOrg(store, { firstKeyId: GREATEST_ID });
      const ids = tiedIds(3);
      for (const keyId of ids.insertionOrder)
        await store.addApiKey(apiKey(orgId, { keyId, createdAt: CREATED_AT }));

      const listed = await store.listActiveApiKeys(orgId);

      expect(listed.map((key) => key.keyId)).toEqual([firstKey.keyId, ...ids.ascending]);
    });

    it('listWebhookSubscriptions: oldest first, ties by subscriptionId ascending', async () => {
      const store = await freshStore();
      const orgId = organization().orgId;
      const ids = tiedIds(3);
      const oldest = subscription(orgId, {
        subscriptionId: GREATEST_ID,
        createdAt: CREATED_AT - 1,
      });
      for (const subscriptionId of ids.insertionOrder) {
        await store.createWebhookSubscription(subscription(orgId, { subscriptionId, createdAt: CREATED_AT }));
      }
      await store.createWebhookSubscription(oldest);

      const listed = await store.listWebhookSubscriptions(orgId);

      expect(listed.map((record) => record.subscriptionId)).toEqual([
        oldest.subscriptionId,
        ...ids.ascending,
      ]);
    });

    it('listSigningKeys and ensureSigningKey: newest first, ties by kid descending', async () => {
      const store = await freshStore();
      // Kids are JWK thumbprints: base64url, mixed case. Ordered by code unit ('A' < '_' < 'a'), as a
      // binary collation does; a locale collation ('a' before 'A', '_' ignored) fails here.
      const prefixes = ['a', '_', 'A'];
      const ids = tiedIds(3, () => `${prefixes.pop()}${randomBytes(32).toString('base64url').slice(1)}`);
      const older = signingKey('access_token', { kid: 'z'.repeat(43), createdAt: CREATED_AT - 1 });
      await store.addSigningKey(older);
      for (const kid of ids.ascending)
        await store.addSigningKey(signingKey('access_token', { kid, createdAt: CREATED_AT }));

      const listed = await store.listSigningKeys('access_token');
      const ensured = await store.ensureSigningKey(signingKey('access_token', { createdAt: CREATED_AT + 1 }));

      const newestFirst = [...ids.insertionOrder, older.kid];
      expect(listed.map((key) => key.kid)).toEqual(newestFirst);
      expect(ensured.kid).toBe(newestFirst[0]);
    });

    it('listWebhookDeliveries: newest first, ties by deliveryId descending', async () => {
      const store = await freshStore();
      const hook = subscription(organization().orgId);
      await store.createWebhookSubscription(hook);
      const now = nowSeconds();
      const ids = tiedIds(3);
      const older = delivery(hook, {
        deliveryId: '00000000-0000-4000-8000-000000000000',
        createdAt: now - 1,
      });
      await store.addWebhookDelivery(older);
      for (const deliveryId of ids.ascending)
        await store.addWebhookDelivery(delivery(hook, { deliveryId, createdAt: now }));

      const listed = await store.listWebhookDeliveries(hook.orgId, hook.subscriptionId, 10);

      expect(listed.map((record) => record.deliveryId)).toEqual([...ids.insertionOrder, older.deliveryId]);
    });

    it('claimWebhookDeliveries: earliest due first, ties by deliveryId ascending', async () => {
      const store = await freshStore();
      const hook = subscription(organization().orgId);
      await store.createWebhookSubscription(hook);
      const now = nowSeconds();
      const ids = tiedIds(3);
      const earlier = delivery(hook, { deliveryId: GREATEST_ID, nextAttemptAt: now - 5 });
      for (const deliveryId of ids.insertionOrder) {
        await store.addWebhookDelivery(delivery(hook, { deliveryId, nextAttemptAt: now - 1 }));
      }
      await store.addWebhookDelivery(earlier);

      const claimed = await store.claimWebhookDeliveries({
        now,
        limit: 3,
        leaseSeconds: 60,
        leaseToken: randomUUID(),
      });

      expect(claimed.map((record) => record.deliveryId)).toEqual([
        earlier.deliveryId,
        ...ids.ascending.slice(0, 2),
      ]);
    });
  });
}
