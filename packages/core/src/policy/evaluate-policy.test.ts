import { describe, expect, it } from 'vitest';
import { compileExchangePolicy } from './compile-policy.js';
import { evaluateExchangePolicy } from './evaluate-policy.js';
import type { PolicyContext } from './policy-input.js';
import { MAX_INPUT_COLLECTION_ITEMS, MAX_INPUT_STRING_CHARS } from './policy-limits.js';

const SECRET = 'Zanzibar-7731';

function context(claims: Record<string, unknown>): PolicyContext {
  return {
    claims: { iss: 'https://idp.partner.example', sub: 'u-1', ...claims },
    issuer: 'https://idp.partner.example',
    org: { id: '0b5f5bde-4a47-4c30-9b0e-6d3bb1c6f1de', name: 'Partner' },
  };
}

const STAFF_ONLY = 'claims.hd == "partner.example" && "staff" in claims.groups';

describe('evaluateExchangePolicy', () => {
  it('admits when the condition holds and maps the claims', () => {
    const policy = compileExchangePolicy({
      condition: STAFF_ONLY,
      claimMappings: { department: 'claims.department', group_count: 'size(claims.groups)' },
    });
    expect(
      evaluateExchangePolicy(
        policy,
        context({ hd: 'partner.example', groups: ['staff'], department: 'R&D' }),
      ),
    ).toEqual({
      admitted: true,
      claims: { department: 'R&D', group_count: 1 },
      condition: { status: 'true' },
      mappings: [
        { name: 'department', status: 'mapped', value: 'R&D' },
        { name: 'group_count', status: 'mapped', value: 1 },
      ],
    });
  });

  it('admits with no condition', () => {
    const policy = compileExchangePolicy({ claimMappings: { org: 'org.name + "/" + issuer' } });
    expect(evaluateExchangePolicy(policy, context({}))).toMatchObject({
      admitted: true,
      condition: null,
      claims: { org: 'Partner/https://idp.partner.example' },
    });
  });

  it('denies when the condition is false, and skips the mappings', () => {
    const policy = compileExchangePolicy({
      condition: STAFF_ONLY,
      claimMappings: { d: 'claims.department' },
    });
    expect(evaluateExchangePolicy(policy, context({ hd: 'other.example', groups: ['staff'] }))).toEqual({
      admitted: false,
      claims: {},
      condition: { status: 'false', reason: 'the condition is false' },
      mappings: [],
    });
  });

  it('denies when the condition fails (claims.groups absent), saying where without quoting values', () => {
    const policy = compileExchangePolicy({ condition: STAFF_ONLY });
    const verdict = evaluateExchangePolicy(policy, context({ hd: 'partner.example', secret: SECRET }));
    expect(verdict).toEqual({
      admitted: false,
      claims: {},
      condition: {
        status: 'error',
        reason: 'evaluation failed: a claim or key it reads is absent',
        position: { line: 1, column: 53 },
      },
      mappings: [],
    });
  });

  it('never quotes a claim value in a reason, even where the evaluator would', () => {
    const policy = compileExchangePolicy({
      condition: 'int(claims.code) > 0',
      claimMappings: { a: 'claims.lookup[claims.key]', b: 'int(claims.code)' },
    });
    const verdict = evaluateExchangePolicy(policy, context({ code: SECRET, key: SECRET, lookup: {} }), {
      evaluateMappingsWhenDenied: true,
    });
    expect(verdict.admitted).toBe(false);
    expect(verdict.condition).toEqual({
      status: 'error',
      reason: 'evaluation failed: a value cannot be converted to an int',
      position: { line: 1, column: 1 },
    });
    expect(verdict.mappings.map(({ status }) => status)).toEqual(['omitted', 'omitted']);
    expect(JSON.stringify(verdict)).not.toContain(SECRET);
  });

  it('reaches no prototype or host object through claims, org or a literal', () => {
    const policy = compileExchangePolicy({
      claimMappings: {
        a: 'claims.constructor',
        b: 'claims["__proto__"]',
        c: 'org.constructor',
        d: 'claims.profile.toString',
        e: '{"k": 1}.constructor',
      },
    });
    const verdict = evaluateExchangePolicy(policy, context({ profile: { name: 'Ann' } }));
    expect(verdict.claims).toEqual({});
    expect(verdict.mappings.map(({ status }) => status)).toEqual([
      'omitted',
      'omitted',
      'omitted',
      'omitted',
      'omitted',
    ]);
  });

  it('denies a condition that yields something other than a boolean', () => {
    const policy = compileExchangePolicy({ condition: 'claims.is_staff' });
    expect(evaluateExchangePolicy(policy, context({ is_staff: 'yes' })).condition).toEqual({
      status: 'error',
      reason: 'the condition did not yield a boolean',
      position: null,
    });
    expect(evaluateExchangePolicy(policy, context({ is_staff: true })).admitted).toBe(true);
  });

  it('leaves out a mapping that fails, with the reason, and keeps the others', () => {
    const policy = compileExchangePolicy({
      claimMappings: { tier: 'claims.tier', department: 'claims.department' },
    });
    expect(evaluateExchangePolicy(policy, context({ department: 'R&D' }))).toEqual({
      admitted: true,
      claims: { department: 'R&D' },
      condition: null,
      mappings: [
        {
          name: 'tier',
          status: 'omitted',
          reason: 'evaluation failed: a claim or key it reads is absent',
          position: { line: 1, column: 8 },
        },
        { name: 'department', status: 'mapped', value: 'R&D' },
      ],
    });
  });

  it('leaves out values JSON cannot hold', () => {
    const policy = compileExchangePolicy({
      claimMappings: {
        bytes: 'b"\\x00\\x01"',
        huge: '9007199254740993',
        infinite: '1.0 / 0.0',
        kind: 'type(claims.sub)',
        safe: '9007199254740991',
      },
    });
    const verdict = evaluateExchangePolicy(policy, context({}));
    expect(verdict.claims).toEqual({ safe: 9007199254740991 });
    expect(verdict.mappings.filter(({ status }) => status === 'omitted')).toEqual([
      {
        name: 'bytes',
        status: 'omitted',
        reason: 'its value is not JSON: it is a bytes value, which JSON cannot hold',
        position: null,
      },
      {
        name: 'huge',
        status: 'omitted',
        reason: 'its value is not JSON: it is an integer beyond ±2^53, which JSON parsers round',
        position: null,
      },
      {
        name: 'infinite',
        status: 'omitted',
        reason: 'its value is not JSON: it is not a finite number',
        position: null,
      },
      {
        name: 'kind',
        status: 'omitted',
        reason: 'its value is not JSON: it is a CEL value of another type, which JSON cannot hold',
        position: null,
      },
    ]);
  });

  it('maps lists and maps to JSON arrays and objects with string keys', () => {
    const policy = compileExchangePolicy({
      claimMappings: {
        teams: 'claims.groups.filter(g, g.startsWith("team-")).map(g, g.substring(5))',
        profile: '{"dept": claims.department, "level": claims.level + 1, "__proto__": "x"}',
      },
    });
    const { claims } = evaluateExchangePolicy(
      policy,
      context({ groups: ['team-a', 'staff', 'team-b'], department: 'R&D', level: 2 }),
    );
    expect(JSON.parse(JSON.stringify(claims))).toEqual({
      teams: ['a', 'b'],
      profile: { dept: 'R&D', level: 3, __proto__: 'x' },
    });
  });

  it('leaves out a mapping that would take the custom claims past 4 KiB of JSON', () => {
    // 1000 "é" are 2000 bytes: {"a":"…","b":"…"} is 2 + 2006 + 1 + 2006 = 4015 bytes, so "c" no
    // longer fits and "d" (6 more) still does.
    const policy = compileExchangePolicy({
      claimMappings: { a: 'claims.text', b: 'claims.text', c: 'claims.text', d: '1' },
    });
    const verdict = evaluateExchangePolicy(policy, context({ text: 'é'.repeat(1000) }));
    expect(Object.keys(verdict.claims)).toEqual(['a', 'b', 'd']);
    expect(Buffer.byteLength(JSON.stringify(verdict.claims))).toBe(4021);
    expect(verdict.mappings[2]).toEqual({
      name: 'c',
      status: 'omitted',
      reason: 'the custom claims would exceed 4096 bytes of JSON',
      position: null,
    });
  });

  it('evaluates the mappings of a denied token when the debugger asks, without granting them', () => {
    const policy = compileExchangePolicy({
      condition: STAFF_ONLY,
      claimMappings: { d: 'claims.department' },
    });
    const verdict = evaluateExchangePolicy(policy, context({ hd: 'x', groups: [], department: 'R&D' }), {
      evaluateMappingsWhenDenied: true,
    });
    expect(verdict).toMatchObject({ admitted: false, claims: {} });
    expect(verdict.mappings).toEqual([{ name: 'd', status: 'mapped', value: 'R&D' }]);
  });

  it('denies when a claim the policy reads exceeds the input bounds, naming the claim only', () => {
    const policy = compileExchangePolicy({
      condition: STAFF_ONLY,
      claimMappings: { d: 'claims.department' },
    });
    const groups = [...Array.from({ length: MAX_INPUT_COLLECTION_ITEMS }, (_, i) => `g${i}`), 'staff'];
    expect(evaluateExchangePolicy(policy, context({ hd: 'partner.example', groups }))).toEqual({
      admitted: false,
      claims: {},
      condition: {
        status: 'error',
        reason:
          'the claim "groups" is too large for a policy to read (strings of at most 1024 characters, lists and objects of at most 256 entries nested at most 8 deep, 16384 units in all)',
        position: null,
      },
      mappings: [],
    });
  });

  it('ignores an oversized claim the policy does not read', () => {
    const policy = compileExchangePolicy({ condition: STAFF_ONLY });
    const verdict = evaluateExchangePolicy(
      policy,
      context({ hd: 'partner.example', groups: ['staff'], picture: 'p'.repeat(MAX_INPUT_STRING_CHARS + 1) }),
    );
    expect(verdict.admitted).toBe(true);
  });

  it('does not name an oversized claim when the policy reads every claim', () => {
    const policy = compileExchangePolicy({ condition: 'size(claims) < 100' });
    const verdict = evaluateExchangePolicy(
      policy,
      context({ [SECRET]: 'p'.repeat(MAX_INPUT_STRING_CHARS + 1) }),
    );
    expect(verdict.condition).toMatchObject({ status: 'error' });
    expect(JSON.stringify(verdict)).not.toContain(SECRET);
  });

  it('finishes a priced comprehension over the largest input the bounds admit', () => {
    const policy = compileExchangePolicy({
      condition: 'claims.groups.exists(g, g.startsWith("team-") && g.size() > 5)',
      claimMappings: { n: 'claims.groups.filter(g, g.endsWith("-admin")).size()' },
    });
    // 256 elements that are numbers: every iteration fails and builds an evaluation error.
    const groups = Array.from({ length: MAX_INPUT_COLLECTION_ITEMS }, (_, i) => i);
    const verdict = evaluateExchangePolicy(policy, context({ groups }), { evaluateMappingsWhenDenied: true });
    expect(verdict.condition).toMatchObject({ status: 'error' });
    expect(verdict.mappings[0]).toMatchObject({ name: 'n', status: 'omitted' });
  });

  it('restores the stack trace limit it lowers while evaluating', () => {
    const before = Error.stackTraceLimit;
    evaluateExchangePolicy(compileExchangePolicy({ condition: STAFF_ONLY }), context({}));
    expect(Error.stackTraceLimit).toBe(before);
  });
});
