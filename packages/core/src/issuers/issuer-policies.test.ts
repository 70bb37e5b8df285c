import { describe, expect, it } from 'vitest';
import type { IssuerRegistrationRecord } from '../store/store.js';
import { createCompiledPolicies, diffIssuerPolicies, issuerPolicyRecord } from './issuer-policies.js';

function registration(policy: IssuerRegistrationRecord['policy']): IssuerRegistrationRecord {
  return {
    registrationId: 'reg-1',
    orgId: 'org-1',
    issuer: 'https://idp.example.com',
    clientIds: [],
    allowedAlgorithms: ['RS256'],
    emailLinking: 'verified',
    subjectClaim: 'sub',
    trustUsernameClaims: false,
    ...(policy ? { policy } : {}),
    createdAt: 1,
    updatedAt: 1,
  };
}

describe('compiled policies', () => {
  it('compiles a registration once per version and again for the next one', () => {
    const policies = createCompiledPolicies(10);
    const first = registration({ condition: 'claims.hd == "a.example"', claimMappings: {}, version: 1 });

    const compiled = policies.of(first);
    expect(compiled?.condition?.source).toBe('claims.hd == "a.example"');
    expect(policies.of({ ...first })).toBe(compiled);

    const next = policies.of(
      registration({ condition: 'claims.hd == "b.example"', claimMappings: {}, version: 2 }),
    );
    expect(next).not.toBe(compiled);
    expect(next?.condition?.source).toBe('claims.hd == "b.example"');
  });

  it('has nothing to evaluate for a registration without a policy, or with an empty one', () => {
    const policies = createCompiledPolicies(10);
    expect(policies.of(registration(undefined))).toBeNull();
    expect(policies.of(registration({ condition: null, claimMappings: {}, version: 4 }))).toBeNull();
  });

  it('denies with access_denied, naming the version, when a stored policy no longer compiles', () => {
    const policies = createCompiledPolicies(10);
    expect(() => policies.of(registration({ condition: 'claims.(', claimMappings: {}, version: 7 }))).toThrow(
      expect.objectContaining({
        code: 'access_denied',
        description:
          'Policy version 7 of this issuer cannot be evaluated; the service operator must update it.',
      }),
    );
  });
});

describe('policy records and their differences', () => {
  it('builds the stored record from body fields, refusing what registration refuses', () => {
    expect(issuerPolicyRecord({ condition: 'true', claim_mappings: { tier: '"gold"' } }, 1)).toEqual({
      condition: 'true',
      claimMappings: { tier: '"gold"' },
      version: 1,
    });
    expect(issuerPolicyRecord({}, 1)).toEqual({ condition: null, claimMappings: {}, version: 1 });
    expect(() => issuerPolicyRecord({ claim_mappings: { user_id: '"x"' } }, 1)).toThrow(
      expect.objectContaining({ code: 'invalid_request' }),
    );
  });

  it('names the condition before and after and the mappings added, removed and changed', () => {
    const before = { condition: 'true', claimMappings: { a: '1', b: '2', c: '3' }, version: 1 };
    const after = { condition: null, claimMappings: { a: '1', b: '20', d: '4' }, version: 2 };

    expect(diffIssuerPolicies(before, after)).toEqual({
      condition: { before: 'true', after: null },
      claimMappings: { added: ['d'], removed: ['c'], changed: ['b'] },
    });
    expect(diffIssuerPolicies(before, { ...before, version: 2 })).toEqual({});
  });
});
