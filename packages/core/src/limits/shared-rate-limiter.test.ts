import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { StoreUnavailableError } from '../errors.js';
import type { RateLimitHit, Store } from '../store/store.js';
import type { Logger } from '../telemetry/logger.js';
import { gcraParameters, gcraStep } from './rate-limit.js';
import {
  createSharedRateLimiter,
  leaseSizeFor,
  MAX_LEASE_SIZE,
  NEAR_LIMIT_MS,
} from './shared-rate-limiter.js';

const RATE = { limit: 2, windowSeconds: 60 };

/** A store holding arrival times in a map, whose `hitRateLimit` fails while `isDown` is set. */
function limitStore() {
  const arrivals = new Map<string, number>();
  const state = { isDown: false, calls: 0 };
  const store = {
    async hitRateLimit(hit: RateLimitHit) {
      state.calls++;
      if (state.isDown) throw new StoreUnavailableError('down');
      const result = gcraStep(arrivals.get(hit.key), hit);
      if (result.allowed) arrivals.set(hit.key, result.theoreticalArrivalMs);
      return result;
    },
  } as unknown as Store;
  return { store, state };
}

function recordingLogger(warnings: string[]): Logger {
  return {
    debug() {},
    info() {},
    warn: (_fields, message) => void warnings.push(String(message)),
    error() {},
  };
}

