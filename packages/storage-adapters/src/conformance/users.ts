import { randomUUID } from 'node:crypto';
import type { FindOrCreateUserInput, Store, UserRecord } from '@rialto-exchange/core';
import { describe, expect, it } from 'vitest';
import type { SuiteContext } from './context.js';
import { apiKey, identity, issuerRegistration, organization, withAnotherNewUser } from './fixtures.js';

export function describeUsers({ freshStore }: SuiteContext): void {
  describe('users and identity links', () => {
    async function storeWithOrg() {
      const store = await freshStore();
      const org = organization();
      await store.createOrganization(org, apiKey(org.orgId), issuerRegistration(org.orgId));
      return { store, orgId: org.orgId };
    }

    async function createUser(store: Store, input: FindOrCreateUserInput): Promise<UserRecord> {
      const result = await store.findOrCreateUser(input);
      if (result.outcome !== 'created') expect.unreachable(`expected a new user, got ${result.outcome}`);
      return result.user;
    }

    it('findOrCreateUser stores the new user core built, exactly as given, linked to the identity', async () => {
      const { store, orgId } = await storeWithOrg();
      const base = identity(orgId);
      // Unlike the initial state of today's users, so a store that builds its own record fails.
      const expected: UserRecord = {
        ...base.newUser,
        role: 'org_admin',
        onboardingCompleted: true,
        kycStatus: 'processing',
        accreditationStatus: 'submitted',
        createdAt: base.now - 5,
        updatedAt: base.now - 1,
      };
      const input = { ...base, newUser: expected };

      expect(await store.findOrCreateUser(input)).toEqual({ outcome: 'created', user: expected });
      expect(await store.getUser(orgId, expected.userId)).toEqual(expected);
      expect(await store.findOrCreateUser(withAnotherNewUser(input))).toEqual({
        outcome: 'existing',
        user: expected,
      });
    });

    it('findOrCreateUser returns existing for a linked identity, whatever email or new user is passed', async () => {
      const { store, orgId } = await storeWithOrg();
      const input = identity(orgId);
      const user = await createUser(store, input);
      const again = identity(orgId, { sub: input.sub, email: 'renamed@example.com', now: input.now + 60 });

      expect(await store.findOrCreateUser(again)).toEqual({ outcome: 'existing', user });
      expect(await store.getUser(orgId, again.newUser.userId)).toBeNull();
    });

    it('findOrCreateUser keys identities by the claim name too: one value under oid and under sub is two identities', async () => {
      const { store, orgId } = await storeWithOrg();
      const value = `shared-${randomUUID()}`;
      const byOid = identity(orgId, { sub: value, subjectClaim: 'oid', email: 'oid-user@example.com' });
      const oidUser = await createUser(store, byOid);
      const bySub = identity(orgId, {
        sub: value,
        subjectClaim: 'sub',
        mayLinkByEmail: false,
        email: 'sub-user@example.com',
      });

      const subResult = await store.findOrCreateUser(bySub);
      expect(subResult.outcome).toBe('created');
      expect(subResult.outcome === 'created' && subResult.user.userId).not.toBe(oidUser.userId);
      expect(await store.findOrCreateUser(withAnotherNewUser(byOid))).toEqual({
        outcome: 'existing',
        user: oidUser,
      });
    });

    it('findOrCreateUser reads an identity without subjectClaim as the sub claim, as stored before claim names', async () => {
      const { store, orgId } = await storeWithOrg();
      const input = identity(orgId);
      const user = await createUser(store, input);
      expect(await store.findOrCreateUser(withAnotherNewUser({ ...input, subjectClaim: 'sub' }))).toEqual({
        outcome: 'existing',
        user,
      });
      const underOid = await store.findOrCreateUser(
        withAnotherNewUser({ ...input, subjectClaim: 'oid', mayLinkByEmail: false, mayCreate: false }),
      );
      expect(underOid.outcome).toBe('conflict');
    });

    it('concurrent findOrCreateUser calls for many identities each get their own user', async () => {
      const { store, orgId } = await storeWithOrg();
      const known = Array.from({ length: 40 }, (_, i) =>
        identity(orgId, { email: `known-${i}@example.com` }),
      );
      const users = await Promise.all(known.map((input) => createUser(store, input)));
      const unknown = Array.from({ length: 10 }, (_, i) =>
        identity(orgId, { email: `new-${i}@example.com` }),
      );

      const [again, fresh] = await Promise.all([
        Promise.all(known.map((input) => store.findOrCreateUser(withAnotherNewUser(input)))),
        Promise.all(unknown.map((input) => store.findOrCreateUser(input))),
      ]);
      expect(again).toEqual(users.map((user) => ({ outcome: 'existing', user })));
      expect(fresh.map((result) => result.outcome === 'created' && result.user.userId)).toEqual(
        unknown.map((input) => input.newUser.userId),
      );
    });

    it('findOrCreateUser links a new identity to the user with the same email when mayLinkByEmail', async () => {
      const { store, orgId } = await storeWithOrg();
      const user = await createUser(store, identity(orgId, { iss: 'https://a.example.com' }));
      const other = identity(orgId, { iss: 'https://b.example.com', mayLinkByEmail: true });

      expect(await store.findOrCreateUser(other)).toEqual({ outcome: 'linked', user });
      expect(await store.findOrCreateUser({ ...other, mayLinkByEmail: false })).toEqual({
        outcome: 'existing',
        user,
      });
      expect(await store.getUser(orgId, other.newUser.userId)).toBeNull();
    });

    it('findOrCreateUser returns conflict and writes nothing when the email is taken and linking is refused', async () => {
      const { store, orgId } = await storeWithOrg();
      const user = await createUser(store, identity(orgId));
      const refused = identity(orgId, { mayLinkByEmail: false });

      expect(await store.findOrCreateUser(refused)).toEqual({ outcome: 'conflict' });
      expect(await store.getUser(orgId, refused.newUser.userId)).toBeNull();
      // Had the refused identity been linked anyway, this would answer `existing`.
      expect(await store.findOrCreateUser({ ...refused, mayLinkByEmail: true })).toEqual({
        outcome: 'linked',
        user,
      });
    });

    it('findOrCreateUser that may neither link nor create is a lookup: existing, conflict or not_provisioned, and nothing written', async () => {
      const { store, orgId } = await storeWithOrg();
      const user = await createUser(store, identity(orgId));
      const lookup = { mayLinkByEmail: false, mayCreate: false } as const;
      const known = identity(orgId, { ...lookup, sub: 'known', email: 'known@example.com' });
      await createUser(store, { ...known, mayLinkByEmail: true, mayCreate: true });
      const newIdentity = identity(orgId, lookup);
      const stranger = identity(orgId, { ...lookup, email: 'stranger@example.com' });

      expect(await store.findOrCreateUser(known)).toMatchObject({
        outcome: 'existing',
      });
      expect(await store.findOrCreateUser(newIdentity)).toEqual({ outcome: 'conflict' });
      expect(await store.findOrCreateUser(stranger)).toEqual({ outcome: 'not_provisioned' });
      expect(await store.getUser(orgId, stranger.newUser.userId)).toBeNull();
      // Had a lookup linked or created anything, these would answer `existing`.
      expect(await store.findOrCreateUser({ ...newIdentity, mayLinkByEmail: true })).toEqual({
        outcome: 'linked',
        user,
      });
      expect(await store.findOrCreateUser({ ...stranger, mayCreate: true })).toMatchObject({
        outcome: 'created',
      });
    });

    it('an identity is (org, iss, sub): the same sub at another issuer is another identity', async () => {
      const { store, orgId } = await storeWithOrg();
      const first = identity(orgId, { iss: 'https://a.example.com', email: 'a@example.com' });
      await createUser(store, first);
      const sameSub = identity(orgId, {
        iss: 'https://b.example.com',
        sub: first.sub,
        email: 'b@example.com',
      });

      expect((await store.findOrCreateUser(sameSub)).outcome).toBe('created');
    });

    it('users never match across organizations: the same iss, sub and email in two orgs are two users', async () => {
      const { store, orgId } = await storeWithOrg();
      const other = organization();
      await store.createOrganization(other, apiKey(other.orgId), issuerRegistration(other.orgId));
      const input = identity(orgId, { mayLinkByEmail: true });
      const inOtherOrg = identity(other.orgId, { iss: input.iss, sub: input.sub, email: input.email });

      const first = await createUser(store, input);
      const second = await createUser(store, inOtherOrg);

      expect(second).toEqual({ ...first, userId: inOtherOrg.newUser.userId, orgId: other.orgId });
      expect(await store.getUser(orgId, first.userId)).toEqual(first);
    });

    it("getUser returns null for an unknown user and for another organization's user", async () => {
      const { store, orgId } = await storeWithOrg();
      const other = organization();
      await store.createOrganization(other, apiKey(other.orgId), issuerRegistration(other.orgId));
      const input = identity(orgId);
      await createUser(store, input);

      expect(await store.getUser(orgId, identity(orgId).newUser.userId)).toBeNull();
      expect(await store.getUser(other.orgId, input.newUser.userId)).toBeNull();
    });

    it('users are copied in and out: mutating a returned record never changes the store', async () => {
      const { store, orgId } = await storeWithOrg();
      const input = identity(orgId);
      const created = await createUser(store, input);
      const snapshot = structuredClone(created);

      created.kycStatus = 'approved';
      const read = (await store.getUser(orgId, input.newUser.userId)) ?? expect.unreachable();
      read.email = 'mutated@example.com';

      expect(await store.getUser(orgId, input.newUser.userId)).toEqual(snapshot);
    });
  });
}
