import { describe, expect, it } from 'vitest';
import type { SuiteContext } from './context.js';
import { apiKey, issuerRegistration, organization } from './fixtures.js';

export function describeApiKeys({ freshStore }: SuiteContext): void {
  describe('API keys', () => {
    it('listActiveApiKeys returns [] for an organization without keys', async () => {
      const store = await freshStore();

      expect(await store.listActiveApiKeys(organization().orgId)).toEqual([]);
    });

    it('addApiKey keeps every key and listActiveApiKeys lists them oldest createdAt first', async () => {
      const store = await freshStore();
      const org = organization();
      const first = apiKey(org.orgId, { createdAt: 1_700_000_000 });
      const newest = apiKey(org.orgId, { createdAt: 1_700_000_200 });
      const middle = apiKey(org.orgId, { createdAt: 1_700_000_100 });
      await store.createOrganization(org, first, issuerRegistration(org.orgId));

      await store.addApiKey(newest);
      await store.addApiKey(middle);

      expect(await store.listActiveApiKeys(org.orgId)).toEqual([first, middle, newest]);
    });

    it('revokeApiKey returns true once, then false, and the key is no longer listed', async () => {
      const store = await freshStore();
      const org = organization();
      const first = apiKey(org.orgId);
      const second = apiKey(org.orgId, { createdAt: first.createdAt + 1 });
      await store.createOrganization(org, first, issuerRegistration(org.orgId));
      await store.addApiKey(second);

      expect(await store.revokeApiKey(org.orgId, first.keyId, 1_700_000_500)).toBe(true);
      expect(await store.revokeApiKey(org.orgId, first.keyId, 1_700_000_600)).toBe(false);

      expect(await store.listActiveApiKeys(org.orgId)).toEqual([second]);
    });

    it("revokeApiKey returns false for an unknown key and for another organization's key, which stays active", async () => {
      const store = await freshStore();
      const org = organization();
      const other = organization();
      const otherKey = apiKey(other.orgId);
      await store.createOrganization(org, apiKey(org.orgId), issuerRegistration(org.orgId));
      await store.createOrganization(other, otherKey, issuerRegistration(other.orgId));

      expect(await store.revokeApiKey(org.orgId, apiKey(org.orgId).keyId, 1_700_000_500)).toBe(false);
      expect(await store.revokeApiKey(org.orgId, otherKey.keyId, 1_700_000_500)).toBe(false);

      expect(await store.listActiveApiKeys(other.orgId)).toEqual([otherKey]);
    });

    it('a key added already revoked is never listed and cannot be revoked again', async () => {
      const store = await freshStore();
      const org = organization();
      const first = apiKey(org.orgId);
      const revoked = apiKey(org.orgId, { revokedAt: 1_700_000_050 });
      await store.createOrganization(org, first, issuerRegistration(org.orgId));

      await store.addApiKey(revoked);

      expect(await store.listActiveApiKeys(org.orgId)).toEqual([first]);
      expect(await store.revokeApiKey(org.orgId, revoked.keyId, 1_700_000_500)).toBe(false);
    });

    it('API keys are copied in and out: mutating a record never changes the store', async () => {
      const store = await freshStore();
      const org = organization();
      const key = apiKey(org.orgId);
      const snapshot = structuredClone(key);
      await store.createOrganization(org, key, issuerRegistration(org.orgId));

      key.hash = 'mutated';
      const listed = (await store.listActiveApiKeys(org.orgId))[0] ?? expect.unreachable();
      listed.revokedAt = 1;

      expect(await store.listActiveApiKeys(org.orgId)).toEqual([snapshot]);
    });
  });
}