describe('createSharedRateLimiter', () => {
  beforeEach(() => {
    vi.useFakeTimers({ now: 1_000_000, toFake: ['Date'] });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it("counts in the store when it can, so two limiters on one store share a key's budget", async () => {
    const { store } = limitStore();
    const a = createSharedRateLimiter(RATE, store, recordingLogger([]));
    const b = createSharedRateLimiter(RATE, store, recordingLogger([]));

    expect([await a.take('org:1'), await b.take('org:1'), await a.take('org:1')]).toEqual([0, 0, 30]);
  });

  it('counts per instance while the store fails, asks it again after 5 s, and warns once per failure', async () => {
    const { store, state } = limitStore();
    const warnings: string[] = [];
    const limiter = createSharedRateLimiter(RATE, store, recordingLogger(warnings));
    state.isDown = true;

    expect([await limiter.take('org:1'), await limiter.take('org:1'), await limiter.take('org:1')]).toEqual([
      0, 0, 30,
    ]);
    expect(state.calls).toBe(1);
    expect(warnings).toHaveLength(1);

    state.isDown = false;
    vi.setSystemTime(1_000_000 + 4_999);
    await limiter.take('org:2');
    expect(state.calls).toBe(1);
    vi.setSystemTime(1_000_000 + 5_000);
    expect(await limiter.take('org:2')).toBe(0);
    expect(state.calls).toBe(2);
  });

  it('keeps the limit in process on a store without hitRateLimit', async () => {
    const limiter = createSharedRateLimiter(RATE, {} as Store, recordingLogger([]));

    expect([await limiter.take('org:1'), await limiter.take('org:1'), await limiter.take('org:1')]).toEqual([
      0, 0, 30,
    ]);
  });

  describe('leases', () => {
    // 500 a minute: leases of 10 requests (1/50 of the limit).
    const LEASED = { limit: 500, windowSeconds: 60 };

    it('sizes leases at 1/50 of the limit, at most 16, and 1 (no lease) under 100 per window', () => {
      expect(leaseSizeFor({ limit: 99, windowSeconds: 60 })).toBe(1);
      expect(leaseSizeFor({ limit: 100, windowSeconds: 60 })).toBe(2);
      expect(leaseSizeFor(LEASED)).toBe(10);
      expect(leaseSizeFor({ limit: 1_000_000, windowSeconds: 1 })).toBe(MAX_LEASE_SIZE);
    });

    it('admits a lease of requests per store round trip, and concurrent requests share one purchase', async () => {
      const { store, state } = limitStore();
      const limiter = createSharedRateLimiter(LEASED, store, recordingLogger([]));

      const waits = await Promise.all(Array.from({ length: 25 }, () => limiter.take('org:1')));

      expect(waits).toEqual(Array(25).fill(0));
      expect(state.calls).toBe(3);
    });

    it('admits exactly the limit across two instances, the last requests one round trip each', async () => {
      const { store, state } = limitStore();
      const a = createSharedRateLimiter(LEASED, store, recordingLogger([]));
      const b = createSharedRateLimiter(LEASED, store, recordingLogger([]));

      let admitted = 0;
      const refused = { a: 0, b: 0 };
      while (refused.a === 0 || refused.b === 0) {
        for (const [name, limiter] of [
          ['a', a],
          ['b', b],
        ] as const) {
          if ((await limiter.take('org:1')) === 0) admitted++;
          else refused[name]++;
        }
      }

      // Every lease was spent before its instance was refused: nothing was held back.
      expect(admitted).toBe(LEASED.limit);
      // 50 leases, then each instance's refused lease and its one refused single request.
      expect(state.calls).toBeLessThanOrEqual(LEASED.limit / 10 + 4);
      expect(await a.take('org:1')).toBe(1);
    });

    it('keeps what a lease has not spent however long it waits, so no budget is lost', async () => {
      const { store, state } = limitStore();
      const limiter = createSharedRateLimiter(LEASED, store, recordingLogger([]));

      expect(await limiter.take('org:1')).toBe(0);
      vi.setSystemTime(1_000_000 + 10 * 60_000);
      for (let i = 0; i < 9; i++) expect(await limiter.take('org:1')).toBe(0);
      expect(state.calls).toBe(1);
      expect(await limiter.take('org:1')).toBe(0);
      expect(state.calls).toBe(2);
    });

    it('after a refused lease asks one request at a time for a second, then tries a lease again', async () => {
      const { store, state } = limitStore();
      const limiter = createSharedRateLimiter(LEASED, store, recordingLogger([]));
      // Other instances spent all but 5 requests of the budget: less than a lease of 10.
      for (let i = 0; i < LEASED.limit - 5; i++) {
        await store.hitRateLimit?.({ key: 'org:1', ...gcraParameters(LEASED), nowMs: 1_000_000 });
      }
      state.calls = 0;

      for (let i = 0; i < 5; i++) expect(await limiter.take('org:1')).toBe(0);
      // The refused lease, then one single request each.
      expect(state.calls).toBe(6);
      expect(await limiter.take('org:1')).toBe(1);
      expect(state.calls).toBe(7);
      vi.setSystemTime(1_000_000 + NEAR_LIMIT_MS);
      await limiter.take('org:1');
      // A lease again, refused (a second gave back 8 requests, less than a lease), then one request.
      expect(state.calls).toBe(9);
    });

    it('spends what a lease holds while the store fails, then counts locally', async () => {
      const { store, state } = limitStore();
      const warnings: string[] = [];
      const limiter = createSharedRateLimiter(LEASED, store, recordingLogger(warnings));
      expect(await limiter.take('org:1')).toBe(0);
      state.isDown = true;
      expect(await limiter.take('org:2')).toBe(0);
      expect(warnings).toHaveLength(1);

      let admitted = 0;
      while ((await limiter.take('org:1')) === 0) admitted++;
      // The 9 requests the lease still held (paid for in the store), then the local limit's burst.
      expect(admitted).toBe(9 + LEASED.limit);
      expect(state.calls).toBe(2);
    });

    it('falls back to the local limit when the store fails while buying a lease', async () => {
      const { store, state } = limitStore();
      const warnings: string[] = [];
      const limiter = createSharedRateLimiter(LEASED, store, recordingLogger(warnings));
      state.isDown = true;

      const waits = await Promise.all(Array.from({ length: 5 }, () => limiter.take('org:1')));

      expect(waits).toEqual([0, 0, 0, 0, 0]);
      expect(state.calls).toBe(1);
      expect(warnings).toHaveLength(1);
    });
  });
});
