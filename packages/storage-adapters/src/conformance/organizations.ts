import { describe, expect, it } from 'vitest';
import type { SuiteContext } from './context.js';
import { apiKey, organization } from './fixtures.js';

export function describeOrganizations({ freshStore }: SuiteContext): void {
  describe('organizations', () => {
    it('createOrganization stores the organization and its first key', async () => {
      const store = await freshStore();
      const org = organization();
      const key = apiKey(org.orgId);

      expect(await store.createOrganization(org, key)).toBe('created');

      expect(await store.getOrganization(org.orgId)).toEqual(org);
      expect(await store.findOrganizationByIssuer(org.issuer)).toEqual(org);
      expect(await store.listActiveApiKeys(org.orgId)).toEqual([key]);
    });

    it('getOrganization and findOrganizationByIssuer return null when nothing matches', async () => {
      const store = await freshStore();
      const org = organization();
      await store.createOrganization(org, apiKey(org.orgId));

      expect(await store.getOrganization(organization().orgId)).toBeNull();
      expect(await store.findOrganizationByIssuer('https://unknown.example.com')).toBeNull();
    });

    it('findOrganizationByIssuer matches the issuer exactly: no case folding, no trailing-slash tolerance', async () => {
      const store = await freshStore();
      const org = organization({ issuer: 'https://login.example.com/tenant-a' });
      await store.createOrganization(org, apiKey(org.orgId));

      expect(await store.findOrganizationByIssuer('https://login.example.com/tenant-a/')).toBeNull();
      expect(await store.findOrganizationByIssuer('https://LOGIN.example.com/tenant-a')).toBeNull();
      expect(await store.findOrganizationByIssuer('https://login.example.com/Tenant-A')).toBeNull();
      expect(await store.findOrganizationByIssuer('https://login.example.com/tenant-a')).toEqual(org);
    });

    it('createOrganization returns issuer_taken and writes neither the organization nor its key', async () => {
      const store = await freshStore();
      const first = organization();
      await store.createOrganization(first, apiKey(first.orgId));
      const second = organization({ issuer: first.issuer, name: 'Impostor' });

      expect(await store.createOrganization(second, apiKey(second.orgId))).toBe('issuer_taken');

      expect(await store.getOrganization(second.orgId)).toBeNull();
      expect(await store.listActiveApiKeys(second.orgId)).toEqual([]);
      expect(await store.findOrganizationByIssuer(first.issuer)).toEqual(first);
    });

    it('updateOrganization applies the patch, keeps the other fields (also those given as undefined) and sets updatedAt', async () => {
      const store = await freshStore();
      const org = organization();
      await store.createOrganization(org, apiKey(org.orgId));
      const expected = {
        ...org,
        audience: ['identity', 'secondary-trading'],
        clientIds: ['client-a', 'client-b'],
        emailLinking: 'never' as const,
        updatedAt: org.updatedAt + 60,
      };

      const updated = await store.updateOrganization(
        org.orgId,
        {
          name: undefined,
          audience: expected.audience,
          clientIds: expected.clientIds,
          emailLinking: 'never',
        },
        org.updatedAt + 60,
      );

      expect(updated).toEqual(expected);
      expect(await store.getOrganization(org.orgId)).toEqual(expected);
      expect(await store.findOrganizationByIssuer(org.issuer)).toEqual(expected);
    });

    it('updateOrganization with an empty patch only sets updatedAt', async () => {
      const store = await freshStore();
      const org = organization();
      await store.createOrganization(org, apiKey(org.orgId));

      expect(await store.updateOrganization(org.orgId, {}, org.updatedAt + 5)).toEqual({
        ...org,
        updatedAt: org.updatedAt + 5,
      });
    });

    it('updateOrganization returns null for an unknown organization and creates nothing', async () => {
      const store = await freshStore();
      const unknown = organization();

      expect(await store.updateOrganization(unknown.orgId, { name: 'Ghost' }, unknown.updatedAt)).toBeNull();
      expect(await store.getOrganization(unknown.orgId)).toBeNull();
    });

    it('organizations are copied in and out: mutating a record never changes the store', async () => {
      const store = await freshStore();
      const org = organization();
      const snapshot = structuredClone(org);
      await store.createOrganization(org, apiKey(org.orgId));

      org.name = 'Mutated after create';
      org.audience.push('mutated');
      const read = (await store.getOrganization(org.orgId)) ?? expect.unreachable();
      read.clientIds.push('mutated');
      const updated =
        (await store.updateOrganization(org.orgId, {}, snapshot.updatedAt)) ?? expect.unreachable();
      updated.allowedAlgorithms.push('none');

      expect(await store.getOrganization(org.orgId)).toEqual(snapshot);
    });
  });
}
