import { describe, expect, it } from 'vitest';
import { policyEnvironment } from './cel-environment.js';
import { type ExpressionNode, estimateExpressionCost, UnpricedExpressionError } from './expression-cost.js';
import { MAX_INPUT_COLLECTION_ITEMS } from './policy-limits.js';

function costOf(source: string) {
  const program = policyEnvironment.parse(source);
  expect(program.check().valid).toBe(true);
  return estimateExpressionCost(program.ast as unknown as ExpressionNode);
}

describe('estimateExpressionCost', () => {
  it('prices a comparison of literals at a handful of units', () => {
    expect(costOf('"a" == "b"')).toEqual({ cost: 3.05, costliestOffset: null });
  });

  it('prices a comprehension by the longest claim list times its body, and points at it', () => {
    const single = costOf('claims.groups.exists(g, g == "x")');
    expect(single.cost).toBeGreaterThan(MAX_INPUT_COLLECTION_ITEMS * 200);
    expect(single.costliestOffset).toBe(0);
    const nested = costOf('claims.hd == "x" || claims.a.exists(x, claims.b.exists(y, x == y))');
    expect(nested.cost).toBeGreaterThan(MAX_INPUT_COLLECTION_ITEMS ** 2 * 200);
    expect(nested.costliestOffset).toBe('claims.hd == "x" || '.length);
  });

  it('prices every error a chain of || or && may absorb and go on from', () => {
    const operands = Array.from({ length: 50 }, (_, i) => `claims.c${i}.x == 1`);
    expect(costOf(operands.join(' || ')).cost).toBeGreaterThan(49 * 200);
  });

  it('prices a comprehension over a literal list by its length', () => {
    const three = costOf('["a", "b", "c"].exists(x, x == "b")').cost;
    const six = costOf('["a", "b", "c", "d", "e", "f"].exists(x, x == "b")').cost;
    expect(six).toBeGreaterThan(three);
    expect(six).toBeLessThan(MAX_INPUT_COLLECTION_ITEMS * 200);
  });

  it('prices string growth: each doubling of a claim string doubles the cost of copying it', () => {
    const once = costOf('cel.bind(a, claims.s + claims.s, a.size() > 0)').cost;
    const twice = costOf('cel.bind(a, claims.s + claims.s, cel.bind(b, a + a, b.size() > 0))').cost;
    expect(twice).toBeGreaterThan(1.9 * once);
  });

  it('refuses what it cannot price, with the offset of the call', () => {
    const program = policyEnvironment.parse('claims.hd == "x" && duration("1s") == duration("1s")');
    expect(program.check().valid).toBe(true);
    const refused = (() => {
      try {
        estimateExpressionCost(program.ast as unknown as ExpressionNode);
      } catch (error) {
        return error;
      }
    })();
    expect(refused).toBeInstanceOf(UnpricedExpressionError);
    expect(refused).toMatchObject({ message: 'duration() is not available in policies', offset: 20 });
  });
});
