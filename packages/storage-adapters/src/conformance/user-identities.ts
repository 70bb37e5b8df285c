import type { UserIdentityRecord } from '@rialto-exchange/core';
import { describe, expect, it } from 'vitest';
import type { SuiteContext } from './context.js';
import { apiKey, identity, issuerRegistration, organization } from './fixtures.js';

export function describeUserIdentities({ freshStore }: SuiteContext): void {
  describe('user identities', () => {
    it('listIdentities lists every identity linked to the user, with its claim name, in order', async () => {
      const store = await freshStore();
      const org = organization();
      const entra = issuerRegistration(org.orgId, { subjectClaim: 'oid' });
      const google = issuerRegistration(org.orgId, { issuer: 'https://accounts.example.com' });
      await store.createOrganization(org, apiKey(org.orgId), entra);
      await store.addIssuerRegistration(google);
      const now = 1_700_000_100;
      const first = await store.findOrCreateUser(
        identity(org.orgId, { iss: entra.issuer, sub: 'object-1', subjectClaim: 'oid', now }),
      );
      if (first.outcome !== 'created') expect.unreachable(`expected a new user, got ${first.outcome}`);
      const linked = await store.findOrCreateUser(
        identity(org.orgId, { iss: google.issuer, sub: 'google-1', now }),
      );
      expect(linked).toMatchObject({ outcome: 'linked', user: { userId: first.user.userId } });
      // The same value under `sub` is another identity, here of another user.
      const other = await store.findOrCreateUser(
        identity(org.orgId, { iss: entra.issuer, sub: 'object-1', email: 'grace@example.com', now }),
      );
      expect(other.outcome).toBe('created');

      const listed = await store.listIdentities(org.orgId, first.user.userId);
      const expected: UserIdentityRecord[] = [
        { iss: google.issuer, subjectClaim: 'sub', sub: 'google-1' },
        { iss: entra.issuer, subjectClaim: 'oid', sub: 'object-1' },
      ].sort((left, right) => (left.iss < right.iss ? -1 : 1));
      expect(listed.map(({ linkedAt: _, ...rest }) => rest)).toEqual(expected);
      // Stores that keep when an identity was linked report the exchange's `now`.
      for (const { linkedAt } of listed) expect([undefined, now]).toContain(linkedAt);
      if (other.outcome !== 'created') return;
      expect(
        (await store.listIdentities(org.orgId, other.user.userId)).map(({ linkedAt: _, ...rest }) => rest),
      ).toEqual([{ iss: entra.issuer, subjectClaim: 'sub', sub: 'object-1' }]);
    });

    it("listIdentities gives [] for another org's user, an unknown user and a deleted user", async () => {
      const store = await freshStore();
      const org = organization();
      const elsewhere = organization();
      await store.createOrganization(org, apiKey(org.orgId), issuerRegistration(org.orgId));
      await store.createOrganization(elsewhere, apiKey(elsewhere.orgId), issuerRegistration(elsewhere.orgId));
      const created = await store.findOrCreateUser(identity(org.orgId));
      if (created.outcome !== 'created') expect.unreachable(`expected a new user, got ${created.outcome}`);
      const { userId } = created.user;
      expect(await store.listIdentities(org.orgId, userId)).toHaveLength(1);

      expect(await store.listIdentities(elsewhere.orgId, userId)).toEqual([]);
      expect(await store.listIdentities(org.orgId, crypto.randomUUID())).toEqual([]);
      expect(await store.deleteUser({ orgId: org.orgId, userId, events: [] })).toBe(true);
      expect(await store.listIdentities(org.orgId, userId)).toEqual([]);
    });
  });
}
