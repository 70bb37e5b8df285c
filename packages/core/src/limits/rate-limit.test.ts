import { describe, expect, it } from 'vitest';
import type { RateLimitHit } from '../store/store.js';
import { gcraParameters, gcraStep, retryAfterSeconds } from './rate-limit.js';

/** Replays hits at the given instants (ms) and returns which were admitted. */
function replay(limit: number, windowSeconds: number, instantsMs: number[]) {
  const parameters = gcraParameters({ limit, windowSeconds });
  let stored: number | undefined;
  return instantsMs.map((nowMs) => {
    const hit: RateLimitHit = { key: 'k', ...parameters, nowMs };
    const result = gcraStep(stored, hit);
    if (result.allowed) stored = result.theoreticalArrivalMs;
    return { allowed: result.allowed, retryAfter: retryAfterSeconds(result, hit) };
  });
}

describe('GCRA', () => {
  it('admits a burst of exactly `limit` at one instant and refuses the rest with Retry-After', () => {
    const results = replay(10, 5, new Array(25).fill(1_000_000));
    expect(results.filter((r) => r.allowed)).toHaveLength(10);
    expect(results.slice(0, 10).every((r) => r.allowed)).toBe(true);
    expect(results.slice(10).map((r) => r.retryAfter)).toEqual(new Array(15).fill(1));
  });

  it('admits one more request per interval after the burst, never a second burst at a boundary', () => {
    // 10 per 5 s: one every 500 ms once the burst is spent.
    const start = 1_000_000;
    const results = replay(10, 5, [
      ...new Array(10).fill(start),
      start + 499,
      start + 500,
      start + 500,
      start + 5_000,
    ]);
    expect(results.map((r) => r.allowed)).toEqual([...new Array(10).fill(true), false, true, false, true]);
  });

  it('answers the whole seconds until the next admission, rounded up', () => {
    const results = replay(2, 60, [0, 0, 0]);
    expect(results[2]).toEqual({ allowed: false, retryAfter: 30 });
  });

  it('never admits more than `limit` when the window does not divide evenly', () => {
    expect(replay(7, 60, new Array(20).fill(0)).filter((r) => r.allowed)).toHaveLength(7);
    expect(replay(4000, 5, new Array(4100).fill(0)).filter((r) => r.allowed)).toHaveLength(4000);
  });
});
