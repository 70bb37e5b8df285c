import { describe, expect, it } from 'vitest';
import { RialtoError } from '../errors.js';
import { compileExchangePolicy, type ExchangePolicySource } from './compile-policy.js';

function refusal(source: ExchangePolicySource) {
  try {
    compileExchangePolicy(source);
  } catch (error) {
    expect(error).toBeInstanceOf(RialtoError);
    const { code, status, description } = error as RialtoError;
    return { code, status, description };
  }
  throw new Error('expected the policy to be refused');
}

function invalid(description: string) {
  return { code: 'invalid_request', status: 400, description };
}

// One comprehension over a claim list, priced at about 323,000 units.
const COSTLY = 'claims.groups.exists(g, g.size() > 3)';

describe('compileExchangePolicy', () => {
  it('compiles a condition and mappings, with the union of the claims they read', () => {
    const policy = compileExchangePolicy({
      condition: 'claims.hd == "partner.example" && "staff" in claims.groups',
      claimMappings: { department: 'claims.department', first_group: 'claims.groups[0]' },
    });
    expect(policy.condition?.source).toBe('claims.hd == "partner.example" && "staff" in claims.groups');
    expect(policy.mappings.map(({ name }) => name)).toEqual(['department', 'first_group']);
    expect(policy.claimNames).toEqual(['department', 'groups', 'hd']);
    expect(policy.cost).toBe(
      (policy.condition?.cost ?? 0) +
        policy.mappings.reduce((sum, { expression }) => sum + expression.cost, 0),
    );
  });

  it('compiles an empty policy', () => {
    expect(compileExchangePolicy({ condition: null, claimMappings: null })).toEqual({
      condition: null,
      mappings: [],
      claimNames: [],
      cost: 0,
    });
  });

  it('reads every claim when one expression does', () => {
    expect(
      compileExchangePolicy({ condition: 'has(claims.hd)', claimMappings: { n: 'size(claims)' } }).claimNames,
    ).toBeNull();
  });

  it('refuses a mapping to a claim the exchange owns', () => {
    expect(refusal({ claimMappings: { department: 'claims.department', email: 'claims.upn' } })).toEqual(
      invalid('claim_mappings.email: is a claim the exchange sets itself.'),
    );
    expect(refusal({ claimMappings: { Org_Id: '"x"' } })).toEqual(
      invalid('claim_mappings.Org_Id: is a claim the exchange sets itself.'),
    );
  });

  it('refuses a claim name with a bidirectional override without echoing it', () => {
    expect(refusal({ claimMappings: { 'tier\u202Enimda': '"gold"' } })).toEqual(
      invalid(
        'claim_mappings: a claim name must consist of letters, digits, punctuation and symbols, without spaces, control or invisible format characters.',
      ),
    );
  });

  it('names the mapping whose expression does not compile', () => {
    expect(refusal({ claimMappings: { tier: 'claims.tier ==' } })).toEqual(
      invalid('claim_mappings.tier: syntax error: Unexpected token: EOF (line 1, column 15).'),
    );
  });

  it('refuses more mappings than the limit', () => {
    const claimMappings = Object.fromEntries(Array.from({ length: 51 }, (_, i) => [`c${i}`, '1']));
    expect(refusal({ claimMappings })).toEqual(invalid('claim_mappings: at most 50 mappings.'));
  });

  it('refuses a blank or overlong expression', () => {
    expect(refusal({ condition: '  ' })).toEqual(
      invalid('condition: must be a CEL expression of 1 to 4096 characters.'),
    );
    expect(refusal({ claimMappings: { x: `"${'a'.repeat(2047)}"` } })).toEqual(
      invalid('claim_mappings.x: must be a CEL expression of 1 to 2048 characters.'),
    );
  });

  it('refuses a policy whose expressions together exceed the cost limit, listing each', () => {
    const { description } = refusal({
      condition: COSTLY,
      claimMappings: Object.fromEntries(Array.from({ length: 8 }, (_, i) => [`m${i}`, COSTLY])),
    });
    expect(description).toMatch(
      /^The policy's estimated worst-case cost of [\d,]+ units exceeds the limit of 1,000,000 \(condition [\d,]+, claim_mappings\.m0 [\d,]+, .*claim_mappings\.m7 [\d,]+\)\.$/,
    );
  });
});
