import { randomUUID } from 'node:crypto';
import type { IssuerRegistrationRecord, Store } from '@rialto-exchange/core';
import { describe, expect, it } from 'vitest';
import type { SuiteContext } from './context.js';
import { apiKey, issuerRegistration, organization } from './fixtures.js';

const RACE_CALLS = 10;

async function newOrg(store: Store, first: Partial<IssuerRegistrationRecord> = {}) {
  const org = organization();
  const registration = issuerRegistration(org.orgId, first);
  expect(await store.createOrganization(org, apiKey(org.orgId), registration)).toBe('created');
  return { orgId: org.orgId, registration };
}

function sharedIssuer(): string {
  return `https://shared-${randomUUID()}.example.com`;
}

export function describeIssuerRegistrations({ freshStore, itGuarantees }: SuiteContext): void {
  describe('issuer registrations', () => {
    it('an organization registers several issuers, listed oldest first', async () => {
      const store = await freshStore();
      const { orgId, registration: first } = await newOrg(store);
      const second = issuerRegistration(orgId, { clientIds: ['staff'], createdAt: first.createdAt + 1 });
      const third = issuerRegistration(orgId, {
        subjectClaim: 'oid',
        trustUsernameClaims: true,
        emailLinking: 'never',
        createdAt: first.createdAt + 2,
      });

      expect(await store.addIssuerRegistration(third)).toBe('added');
      expect(await store.addIssuerRegistration(second)).toBe('added');

      expect(await store.listIssuerRegistrations(orgId)).toEqual([first, second, third]);
      expect(await store.findIssuerRegistrations(third.issuer)).toEqual([third]);
    });

    it('several organizations share an issuer when each names its own client ids', async () => {
      const store = await freshStore();
      const issuer = sharedIssuer();
      const { registration: first } = await newOrg(store, { issuer, clientIds: ['app-a'] });
      const { orgId } = await newOrg(store);
      const second = issuerRegistration(orgId, {
        issuer,
        clientIds: ['app-b', 'app-c'],
        createdAt: first.createdAt + 1,
      });

      expect(await store.addIssuerRegistration(second)).toBe('added');

      expect(await store.findIssuerRegistrations(issuer)).toEqual([first, second]);
    });

    it('addIssuerRegistration returns duplicate when the organization already registers the issuer, and writes nothing', async () => {
      const store = await freshStore();
      const issuer = sharedIssuer();
      const { orgId, registration } = await newOrg(store, { issuer, clientIds: ['app-a'] });

      expect(
        await store.addIssuerRegistration(issuerRegistration(orgId, { issuer, clientIds: ['app-b'] })),
      ).toBe('duplicate');

      expect(await store.listIssuerRegistrations(orgId)).toEqual([registration]);
      expect(await store.findIssuerRegistrations(issuer)).toEqual([registration]);
    });

    it('an issuer registered without client ids cannot be shared: addIssuerRegistration returns issuer_taken', async () => {
      const store = await freshStore();
      const issuer = sharedIssuer();
      const { registration } = await newOrg(store, { issuer });
      const { orgId } = await newOrg(store);

      expect(
        await store.addIssuerRegistration(issuerRegistration(orgId, { issuer, clientIds: ['app-b'] })),
      ).toBe('issuer_taken');

      expect(await store.findIssuerRegistrations(issuer)).toEqual([registration]);
      expect(await store.listIssuerRegistrations(orgId)).toHaveLength(1);
    });

    it('a registration without client ids cannot join a registered issuer: addIssuerRegistration returns issuer_taken', async () => {
      const store = await freshStore();
      const issuer = sharedIssuer();
      const { registration } = await newOrg(store, { issuer, clientIds: ['app-a'] });
      const { orgId } = await newOrg(store);

      expect(await store.addIssuerRegistration(issuerRegistration(orgId, { issuer }))).toBe('issuer_taken');

      expect(await store.findIssuerRegistrations(issuer)).toEqual([registration]);
    });

    it('addIssuerRegistration returns client_id_taken when one client id is claimed for the issuer, and claims none of the others', async () => {
      const store = await freshStore();
      const issuer = sharedIssuer();
      const { registration } = await newOrg(store, { issuer, clientIds: ['app-a'] });
      const { orgId } = await newOrg(store);
      const third = await newOrg(store);

      expect(
        await store.addIssuerRegistration(
          issuerRegistration(orgId, { issuer, clientIds: ['app-b', 'app-a'] }),
        ),
      ).toBe('client_id_taken');
      expect(
        await store.addIssuerRegistration(issuerRegistration(third.orgId, { issuer, clientIds: ['app-b'] })),
      ).toBe('added');

      expect((await store.findIssuerRegistrations(issuer)).map((found) => found.orgId).sort()).toEqual(
        [registration.orgId, third.orgId].sort(),
      );
      expect(await store.listIssuerRegistrations(orgId)).toHaveLength(1);
    });

    it('the same client id may be registered for two different issuers', async () => {
      const store = await freshStore();
      await newOrg(store, { clientIds: ['app'] });
      const { orgId } = await newOrg(store);

      expect(await store.addIssuerRegistration(issuerRegistration(orgId, { clientIds: ['app'] }))).toBe(
        'added',
      );
    });

    it('findIssuerRegistrations matches the issuer exactly (no case folding, no trailing-slash tolerance) and returns [] otherwise', async () => {
      const store = await freshStore();
      const { registration } = await newOrg(store, { issuer: 'https://login.example.com/tenant-a' });

      expect(await store.findIssuerRegistrations('https://login.example.com/tenant-a/')).toEqual([]);
      expect(await store.findIssuerRegistrations('https://LOGIN.example.com/tenant-a')).toEqual([]);
      expect(await store.findIssuerRegistrations('https://login.example.com/Tenant-A')).toEqual([]);
      expect(await store.findIssuerRegistrations('https://login.example.com/tenant-a')).toEqual([
        registration,
      ]);
      expect(await store.listIssuerRegistrations(organization().orgId)).toEqual([]);
    });

    it('removeIssuerRegistration removes the registration and releases its issuer and client ids', async () => {
      const store = await freshStore();
      const exclusive = sharedIssuer();
      const shared = sharedIssuer();
      const { orgId, registration: first } = await newOrg(store, { issuer: exclusive });
      const second = issuerRegistration(orgId, { issuer: shared, clientIds: ['app-a'] });
      await store.addIssuerRegistration(second);
      const other = await newOrg(store);

      expect(await store.removeIssuerRegistration(orgId, first.registrationId)).toBe(true);
      expect(await store.removeIssuerRegistration(orgId, second.registrationId)).toBe(true);

      expect(await store.listIssuerRegistrations(orgId)).toEqual([]);
      expect(await store.findIssuerRegistrations(exclusive)).toEqual([]);
      expect(await store.findIssuerRegistrations(shared)).toEqual([]);
      expect(
        await store.addIssuerRegistration(
          issuerRegistration(other.orgId, { issuer: exclusive, clientIds: ['x'] }),
        ),
      ).toBe('added');
      expect(await store.addIssuerRegistration(issuerRegistration(other.orgId, { issuer: shared }))).toBe(
        'added',
      );
      expect(
        await store.addIssuerRegistration(issuerRegistration(orgId, { issuer: exclusive, clientIds: ['y'] })),
      ).toBe('added');
    });

    it("removeIssuerRegistration returns false for an unknown id or another organization's registration, and removes nothing", async () => {
      const store = await freshStore();
      const { orgId, registration } = await newOrg(store);
      const other = await newOrg(store);

      expect(await store.removeIssuerRegistration(orgId, randomUUID())).toBe(false);
      expect(await store.removeIssuerRegistration(other.orgId, registration.registrationId)).toBe(false);
      expect(await store.removeIssuerRegistration(orgId, registration.registrationId)).toBe(true);
      expect(await store.removeIssuerRegistration(orgId, registration.registrationId)).toBe(false);

      expect(await store.listIssuerRegistrations(other.orgId)).toEqual([other.registration]);
    });

    it('registrations are copied in and out: mutating a record never changes the store', async () => {
      const store = await freshStore();
      const { orgId, registration } = await newOrg(store, { clientIds: ['app'] });
      const snapshot = structuredClone(registration);

      registration.clientIds.push('mutated');
      const read = (await store.listIssuerRegistrations(orgId))[0] ?? expect.unreachable();
      read.allowedAlgorithms.push('none');

      expect(await store.findIssuerRegistrations(snapshot.issuer)).toEqual([snapshot]);
    });

    itGuarantees(
      'concurrentIssuerRegistration',
      `${RACE_CALLS} organizations registering one (issuer, client id) at once, half of them without client ids: exactly one is added`,
      async () => {
        const store = await freshStore();
        const issuer = sharedIssuer();
        const orgs = await Promise.all(Array.from({ length: RACE_CALLS }, () => newOrg(store)));
        const candidates = orgs.map(({ orgId }, index) =>
          issuerRegistration(orgId, { issuer, clientIds: index % 2 === 0 ? ['app'] : [] }),
        );

        const results = await Promise.all(
          candidates.map((candidate) => store.addIssuerRegistration(candidate)),
        );

        expect(results.filter((result) => result === 'added')).toHaveLength(1);
        expect(
          results.filter(
            (result) => result !== 'added' && result !== 'client_id_taken' && result !== 'issuer_taken',
          ),
        ).toEqual([]);
        expect(await store.findIssuerRegistrations(issuer)).toEqual([candidates[results.indexOf('added')]]);
      },
    );

    itGuarantees(
      'concurrentIssuerRegistration',
      `${RACE_CALLS} organizations sharing one issuer with distinct client ids at once: every one is added`,
      async () => {
        const store = await freshStore();
        const issuer = sharedIssuer();
        const orgs = await Promise.all(Array.from({ length: RACE_CALLS }, () => newOrg(store)));

        const results = await Promise.all(
          orgs.map(({ orgId }, index) =>
            store.addIssuerRegistration(issuerRegistration(orgId, { issuer, clientIds: [`app-${index}`] })),
          ),
        );

        expect(results).toEqual(orgs.map(() => 'added'));
        expect(await store.findIssuerRegistrations(issuer)).toHaveLength(RACE_CALLS);
      },
    );
  });
}
