import type { IssuerPolicyRecord, Store } from '@rialto-exchange/core';
import { describe, expect, it } from 'vitest';
import type { SuiteContext } from './context.js';
import { apiKey, issuerRegistration, organization } from './fixtures.js';

const RACE_CALLS = 10;

async function newOrg(store: Store, policy?: IssuerPolicyRecord) {
  const org = organization();
  const registration = issuerRegistration(org.orgId, policy ? { policy } : {});
  expect(await store.createOrganization(org, apiKey(org.orgId), registration)).toBe('created');
  return { orgId: org.orgId, registration };
}

const FIRST_POLICY: IssuerPolicyRecord = {
  condition: 'claims.hd == "partner.example"',
  claimMappings: { department: 'claims.department', groups: 'claims.groups' },
  version: 1,
};

export function describeIssuerPolicies({ freshStore }: SuiteContext): void {
  describe('issuer policies', () => {
    it('a registration stores its policy, read back by listing and by issuer', async () => {
      const store = await freshStore();
      const { orgId, registration } = await newOrg(store, FIRST_POLICY);

      expect(await store.listIssuerRegistrations(orgId)).toEqual([registration]);
      expect(await store.findIssuerRegistrations(registration.issuer)).toEqual([registration]);
      expect((await store.findIssuerRegistrations(registration.issuer))[0]?.policy).toEqual(FIRST_POLICY);
    });

    it('replaceIssuerPolicy stores the next version and sets updatedAt; both readers see it', async () => {
      const store = await freshStore();
      const { orgId, registration } = await newOrg(store, FIRST_POLICY);
      const next: IssuerPolicyRecord = { condition: null, claimMappings: { tier: '"gold"' }, version: 2 };

      const updated = await store.replaceIssuerPolicy(
        orgId,
        registration.registrationId,
        next,
        1_700_000_500,
      );

      const expected = { ...registration, policy: next, updatedAt: 1_700_000_500 };
      expect(updated).toEqual(expected);
      expect(await store.listIssuerRegistrations(orgId)).toEqual([expected]);
      expect(await store.findIssuerRegistrations(registration.issuer)).toEqual([expected]);
    });

    it('a registration stored without a policy takes version 1 as its first change', async () => {
      const store = await freshStore();
      const { orgId, registration } = await newOrg(store);
      const first: IssuerPolicyRecord = { condition: 'true', claimMappings: {}, version: 1 };

      expect(
        await store.replaceIssuerPolicy(orgId, registration.registrationId, first, 1_700_000_100),
      ).toEqual({
        ...registration,
        policy: first,
        updatedAt: 1_700_000_100,
      });
    });

    it('replaceIssuerPolicy returns version_conflict for any version but the next, and writes nothing', async () => {
      const store = await freshStore();
      const { orgId, registration } = await newOrg(store, FIRST_POLICY);

      for (const version of [1, 3, 0]) {
        expect(
          await store.replaceIssuerPolicy(
            orgId,
            registration.registrationId,
            { condition: 'false', claimMappings: {}, version },
            1_700_000_200,
          ),
        ).toBe('version_conflict');
      }
      expect(await store.findIssuerRegistrations(registration.issuer)).toEqual([registration]);
    });

    it("replaceIssuerPolicy returns not_found for an unknown registration or another org's, and writes nothing", async () => {
      const store = await freshStore();
      const { registration } = await newOrg(store, FIRST_POLICY);
      const { orgId: otherOrgId } = await newOrg(store);
      const next = { ...FIRST_POLICY, condition: 'false', version: 2 };

      expect(await store.replaceIssuerPolicy(otherOrgId, registration.registrationId, next, 1)).toBe(
        'not_found',
      );
      expect(await store.replaceIssuerPolicy(registration.orgId, 'no-such-registration', next, 1)).toBe(
        'not_found',
      );
      expect(await store.findIssuerRegistrations(registration.issuer)).toEqual([registration]);
    });

    it('a removed registration stays removed: replaceIssuerPolicy returns not_found', async () => {
      const store = await freshStore();
      const { orgId, registration } = await newOrg(store, FIRST_POLICY);
      const second = issuerRegistration(orgId, {
        createdAt: registration.createdAt + 1,
        policy: FIRST_POLICY,
      });
      expect(await store.addIssuerRegistration(second)).toBe('added');
      expect(await store.removeIssuerRegistration(orgId, second.registrationId)).toBe(true);

      expect(
        await store.replaceIssuerPolicy(orgId, second.registrationId, { ...FIRST_POLICY, version: 2 }, 1),
      ).toBe('not_found');
      expect(await store.findIssuerRegistrations(second.issuer)).toEqual([]);
    });

    it(`${RACE_CALLS} changes from one version at once: exactly one is stored`, async () => {
      const store = await freshStore();
      const { orgId, registration } = await newOrg(store, FIRST_POLICY);

      const results = await Promise.all(
        Array.from({ length: RACE_CALLS }, (_, index) =>
          store.replaceIssuerPolicy(
            orgId,
            registration.registrationId,
            { condition: `claims.n == ${index}`, claimMappings: {}, version: 2 },
            1_700_000_300,
          ),
        ),
      );

      const stored = results.filter((result) => typeof result === 'object');
      expect(stored).toHaveLength(1);
      expect(results.filter((result) => result === 'version_conflict')).toHaveLength(RACE_CALLS - 1);
      expect(await store.findIssuerRegistrations(registration.issuer)).toEqual(stored);
      expect(await store.listIssuerRegistrations(orgId)).toEqual(stored);
    });
  });
}
