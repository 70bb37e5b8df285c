import type { Store, UserRecord } from '@rialto-exchange/core';
import { describe, expect, it } from 'vitest';
import type { SuiteContext } from './context.js';
import { apiKey, identity, issuerRegistration, organization } from './fixtures.js';

export function describeUserRoles({ freshStore }: SuiteContext): void {
  describe('user roles', () => {
    async function storeWithUser(): Promise<{ store: Store; user: UserRecord }> {
      const store = await freshStore();
      const org = organization();
      await store.createOrganization(org, apiKey(org.orgId), issuerRegistration(org.orgId));
      const result = await store.findOrCreateUser(identity(org.orgId));
      if (result.outcome !== 'created') expect.unreachable(`expected a new user, got ${result.outcome}`);
      return { store, user: result.user };
    }

    it('setUserRole sets the role and updatedAt, and getUser reads them back', async () => {
      const { store, user } = await storeWithUser();
      const now = user.updatedAt + 60;
      const expected: UserRecord = { ...user, role: 'org_admin', updatedAt: now };

      expect(
        await store.setUserRole({ orgId: user.orgId, userId: user.userId, role: 'org_admin', now }),
      ).toEqual(expected);
      expect(await store.getUser(user.orgId, user.userId)).toEqual(expected);
      expect(await store.getUserById(user.userId)).toEqual(expected);
    });

    it('setUserRole back to member demotes the user', async () => {
      const { store, user } = await storeWithUser();
      const { orgId, userId } = user;
      await store.setUserRole({ orgId, userId, role: 'org_admin', now: user.updatedAt + 1 });
      await store.setUserRole({ orgId, userId, role: 'member', now: user.updatedAt + 2 });

      expect((await store.getUser(orgId, userId))?.role).toBe('member');
    });

    it("setUserRole returns null and writes nothing for another org's user or an unknown user", async () => {
      const { store, user } = await storeWithUser();
      const other = organization();
      await store.createOrganization(other, apiKey(other.orgId), issuerRegistration(other.orgId));

      expect(
        await store.setUserRole({ orgId: other.orgId, userId: user.userId, role: 'org_admin', now: 1 }),
      ).toBeNull();
      expect(
        await store.setUserRole({
          orgId: user.orgId,
          userId: crypto.randomUUID(),
          role: 'org_admin',
          now: 1,
        }),
      ).toBeNull();
      expect(await store.getUser(user.orgId, user.userId)).toEqual(user);
    });

    it('a verification change keeps the role, and a role change keeps the verification state', async () => {
      const { store, user } = await storeWithUser();
      const { orgId, userId } = user;
      await store.setUserRole({ orgId, userId, role: 'org_admin', now: user.updatedAt + 1 });
      const next = {
        onboardingCompleted: true,
        kycStatus: 'approved',
        accreditationStatus: 'verified',
      } as const;
      const updated = await store.updateUserVerification({
        orgId,
        userId,
        expected: {
          onboardingCompleted: false,
          kycStatus: 'not_started',
          accreditationStatus: 'not_submitted',
        },
        next,
        now: user.updatedAt + 2,
        events: [],
      });

      expect(updated).toEqual({
        outcome: 'updated',
        user: { ...user, ...next, role: 'org_admin', updatedAt: user.updatedAt + 2 },
      });
      await store.setUserRole({ orgId, userId, role: 'member', now: user.updatedAt + 3 });
      expect(await store.getUser(orgId, userId)).toEqual({
        ...user,
        ...next,
        role: 'member',
        updatedAt: user.updatedAt + 3,
      });
    });
  });
}
