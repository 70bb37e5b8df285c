import { randomUUID } from 'node:crypto';
import type { ListingPosition, OrganizationRecord, Store, UserRecord } from '@rialto-exchange/core';
import { describe, expect, it } from 'vitest';
import type { SuiteContext } from './context.js';
import { apiKey, issuerRegistration, newUserFor, organization } from './fixtures.js';

async function createOrganizations(store: Store, orgs: readonly OrganizationRecord[]): Promise<void> {
  // In batches: a thousand at once would only measure the backend's connection limit.
  for (let start = 0; start < orgs.length; start += 50) {
    await Promise.all(
      orgs.slice(start, start + 50).map(async (org) => {
        const outcome = await store.createOrganization(org, apiKey(org.orgId), issuerRegistration(org.orgId));
        expect(outcome).toBe('created');
      }),
    );
  }
}

async function createUsers(store: Store, users: readonly UserRecord[]): Promise<void> {
  for (const user of users) expect(await store.createUser({ user, events: [] })).toBe('created');
}

/** Newest first, ties by id descending: what both listings promise. */
function newestFirst<T extends { createdAt: number }>(
  records: readonly T[],
  id: (record: T) => string,
): string[] {
  return [...records]
    .sort((a, b) => b.createdAt - a.createdAt || (id(a) < id(b) ? 1 : id(a) > id(b) ? -1 : 0))
    .map(id);
}

const positionOfOrg = (org: OrganizationRecord): ListingPosition => ({
  createdAt: org.createdAt,
  id: org.orgId,
});
const positionOfUser = (user: UserRecord): ListingPosition => ({
  createdAt: user.createdAt,
  id: user.userId,
});

