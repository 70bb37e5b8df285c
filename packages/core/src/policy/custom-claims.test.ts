import { UnsignedInt } from '@marcbachmann/cel-js/evaluator';
import { describe, expect, it } from 'vitest';
import { CustomClaims, toJsonValue } from './custom-claims.js';

describe('toJsonValue', () => {
  it('converts CEL values to JSON', () => {
    expect(toJsonValue(null)).toEqual({ ok: true, value: null });
    expect(toJsonValue(42n)).toEqual({ ok: true, value: 42 });
    expect(toJsonValue(new UnsignedInt(7n))).toEqual({ ok: true, value: 7 });
    expect(toJsonValue([1n, 'a', true, 2.5])).toEqual({ ok: true, value: [1, 'a', true, 2.5] });
    expect(toJsonValue(new Map([['k', new Map([['n', 1n]])]]))).toEqual({ ok: true, value: { k: { n: 1 } } });
  });

  it('keeps a __proto__ key as data', () => {
    const result = toJsonValue(new Map([['__proto__', 'x']]));
    expect(result.ok && JSON.stringify(result.value)).toBe('{"__proto__":"x"}');
  });

  it.each([
    [new Uint8Array([1]), 'it is a bytes value, which JSON cannot hold'],
    [new Date(0), 'it is a timestamp, which JSON cannot hold'],
    [Number.NaN, 'it is not a finite number'],
    [2n ** 53n, 'it is an integer beyond ±2^53, which JSON parsers round'],
    [new Map([[1, 'x']]), 'it is a map whose keys are not all strings'],
    [undefined, 'it is a missing value, which JSON cannot hold'],
    [() => 1, 'it is a function value, which JSON cannot hold'],
  ])('refuses %o', (value, reason) => {
    expect(toJsonValue(value)).toEqual({ ok: false, reason });
  });

  it('refuses a value nested without end', () => {
    const loop: unknown[] = [];
    loop.push(loop);
    expect(toJsonValue(loop)).toEqual({ ok: false, reason: 'it nests deeper than 32 levels' });
  });
});

describe('CustomClaims', () => {
  it('accepts claims up to exactly 4096 bytes of JSON and refuses one byte more', () => {
    // {"a":"…"} is 8 bytes around the string.
    const claims = new CustomClaims();
    expect(claims.add('a', 'x'.repeat(4088))).toEqual({ ok: true });
    expect(Buffer.byteLength(JSON.stringify(claims.toJSON()))).toBe(4096);
    expect(claims.add('b', 1)).toEqual({
      ok: false,
      reason: 'the custom claims would exceed 4096 bytes of JSON',
    });
    expect(new CustomClaims().add('a', 'x'.repeat(4089))).toMatchObject({ ok: false });
  });

  it('replaces a claim added again, counting only its new size', () => {
    const claims = new CustomClaims();
    claims.add('a', 'x'.repeat(3000));
    claims.add('b', 1);
    expect(claims.add('a', 'y'.repeat(4082))).toEqual({ ok: true });
    expect(claims.toJSON()).toEqual({ a: 'y'.repeat(4082), b: 1 });
    expect(Buffer.byteLength(JSON.stringify(claims.toJSON()))).toBe(4096);
  });
});
