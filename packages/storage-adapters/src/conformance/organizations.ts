import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { SuiteContext } from './context.js';
import { apiKey, issuerRegistration, organization } from './fixtures.js';

export function describeOrganizations({ freshStore }: SuiteContext): void {
  describe('organizations', () => {
    it('createOrganization stores the organization, its first key and its first issuer registration', async () => {
      const store = await freshStore();
      const org = organization();
      const key = apiKey(org.orgId);
      const registration = issuerRegistration(org.orgId);

      expect(await store.createOrganization(org, key, registration)).toBe('created');

      expect(await store.getOrganization(org.orgId)).toEqual(org);
      expect(await store.listActiveApiKeys(org.orgId)).toEqual([key]);
      expect(await store.listIssuerRegistrations(org.orgId)).toEqual([registration]);
      expect(await store.findIssuerRegistrations(registration.issuer)).toEqual([registration]);
    });

    it('getOrganization returns null when nothing matches', async () => {
      const store = await freshStore();
      const org = organization();
      await store.createOrganization(org, apiKey(org.orgId), issuerRegistration(org.orgId));

      expect(await store.getOrganization(organization().orgId)).toBeNull();
    });

    it('createOrganization returns issuer_taken and writes neither the organization, its key nor its registration', async () => {
      const store = await freshStore();
      const first = organization();
      const firstRegistration = issuerRegistration(first.orgId);
      await store.createOrganization(first, apiKey(first.orgId), firstRegistration);
      const second = organization({ name: 'Impostor' });

      expect(
        await store.createOrganization(
          second,
          apiKey(second.orgId),
          issuerRegistration(second.orgId, { issuer: firstRegistration.issuer, clientIds: ['app'] }),
        ),
      ).toBe('issuer_taken');

      expect(await store.getOrganization(second.orgId)).toBeNull();
      expect(await store.listActiveApiKeys(second.orgId)).toEqual([]);
      expect(await store.listIssuerRegistrations(second.orgId)).toEqual([]);
      expect(await store.findIssuerRegistrations(firstRegistration.issuer)).toEqual([firstRegistration]);
    });

    it('createOrganization returns client_id_taken when the first registration claims a client of a shared issuer', async () => {
      const store = await freshStore();
      const first = organization();
      const firstRegistration = issuerRegistration(first.orgId, { clientIds: ['app-a', 'app-b'] });
      await store.createOrganization(first, apiKey(first.orgId), firstRegistration);
      const second = organization();

      expect(
        await store.createOrganization(
          second,
          apiKey(second.orgId),
          issuerRegistration(second.orgId, {
            issuer: firstRegistration.issuer,
            clientIds: ['app-c', 'app-b'],
          }),
        ),
      ).toBe('client_id_taken');

      expect(await store.getOrganization(second.orgId)).toBeNull();
      expect(await store.listActiveApiKeys(second.orgId)).toEqual([]);
      expect(await store.findIssuerRegistrations(firstRegistration.issuer)).toEqual([firstRegistration]);
    });

    it('updateOrganization applies the patch, keeps the other fields (also those given as undefined) and sets updatedAt', async () => {
      const store = await freshStore();
      const org = organization();
      const registration = issuerRegistration(org.orgId);
      await store.createOrganization(org, apiKey(org.orgId), registration);
      const expected = { ...org, audience: ['identity', 'secondary-trading'], updatedAt: org.updatedAt + 60 };

      const updated = await store.updateOrganization(
        org.orgId,
        { name: undefined, audience: expected.audience },
        org.updatedAt + 60,
      );

      expect(updated).toEqual(expected);
      expect(await store.getOrganization(org.orgId)).toEqual(expected);
      expect(await store.listIssuerRegistrations(org.orgId)).toEqual([registration]);
    });

    it('keeps dpopBoundAccessTokens as created and as patched', async () => {
      const store = await freshStore();
      const org = organization({ dpopBoundAccessTokens: true });
      await store.createOrganization(org, apiKey(org.orgId), issuerRegistration(org.orgId));
      expect(await store.getOrganization(org.orgId)).toEqual(org);

      const cleared = { ...org, dpopBoundAccessTokens: false, updatedAt: org.updatedAt + 1 };
      expect(
        await store.updateOrganization(org.orgId, { dpopBoundAccessTokens: false }, org.updatedAt + 1),
      ).toEqual(cleared);
      expect(await store.getOrganization(org.orgId)).toEqual(cleared);
      const set = { ...cleared, dpopBoundAccessTokens: true, updatedAt: org.updatedAt + 2 };
      expect(
        await store.updateOrganization(org.orgId, { dpopBoundAccessTokens: true }, org.updatedAt + 2),
      ).toEqual(set);
      expect(await store.getOrganization(org.orgId)).toEqual(set);
    });

    it('keeps endedRegistrations as patched, and reads none on an organization that never ended any', async () => {
      const store = await freshStore();
      const org = organization();
      await store.createOrganization(org, apiKey(org.orgId), issuerRegistration(org.orgId));
      expect((await store.getOrganization(org.orgId))?.endedRegistrations).toBeUndefined();

      const endedRegistrations = [
        { registrationId: randomUUID(), endedAt: org.updatedAt + 1 },
        { registrationId: randomUUID(), endedAt: org.updatedAt + 2 },
      ];
      const ended = { ...org, endedRegistrations, updatedAt: org.updatedAt + 2 };
      expect(await store.updateOrganization(org.orgId, { endedRegistrations }, org.updatedAt + 2)).toEqual(
        ended,
      );
      expect(await store.getOrganization(org.orgId)).toEqual(ended);

      // Another patch keeps them.
      const renamed = { ...ended, name: 'Renamed', updatedAt: org.updatedAt + 3 };
      expect(await store.updateOrganization(org.orgId, { name: 'Renamed' }, org.updatedAt + 3)).toEqual(
        renamed,
      );
      const pruned = { ...renamed, endedRegistrations: [], updatedAt: org.updatedAt + 4 };
      expect(
        await store.updateOrganization(org.orgId, { endedRegistrations: [] }, org.updatedAt + 4),
      ).toEqual(pruned);
      expect(await store.getOrganization(org.orgId)).toEqual(pruned);
    });

    it('updateOrganization with an empty patch only sets updatedAt', async () => {
      const store = await freshStore();
      const org = organization();
      await store.createOrganization(org, apiKey(org.orgId), issuerRegistration(org.orgId));

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
      await store.createOrganization(org, apiKey(org.orgId), issuerRegistration(org.orgId));

      org.name = 'Mutated after create';
      org.audience.push('mutated');
      const read = (await store.getOrganization(org.orgId)) ?? expect.unreachable();
      read.audience.push('mutated');
      const updated =
        (await store.updateOrganization(org.orgId, {}, snapshot.updatedAt)) ?? expect.unreachable();
      updated.audience.push('none');

      expect(await store.getOrganization(org.orgId)).toEqual(snapshot);
    });
  });
}