/** `listOrganizations` and `listUsers`: order, paging, search, isolation. */
export function describeListings({ freshStore }: SuiteContext): void {
  describe('paged listings', () => {
    it('listOrganizations lists newest first, ties by orgId descending, and pages strictly after a position', async () => {
      const store = await freshStore();
      // Three creation times, several orgs each: ties are the common case (orgs created in one second).
      const orgs = Array.from({ length: 9 }, (_, index) =>
        organization({ createdAt: 1_700_000_000 + (index % 3) }),
      );
      await createOrganizations(store, orgs);
      const expected = newestFirst(orgs, (org) => org.orgId);

      const all = await store.listOrganizations({ query: null, after: null, limit: 100 });
      expect(all.map((org) => org.orgId)).toEqual(expected);
      expect(all[0]).toEqual(orgs.find((org) => org.orgId === expected[0]));

      const firstPage = await store.listOrganizations({ query: null, after: null, limit: 4 });
      expect(firstPage.map((org) => org.orgId)).toEqual(expected.slice(0, 4));
      const secondPage = await store.listOrganizations({
        query: null,
        after: positionOfOrg(firstPage[3] as OrganizationRecord),
        limit: 4,
      });
      expect(secondPage.map((org) => org.orgId)).toEqual(expected.slice(4, 8));
      const lastOrg = orgs.find((org) => org.orgId === expected[8]) as OrganizationRecord;
      expect(await store.listOrganizations({ query: null, after: positionOfOrg(lastOrg), limit: 4 })).toEqual(
        [],
      );
    });

    it('listOrganizations finds an org by its exact id or by a piece of its name in any ASCII case, and never a deleted one', async () => {
      const store = await freshStore();
      const acme = organization({ name: 'Acme Capital Partners', createdAt: 1_700_000_001 });
      const acmeEurope = organization({ name: 'ACME Europe', createdAt: 1_700_000_002 });
      const globex = organization({ name: 'Globex 100% Bonds_A', createdAt: 1_700_000_003 });
      await createOrganizations(store, [acme, acmeEurope, globex]);

      const search = async (query: string) =>
        (await store.listOrganizations({ query, after: null, limit: 10 })).map((org) => org.name);
      expect(await search('acme')).toEqual(['ACME Europe', 'Acme Capital Partners']);
      expect(await search('CAPITAL')).toEqual(['Acme Capital Partners']);
      expect(await search(globex.orgId)).toEqual(['Globex 100% Bonds_A']);
      // LIKE wildcards in the query are plain characters.
      expect(await search('100%')).toEqual(['Globex 100% Bonds_A']);
      expect(await search('s_a')).toEqual(['Globex 100% Bonds_A']);
      expect(await search('%')).toEqual(['Globex 100% Bonds_A']);
      expect(await search('_')).toEqual(['Globex 100% Bonds_A']);
      expect(await search('Initech')).toEqual([]);
      // A piece of an id is not a search by id.
      expect(await search(globex.orgId.slice(0, 8))).toEqual([]);

      expect(await store.deleteOrganization(acme.orgId)).toBe(true);
      expect(await search('acme')).toEqual(['ACME Europe']);
      expect(await search(acme.orgId)).toEqual([]);
    });

    it('listOrganizations pages through a thousand organizations without a gap or a duplicate', async () => {
      const store = await freshStore();
      // Ten creation times: a hundred orgs tie on each, so every page boundary falls inside a tie.
      const orgs = Array.from({ length: 1000 }, (_, index) =>
        organization({ createdAt: 1_700_000_000 + (index % 10) }),
      );
      await createOrganizations(store, orgs);

      const listed: string[] = [];
      let after: ListingPosition | null = null;
      for (;;) {
        const page: OrganizationRecord[] = await store.listOrganizations({ query: null, after, limit: 64 });
        listed.push(...page.map((org) => org.orgId));
        if (page.length < 64) break;
        after = positionOfOrg(page[page.length - 1] as OrganizationRecord);
      }
      expect(listed).toHaveLength(1000);
      expect(new Set(listed).size).toBe(1000);
      expect(listed).toEqual(newestFirst(orgs, (org) => org.orgId));
    }, 120_000);

    it("listUsers lists one org's users newest first, ties by userId descending, paging strictly after a position", async () => {
      const store = await freshStore();
      const orgId = randomUUID();
      const users = Array.from({ length: 7 }, (_, index) => ({
        ...newUserFor({ orgId, email: `user${index}@example.com`, now: 1_700_000_000 + (index % 2) }),
      }));
      const otherOrgUser = newUserFor({
        orgId: randomUUID(),
        email: 'user0@example.com',
        now: 1_700_000_005,
      });
      await createUsers(store, [...users, otherOrgUser]);
      const expected = newestFirst(users, (user) => user.userId);

      const all = await store.listUsers({ orgId, query: null, after: null, limit: 100 });
      expect(all.map((user) => user.userId)).toEqual(expected);
      expect(all[0]).toEqual(users.find((user) => user.userId === expected[0]));

      const firstPage = await store.listUsers({ orgId, query: null, after: null, limit: 3 });
      const rest = await store.listUsers({
        orgId,
        query: null,
        after: positionOfUser(firstPage[2] as UserRecord),
        limit: 100,
      });
      expect([...firstPage, ...rest].map((user) => user.userId)).toEqual(expected);
      expect(await store.listUsers({ orgId: randomUUID(), query: null, after: null, limit: 10 })).toEqual([]);
    });

    it('listUsers finds users by exact id or email prefix within the org only, and never a deleted one', async () => {
      const store = await freshStore();
      const orgId = randomUUID();
      const ada = newUserFor({ orgId, email: 'ada@example.com', now: 1_700_000_001 });
      const adam = newUserFor({ orgId, email: 'adam_smith@example.org', now: 1_700_000_002 });
      const grace = newUserFor({ orgId, email: 'grace@example.com', now: 1_700_000_003 });
      const otherOrgAda = newUserFor({ orgId: randomUUID(), email: 'ada@example.com', now: 1_700_000_004 });
      await createUsers(store, [ada, adam, grace, otherOrgAda]);

      const search = async (query: string) =>
        (await store.listUsers({ orgId, query, after: null, limit: 10 })).map((user) => user.email);
      expect(await search('ad')).toEqual(['adam_smith@example.org', 'ada@example.com']);
      expect(await search('ada@')).toEqual(['ada@example.com']);
      expect(await search('grace@example.com')).toEqual(['grace@example.com']);
      expect(await search(grace.userId)).toEqual(['grace@example.com']);
      expect(await search(otherOrgAda.userId)).toEqual([]);
      // A prefix, not a substring; LIKE wildcards are plain characters.
      expect(await search('example')).toEqual([]);
      expect(await search('ada_')).toEqual([]);
      expect(await search('adam_')).toEqual(['adam_smith@example.org']);
      expect(await search('%')).toEqual([]);

      expect(await store.deleteUser({ orgId, userId: ada.userId, events: [] })).toBe(true);
      expect(await search('ad')).toEqual(['adam_smith@example.org']);
    });
  });
}
