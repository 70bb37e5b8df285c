import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ResilientCache } from './resilient-cache.js';

/** A load whose calls the test settles by hand. */
function manualLoad() {
  const calls: Array<{ forced: boolean; resolve(value: string): void; reject(error: Error): void }> = [];
  const load = (_key: string, forced: boolean) =>
    new Promise<string>((resolve, reject) => calls.push({ forced, resolve, reject }));
  return { calls, load };
}

const policy = { ttlMs: 1000, staleIfErrorMs: 10_000, failureBackoffMs: 500, max: 10 };

describe('ResilientCache', () => {
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['Date'] });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('shares one load between concurrent misses', async () => {
    const { calls, load } = manualLoad();
    const cache = new ResilientCache({ ...policy, load });
    const both = Promise.all([cache.get('k'), cache.get('k')]);
    expect(calls).toHaveLength(1);
    calls[0]?.resolve('v1');
    expect(await both).toEqual(['v1', 'v1']);
  });

  it('serves an expired value at once and refreshes it once in the background', async () => {
    const { calls, load } = manualLoad();
    const failures: unknown[] = [];
    const cache = new ResilientCache({
      ...policy,
      load,
      onRefreshFailure: (_, error) => failures.push(error),
    });
    const first = cache.get('k');
    calls[0]?.resolve('v1');
    await first;

    vi.advanceTimersByTime(1500);
    expect(await cache.get('k')).toBe('v1');
    expect(await cache.get('k')).toBe('v1');
    expect(calls).toHaveLength(2);
    calls[1]?.resolve('v2');
    await vi.waitFor(async () => expect(await cache.get('k')).toBe('v2'));

    vi.advanceTimersByTime(1500);
    expect(await cache.get('k')).toBe('v2');
    calls[2]?.reject(new Error('down'));
    await vi.waitFor(() => expect(failures).toHaveLength(1));
    // During the failure backoff the stale value is served without asking again.
    expect(await cache.get('k')).toBe('v2');
    expect(calls).toHaveLength(3);
    expect(cache.isFailing('k')).toBe(true);
  });

  it('waits for the load once the value is past staleIfErrorMs', async () => {
    const { calls, load } = manualLoad();
    const cache = new ResilientCache({ ...policy, load });
    const first = cache.get('k');
    calls[0]?.resolve('v1');
    await first;
    vi.advanceTimersByTime(11_500);
    const waiting = cache.get('k');
    calls[1]?.reject(new Error('down'));
    await expect(waiting).rejects.toThrow('down');
  });

  it('reload joins a running load and rejects on failure instead of serving the stale value', async () => {
    const { calls, load } = manualLoad();
    const cache = new ResilientCache({ ...policy, load });
    const first = cache.get('k');
    calls[0]?.resolve('v1');
    await first;
    const reloaded = cache.reload('k', { forced: true });
    const joined = cache.reload('k', { forced: true });
    expect(calls.map((call) => call.forced)).toEqual([false, true]);
    calls[1]?.reject(new Error('down'));
    await expect(reloaded).rejects.toThrow('down');
    await expect(joined).rejects.toThrow('down');
    expect(await cache.get('k')).toBe('v1');
  });

  it('tells when the last load failed until a load succeeds, and hands out the load under way', async () => {
    const { calls, load } = manualLoad();
    const cache = new ResilientCache({ ...policy, load, onRefreshFailure: () => undefined });
    const first = cache.get('k');
    expect(cache.pendingLoad('k')).toBe(first);
    calls[0]?.resolve('v1');
    await first;
    expect(cache.pendingLoad('k')).toBeUndefined();
    expect(cache.lastFailureAtMs('k')).toBeUndefined();

    vi.advanceTimersByTime(1500);
    await cache.get('k');
    const refresh = cache.pendingLoad('k');
    calls[1]?.reject(new Error('down'));
    await expect(refresh).rejects.toThrow('down');
    // The stale value is still served, and the failure is remembered past the backoff.
    expect(cache.lastFailureAtMs('k')).toBe(Date.now());
    vi.advanceTimersByTime(600);
    expect(cache.isFailing('k')).toBe(false);
    expect(cache.lastFailureAtMs('k')).toBe(Date.now() - 600);

    expect(await cache.get('k')).toBe('v1');
    calls[2]?.resolve('v2');
    await cache.pendingLoad('k');
    expect(cache.lastFailureAtMs('k')).toBeUndefined();
  });
});
