import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { StoreUnavailableError } from '../errors.js';
import type { RateLimitHit, Store } from '../store/store.js';
import type { Logger } from '../telemetry/logger.js';
import { gcraStep } from './rate-limit.js';
import { createSharedRateLimiter } from './shared-rate-limiter.js';

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
});
