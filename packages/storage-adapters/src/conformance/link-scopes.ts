import { randomUUID } from 'node:crypto';
import type { FindOrCreateUserInput, IssuerPolicyRecord, Store, UserRecord } from '@rialto-exchange/core';
import { describe, expect, it } from 'vitest';
import type { SuiteContext } from './context.js';
import { apiKey, identity, issuerRegistration, newUserFor, organization } from './fixtures.js';

const EMAIL = 'shared@example.com';

export function describeLinkScopes({ freshStore }: SuiteContext): void {
  describe('link scopes', () => {
    async function storeWithOrg() {
      const store = await freshStore();
      const org = organization();
      await store.createOrganization(org, apiKey(org.orgId), issuerRegistration(org.orgId));
      return { store, orgId: org.orgId };
    }

    /** An identity of `registrationId` with the shared email, its new user first seen through it. */
    function identityThrough(
      orgId: string,
      registrationId: string,
      overrides: Partial<FindOrCreateUserInput> = {},
    ): FindOrCreateUserInput {
      const base = identity(orgId, { email: EMAIL, registrationId, ...overrides });
      return { ...base, newUser: { ...base.newUser, firstSeenThrough: registrationId } };
    }

    async function userFirstSeenThrough(
      store: Store,
      orgId: string,
      firstSeenThrough: string | null | undefined,
    ): Promise<UserRecord> {
      const user = newUserFor({ orgId, email: EMAIL, now: 1_700_000_000 });
      if (firstSeenThrough !== undefined) user.firstSeenThrough = firstSeenThrough;
      if (firstSeenThrough === null) {
        expect(await store.createUser({ user, events: [] })).toBe('created');
      } else {
        const result = await store.findOrCreateUser({ ...identity(orgId, { email: EMAIL }), newUser: user });
        expect(result).toEqual({ outcome: 'created', user });
      }
      return user;
    }

    /** Whether the identity of `input` is linked now, asked without writing. */
    async function isLinked(store: Store, input: FindOrCreateUserInput): Promise<boolean> {
      const result = await store.findOrCreateUser({ ...input, mayLinkByEmail: false, mayCreate: false });
      return result.outcome === 'existing';
    }

    it('findOrCreateUser keeps the created user firstSeenThrough as given, and links within that registration', async () => {
      const { store, orgId } = await storeWithOrg();
      const staff = randomUUID();
      const first = identityThrough(orgId, staff);
      const created = await store.findOrCreateUser(first);
      expect(created).toEqual({ outcome: 'created', user: first.newUser });

      const second = identityThrough(orgId, staff, { linkWithinRegistration: true });

      expect(await store.findOrCreateUser(second)).toEqual({ outcome: 'linked', user: first.newUser });
      expect(await store.getUser(orgId, first.newUser.userId)).toEqual(first.newUser);
    });

    it('findOrCreateUser with linkWithinRegistration answers conflict for a user first seen through another registration, writing nothing', async () => {
      const { store, orgId } = await storeWithOrg();
      const user = await userFirstSeenThrough(store, orgId, randomUUID());
      const other = identityThrough(orgId, randomUUID(), { linkWithinRegistration: true });

      expect(await store.findOrCreateUser(other)).toEqual({ outcome: 'conflict' });
      expect(await isLinked(store, other)).toBe(false);
      expect(await store.getUser(orgId, user.userId)).toEqual(user);
    });

    it('findOrCreateUser without linkWithinRegistration links to a user first seen through another registration, which keeps its origin', async () => {
      const { store, orgId } = await storeWithOrg();
      const user = await userFirstSeenThrough(store, orgId, randomUUID());
      const other = identityThrough(orgId, randomUUID());

      expect(await store.findOrCreateUser(other)).toEqual({ outcome: 'linked', user });
      expect(await isLinked(store, other)).toBe(true);
      expect(await store.getUser(orgId, user.userId)).toEqual(user);
    });

    it('a user created beforehand is claimed by the first registration that links to it; another one then gets conflict under linkWithinRegistration', async () => {
      const { store, orgId } = await storeWithOrg();
      const user = await userFirstSeenThrough(store, orgId, null);
      const customers = randomUUID();
      const claimed = { ...user, firstSeenThrough: customers };

      expect(
        await store.findOrCreateUser(identityThrough(orgId, customers, { linkWithinRegistration: true })),
      ).toEqual({ outcome: 'linked', user: claimed });
      expect(await store.getUser(orgId, user.userId)).toEqual(claimed);

      const staff = identityThrough(orgId, randomUUID(), { linkWithinRegistration: true });
      expect(await store.findOrCreateUser(staff)).toEqual({ outcome: 'conflict' });
      expect(await store.getUser(orgId, user.userId)).toEqual(claimed);
    });

    it('a user stored without firstSeenThrough (unknown origin) is linked only without linkWithinRegistration, and stays unknown', async () => {
      const { store, orgId } = await storeWithOrg();
      const user = await userFirstSeenThrough(store, orgId, undefined);
      const scoped = identityThrough(orgId, randomUUID(), { linkWithinRegistration: true });

      expect(await store.findOrCreateUser(scoped)).toEqual({ outcome: 'conflict' });

      const unscoped = identityThrough(orgId, randomUUID());
      expect(await store.findOrCreateUser(unscoped)).toEqual({ outcome: 'linked', user });
      const stored = await store.getUser(orgId, user.userId);
      expect(stored).toEqual(user);
      expect(stored && 'firstSeenThrough' in stored).toBe(false);
    });

    it('a registration stores its policy link scope, and replaceIssuerPolicy changes it', async () => {
      const store = await freshStore();
      const org = organization();
      const policy: IssuerPolicyRecord = {
        condition: null,
        claimMappings: {},
        linkScope: 'issuer',
        version: 1,
      };
      const registration = issuerRegistration(org.orgId, { policy });
      await store.createOrganization(org, apiKey(org.orgId), registration);
      expect(await store.listIssuerRegistrations(org.orgId)).toEqual([registration]);

      const next: IssuerPolicyRecord = { ...policy, linkScope: 'org', version: 2 };
      const updated = await store.replaceIssuerPolicy(
        org.orgId,
        registration.registrationId,
        next,
        1_700_000_100,
      );

      const expected = { ...registration, policy: next, updatedAt: 1_700_000_100 };
      expect(updated).toEqual(expected);
      expect(await store.findIssuerRegistrations(registration.issuer)).toEqual([expected]);
    });
  });
}
