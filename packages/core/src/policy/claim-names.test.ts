import { describe, expect, it } from 'vitest';
import { claimNameProblem, RESERVED_CLAIM_NAMES } from './claim-names.js';

describe('claimNameProblem', () => {
  it.each([
    'iss',
    'sub',
    'aud',
    'exp',
    'nbf',
    'iat',
    'jti',
    'scope',
    'azp',
    'client_id',
    'cnf',
    'act',
    'org_id',
    'org_name',
    'org_role',
    'user_id',
    'email',
    'onboarding_completed',
    'kyc_completed',
    'accredited',
    'accreditation_verified',
  ])('refuses %s, a claim the exchange owns', (name) => {
    expect(RESERVED_CLAIM_NAMES.has(name)).toBe(true);
    expect(claimNameProblem(name)).toEqual({
      reason: 'is a claim the exchange sets itself',
      isQuotable: true,
    });
  });

  it('refuses a reserved name in any case, so no resource server reads a mapped Sub as the subject', () => {
    expect(claimNameProblem('Sub')?.reason).toBe('is a claim the exchange sets itself');
    expect(claimNameProblem('EMAIL')?.reason).toBe('is a claim the exchange sets itself');
  });

  it('refuses the authentication claims a resource server may trust for step-up', () => {
    for (const name of ['acr', 'amr', 'auth_time', 'may_act']) {
      expect(claimNameProblem(name)?.reason).toBe('is a claim the exchange sets itself');
    }
  });

  it.each([
    ['U+202E right-to-left override', 'tier\u202Eevil'],
    ['U+202A left-to-right embedding', '\u202Atier'],
    ['U+2066 left-to-right isolate', 'tier\u2066'],
    ['U+2069 pop directional isolate', 'ti\u2069er'],
    ['U+200B zero-width space', 'ti\u200Ber'],
    ['U+FEFF byte order mark', '\uFEFFtier'],
    ['a NUL', 'ti\u0000er'],
    ['a C1 control', 'ti\u0085er'],
    ['a space', 'partner tier'],
    ['a tab', 'partner\ttier'],
  ])('refuses a name with %s, without quoting it', (_, name) => {
    expect(claimNameProblem(name)).toEqual({
      reason:
        'must consist of letters, digits, punctuation and symbols, without spaces, control or invisible format characters',
      isQuotable: false,
    });
  });

  it('refuses an empty or overlong name', () => {
    const expected = { reason: 'must be 1 to 100 characters long', isQuotable: false };
    expect(claimNameProblem('')).toEqual(expected);
    expect(claimNameProblem('x'.repeat(101))).toEqual(expected);
    expect(claimNameProblem('x'.repeat(100))).toBeNull();
  });

  it.each([
    'department',
    'partner_tier',
    'https://partner.example/claims/tier',
    'groups',
    'département',
    'रोल',
  ])('accepts %s', (name) => {
    expect(claimNameProblem(name)).toBeNull();
  });
});
