import { describe, expect, it } from 'vitest';
import { RialtoError } from '../errors.js';
import { compileExpression } from './compile-expression.js';

function refusal(field: string, source: string, kind: 'condition' | 'mapping' = 'condition') {
  try {
    compileExpression(field, source, kind);
  } catch (error) {
    expect(error).toBeInstanceOf(RialtoError);
    const { code, status, description } = error as RialtoError;
    return { code, status, description };
  }
  throw new Error(`expected ${JSON.stringify(source)} to be refused`);
}

function invalid(description: string) {
  return { code: 'invalid_request', status: 400, description };
}

// A source that doubles a claim string `levels` times: linear in length, exponential in size.
function doubling(levels: number): string {
  let body = `v${levels - 1} + v${levels - 1}`;
  for (let level = levels - 1; level >= 1; level--) {
    body = `cel.bind(v${level}, v${level - 1} + v${level - 1}, ${body})`;
  }
  return `cel.bind(v0, claims.name, ${body}).size() > 0`;
}

describe('compileExpression', () => {
  it('compiles a condition, prices it and lists the claims it reads', () => {
    const condition = compileExpression(
      'condition',
      'claims.hd == "partner.example" && "staff" in claims.groups',
      'condition',
    );
    expect(condition.claimNames).toEqual(['groups', 'hd']);
    expect(condition.cost).toBeGreaterThan(0);
    expect(condition.cost).toBeLessThan(2000);
    const claims = new Map<string, unknown>([
      ['hd', 'partner.example'],
      ['groups', ['staff']],
    ]);
    expect(condition.run({ claims, issuer: 'https://idp.example', org: new Map() })).toBe(true);
  });

  it('returns the cached program for a source it compiled before', () => {
    const first = compileExpression('condition', 'has(claims.hd)', 'condition');
    expect(compileExpression('condition', 'has(claims.hd)', 'condition')).toBe(first);
  });

  it('reports a syntax error with the field, line and column', () => {
    expect(refusal('condition', 'claims.hd == ')).toEqual(
      invalid('condition: syntax error: Unexpected token: EOF (line 1, column 14).'),
    );
    expect(refusal('claim_mappings.tier', 'claims.hd ==\n  "x" &&\n  $', 'mapping')).toEqual(
      invalid('claim_mappings.tier: syntax error: Unexpected character: $ (line 3, column 3).'),
    );
  });

  it('reports a type error with its position', () => {
    expect(refusal('condition', 'claims.hd == "x" ||\n issuer + 1 == "y"')).toEqual(
      invalid('condition: type error: no such overload: string + int (line 2, column 2).'),
    );
  });

  it('reaches nothing but claims, issuer and org', () => {
    expect(refusal('condition', 'user.id == "x"')).toEqual(
      invalid('condition: type error: Unknown variable: user (line 1, column 1).'),
    );
    expect(refusal('condition', 'process.env == {}')).toEqual(
      invalid('condition: type error: Unknown variable: process (line 1, column 1).'),
    );
  });

  it('refuses a condition that is not boolean', () => {
    expect(refusal('condition', 'size(claims.groups)')).toEqual(
      invalid('condition: must be a boolean expression, but its type is int (line 1, column 1).'),
    );
    expect(refusal('condition', '"staff"')).toEqual(
      invalid('condition: must be a boolean expression, but its type is string (line 1, column 1).'),
    );
  });

  it('accepts a dyn condition, checked for a boolean when evaluated', () => {
    expect(compileExpression('condition', 'claims.is_staff', 'condition').claimNames).toEqual(['is_staff']);
  });

  it('accepts type names, to test what a dyn claim holds', () => {
    const expression = compileExpression('condition', 'type(claims.groups) == list', 'condition');
    expect(expression.run({ claims: new Map([['groups', []]]), issuer: '', org: new Map() })).toBe(true);
  });

  it('accepts any type for a mapping', () => {
    expect(compileExpression('claim_mappings.n', 'size(claims.groups)', 'mapping').kind).toBe('mapping');
  });

  it('refuses matches(), whose backtracking regular expressions the cost model cannot bound', () => {
    expect(refusal('condition', 'claims.hd == "x" && claims.email.matches("^(a+)+$")')).toEqual(
      invalid(
        'condition: matches() is not available in policies: JavaScript regular expressions can take exponential time on crafted input; use startsWith, endsWith or contains (line 1, column 21).',
      ),
    );
  });

  it('refuses a function without a cost rule', () => {
    expect(
      refusal('condition', 'timestamp("2030-01-01T00:00:00Z") > timestamp("2020-01-01T00:00:00Z")'),
    ).toEqual(invalid('condition: timestamp() is not available in policies (line 1, column 1).'));
    expect(refusal('claim_mappings.x', 'b"a".base64()', 'mapping')).toEqual(
      invalid('claim_mappings.x: base64() is not available in policies (line 1, column 1).'),
    );
  });

  it('refuses nested comprehensions over claims, naming the costly one', () => {
    expect(
      refusal('condition', 'claims.hd == "x" ||\n claims.groups.exists(g, claims.roles.exists(r, r == g))'),
    ).toEqual(
      invalid(
        'condition: its estimated worst-case cost of 1,193,485,092 units exceeds the policy limit of 1,000,000; nested comprehensions over claims are the usual cause (line 2, column 2).',
      ),
    );
  });

  it('refuses a string that doubles until it is too large to build', () => {
    expect(compileExpression('condition', doubling(4), 'condition').cost).toBeLessThan(1_000_000);
    expect(refusal('condition', doubling(12)).description).toMatch(
      /^condition: its estimated worst-case cost of [\d,]+ units exceeds the policy limit of 1,000,000/,
    );
  });

  it('refuses measuring a join of joined claim lists, megabytes of text', () => {
    const source = 'claims.groups.map(g, claims.groups.join(",")).join(",").size() > 0';
    expect(refusal('condition', source).description).toMatch(
      /^condition: its estimated worst-case cost of [\d,]+ units exceeds the policy limit/,
    );
  });

  it('accepts one comprehension over a claim list', () => {
    const expression = compileExpression(
      'condition',
      'claims.groups.exists(g, g.startsWith("team-") && g.size() > 5)',
      'condition',
    );
    expect(expression.cost).toBeLessThan(1_000_000);
  });

  it('lists null claim names when the expression reads claims as a whole', () => {
    expect(compileExpression('condition', 'size(claims) > 0', 'condition').claimNames).toBeNull();
    expect(compileExpression('condition', 'claims[claims.key] == "x"', 'condition').claimNames).toBeNull();
    expect(
      compileExpression('condition', 'claims["hd"] == "x" && has(claims.groups)', 'condition').claimNames,
    ).toEqual(['groups', 'hd']);
  });
});
