import { randomUUID } from 'node:crypto';
import type { RateLimitHit, RateLimitHitResult, Store } from '@rialto-exchange/core';
import { describe, expect, it, type TestContext } from 'vitest';
import type { SuiteContext } from './context.js';

const CONCURRENT_HITS = 25;
// 10 per 10 s: the burst core asks for with `{ limit: 10, windowSeconds: 10 }`.
const INTERVAL_MS = 1_000;
const TOLERANCE_MS = 10_000;
const BURST = TOLERANCE_MS / INTERVAL_MS;

type Hit = (hit: RateLimitHit) => Promise<RateLimitHitResult>;

/** The store's `hitRateLimit`, or a skipped test when the store keeps rate limits in process. */
async function sharedLimiter(freshStore: () => Promise<Store>, context: TestContext): Promise<Hit> {
  const store = await freshStore();
  if (store.hitRateLimit === undefined) {
    context.skip('this store has no hitRateLimit: core keeps rate limits per process');
  }
  return (hit) => (store.hitRateLimit as Hit).call(store, hit);
}

const rateKey = () => `org:${randomUUID()}`;
const hitAt = (key: string, nowMs: number): RateLimitHit => ({
  key,
  intervalMs: INTERVAL_MS,
  toleranceMs: TOLERANCE_MS,
  nowMs,
});

export function describeRateLimits({ freshStore }: SuiteContext): void {
  describe('shared rate limits', () => {
    it(`hitRateLimit admits exactly as many of ${CONCURRENT_HITS} parallel hits on one key as the tolerance holds`, async (context) => {
      const hit = await sharedLimiter(freshStore, context);
      const key = rateKey();
      const nowMs = Date.now();

      const results = await Promise.all(
        Array.from({ length: CONCURRENT_HITS }, () => hit(hitAt(key, nowMs))),
      );

      expect(results.filter((result) => result.allowed)).toHaveLength(BURST);
      for (const refused of results.filter((result) => !result.allowed)) {
        expect(refused.theoreticalArrivalMs).toBe(nowMs + TOLERANCE_MS);
      }
    });

    it('hitRateLimit admits what is left of a partly spent burst to parallel hits, one interval apart, and keeps parallel keys and rates apart', async (context) => {
      const hit = await sharedLimiter(freshStore, context);
      const key = rateKey();
      const other = rateKey();
      const nowMs = Date.now();
      for (let i = 0; i < 3; i++) await hit(hitAt(key, nowMs));

      const [onKey, onOther, slower] = await Promise.all([
        Promise.all(Array.from({ length: BURST }, () => hit(hitAt(key, nowMs)))),
        Promise.all(Array.from({ length: 2 }, () => hit(hitAt(other, nowMs)))),
        hit({ key: rateKey(), intervalMs: TOLERANCE_MS, toleranceMs: TOLERANCE_MS, nowMs }),
      ]);

      const admitted = onKey.filter((result) => result.allowed).map((result) => result.theoreticalArrivalMs);
      expect(admitted.sort((a, b) => a - b)).toEqual(
        Array.from({ length: BURST - 3 }, (_, index) => nowMs + (index + 4) * INTERVAL_MS),
      );
      expect(onOther.map((result) => result.allowed)).toEqual([true, true]);
      expect(slower).toEqual({ allowed: true, theoreticalArrivalMs: nowMs + TOLERANCE_MS });
    });

    it('hitRateLimit admits one more hit per interval once the burst is spent; refused hits change nothing', async (context) => {
      const hit = await sharedLimiter(freshStore, context);
      const key = rateKey();
      const nowMs = Date.now();
      for (let i = 0; i < BURST; i++) expect((await hit(hitAt(key, nowMs))).allowed).toBe(true);

      expect(await hit(hitAt(key, nowMs))).toEqual({
        allowed: false,
        theoreticalArrivalMs: nowMs + TOLERANCE_MS,
      });
      expect(await hit(hitAt(key, nowMs + INTERVAL_MS - 1))).toEqual({
        allowed: false,
        theoreticalArrivalMs: nowMs + TOLERANCE_MS,
      });
      expect(await hit(hitAt(key, nowMs + INTERVAL_MS))).toEqual({
        allowed: true,
        theoreticalArrivalMs: nowMs + TOLERANCE_MS + INTERVAL_MS,
      });
      expect((await hit(hitAt(key, nowMs + INTERVAL_MS))).allowed).toBe(false);
    });

    it("hitRateLimit applies each hit's own interval on one key, as core's leases of several requests ask", async (context) => {
      const hit = await sharedLimiter(freshStore, context);
      const key = rateKey();
      const nowMs = Date.now();
      const lease = (atMs: number): RateLimitHit => ({ ...hitAt(key, atMs), intervalMs: 4 * INTERVAL_MS });

      expect(await hit(lease(nowMs))).toEqual({
        allowed: true,
        theoreticalArrivalMs: nowMs + 4 * INTERVAL_MS,
      });
      // Six intervals are left: a lease of four and two single hits fit in any order.
      const mixed = await Promise.all([hit(lease(nowMs)), hit(hitAt(key, nowMs)), hit(hitAt(key, nowMs))]);
      expect(mixed.map((result) => result.allowed)).toEqual([true, true, true]);
      expect(Math.max(...mixed.map((result) => result.theoreticalArrivalMs))).toBe(nowMs + TOLERANCE_MS);

      expect(await hit(hitAt(key, nowMs))).toEqual({
        allowed: false,
        theoreticalArrivalMs: nowMs + TOLERANCE_MS,
      });
      expect((await hit(lease(nowMs + 3 * INTERVAL_MS))).allowed).toBe(false);
      expect(await hit(lease(nowMs + 4 * INTERVAL_MS))).toEqual({
        allowed: true,
        theoreticalArrivalMs: nowMs + TOLERANCE_MS + 4 * INTERVAL_MS,
      });
    });

    it('hitRateLimit keeps keys apart', async (context) => {
      const hit = await sharedLimiter(freshStore, context);
      const spent = rateKey();
      const nowMs = Date.now();
      for (let i = 0; i < BURST; i++) await hit(hitAt(spent, nowMs));

      expect((await hit(hitAt(spent, nowMs))).allowed).toBe(false);
      expect(await hit(hitAt(rateKey(), nowMs))).toEqual({
        allowed: true,
        theoreticalArrivalMs: nowMs + INTERVAL_MS,
      });
      expect((await hit(hitAt(spent.toUpperCase(), nowMs))).allowed).toBe(true);
    });

    it('hitRateLimit starts a key whose arrival time has passed from now, with its full burst', async (context) => {
      const hit = await sharedLimiter(freshStore, context);
      const key = rateKey();
      const nowMs = Date.now();
      await hit(hitAt(key, nowMs));
      const later = nowMs + 3 * TOLERANCE_MS;

      expect(await hit(hitAt(key, later))).toEqual({
        allowed: true,
        theoreticalArrivalMs: later + INTERVAL_MS,
      });
      const burst = await Promise.all(Array.from({ length: BURST }, () => hit(hitAt(key, later))));
      expect(burst.filter((result) => result.allowed)).toHaveLength(BURST - 1);
    });
  });
}
