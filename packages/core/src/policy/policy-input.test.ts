import { describe, expect, it } from 'vitest';
import { preparePolicyInput } from './policy-input.js';

const ORG = { id: 'org-1', name: 'Partner' };
const BOUNDS =
  '(strings of at most 1024 characters, lists and objects of at most 256 entries nested at most 8 deep, 16384 units in all)';

function claimsOf(claims: Record<string, unknown>, names: string[] | null) {
  const input = preparePolicyInput({ claims, issuer: 'https://idp.example', org: ORG }, names);
  if (!input.ok) return input;
  return input.variables.claims as Map<string, unknown>;
}

describe('preparePolicyInput', () => {
  it('gives CEL ints for whole numbers, doubles otherwise, and Maps for objects', () => {
    const claims = claimsOf(
      { exp: 1700000000, ratio: 0.5, address: { country: 'FR' }, tags: ['a', 1] },
      null,
    );
    expect(claims).toEqual(
      new Map<string, unknown>([
        ['exp', 1700000000n],
        ['ratio', 0.5],
        ['address', new Map([['country', 'FR']])],
        ['tags', ['a', 1n]],
      ]),
    );
  });

  it('passes only the claims the policy names', () => {
    expect(claimsOf({ hd: 'x', secret: 'y' }, ['hd', 'absent'])).toEqual(new Map([['hd', 'x']]));
  });

  it('gives the org as a map and the issuer as a string', () => {
    const input = preparePolicyInput({ claims: {}, issuer: 'https://idp.example', org: ORG }, []);
    expect(input).toEqual({
      ok: true,
      variables: {
        claims: new Map(),
        issuer: 'https://idp.example',
        org: new Map([
          ['id', 'org-1'],
          ['name', 'Partner'],
        ]),
      },
    });
  });

  it.each([
    ['a string over 1024 characters', 'x'.repeat(1025)],
    ['a list over 256 elements', Array.from({ length: 257 }, () => 1)],
    ['an object over 256 entries', Object.fromEntries(Array.from({ length: 257 }, (_, i) => [`k${i}`, 1]))],
    ['a key over 1024 characters', { ['k'.repeat(1025)]: 1 }],
    ['nesting deeper than 8', [[[[[[[[['deep']]]]]]]]]],
    ['more than 16384 units', Array.from({ length: 20 }, () => 'x'.repeat(1000))],
  ])('refuses %s, naming the claim the policy named', (_, value) => {
    expect(claimsOf({ big: value }, ['big'])).toEqual({
      ok: false,
      reason: `the claim "big" is too large for a policy to read ${BOUNDS}`,
    });
  });

  it('accepts a claim at the bounds', () => {
    const claims = claimsOf(
      { s: 'x'.repeat(1024), l: Array.from({ length: 256 }, () => 0), d: [[[[[[[['deep']]]]]]]] },
      null,
    );
    expect(claims).toBeInstanceOf(Map);
  });

  it('refuses without a name when it reads every claim: a token chooses its own claim names', () => {
    expect(claimsOf({ 'bad\u202Ename': 'x'.repeat(2000) }, null)).toEqual({
      ok: false,
      reason: `the claims are too large for a policy to read ${BOUNDS}`,
    });
    const many = Object.fromEntries(Array.from({ length: 257 }, (_, i) => [`c${i}`, 1]));
    expect(claimsOf(many, null)).toEqual({
      ok: false,
      reason: `the ID token has too many claims for a policy to read ${BOUNDS}`,
    });
  });

  it('leaves out what JSON cannot hold', () => {
    expect(claimsOf({ a: Number.NaN, b: undefined, c: [Number.POSITIVE_INFINITY] }, null)).toEqual(
      new Map([['c', [null]]]),
    );
  });
});
