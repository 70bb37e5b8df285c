import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { RialtoError } from '../errors.js';
import { validateInput } from '../internal/validate-input.js';
import { issuerFields } from '../issuers/issuer-registrations.js';
import { exchangePolicyFields, exchangePolicySchema } from './policy-schema.js';

function refusal(body: unknown) {
  try {
    validateInput(exchangePolicySchema, body);
  } catch (error) {
    expect(error).toBeInstanceOf(RialtoError);
    return (error as RialtoError).description;
  }
  throw new Error('expected the body to be refused');
}

describe('exchangePolicyFields', () => {
  it('accepts a condition and mappings, multi-line expressions included', () => {
    const body = {
      condition: 'claims.hd == "partner.example"\n\t&& "staff" in claims.groups',
      claim_mappings: { department: 'claims.department' },
    };
    expect(validateInput(exchangePolicySchema, body)).toEqual(body);
  });

  it('accepts null to remove a field and nothing to leave it', () => {
    expect(validateInput(exchangePolicySchema, { condition: null, claim_mappings: null })).toEqual({
      condition: null,
      claim_mappings: null,
    });
    expect(validateInput(exchangePolicySchema, {})).toEqual({});
  });

  it('spreads into the issuer registration schema', () => {
    const schema = z.strictObject({ ...issuerFields, ...exchangePolicyFields });
    const body = { issuer: 'https://idp.partner.example', condition: 'has(claims.hd)' };
    expect(validateInput(schema, body)).toEqual(body);
  });

  it('refuses a bidirectional override in an expression (Trojan Source)', () => {
    expect(refusal({ condition: 'claims.role == "user\u202E \u2066// admin\u2069"' })).toBe(
      'condition: must not contain control or invisible format characters other than tabs and line breaks',
    );
  });

  it('refuses a blank or overlong expression', () => {
    expect(refusal({ condition: '   ' })).toBe('condition: must not be blank');
    expect(refusal({ condition: 'x'.repeat(4097) })).toBe(
      'condition: Too big: expected string to have <=4096 characters',
    );
    expect(refusal({ claim_mappings: { a: 'x'.repeat(2049) } })).toBe(
      'claim_mappings.a: Too big: expected string to have <=2048 characters',
    );
  });

  it('refuses a reserved claim name, naming it', () => {
    expect(refusal({ claim_mappings: { Email: 'claims.upn' } })).toBe(
      'claim_mappings.Email: is a claim the exchange sets itself',
    );
  });

  it('refuses an invisible character in a claim name without echoing the name', () => {
    expect(refusal({ claim_mappings: { 'tier\u200B': '"gold"' } })).toBe(
      'claim_mappings: a claim name must consist of letters, digits, punctuation and symbols, without spaces, control or invisible format characters',
    );
  });

  it('refuses more than 50 mappings', () => {
    const claim_mappings = Object.fromEntries(Array.from({ length: 51 }, (_, i) => [`c${i}`, '1']));
    expect(refusal({ claim_mappings })).toBe('claim_mappings: must hold at most 50 mappings');
  });

  it('refuses an unknown field', () => {
    expect(refusal({ conditions: 'true' })).toMatch(/^Unrecognized key/);
  });
});
