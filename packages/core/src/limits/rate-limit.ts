import { LRUCache } from 'lru-cache';
import { RialtoError } from '../errors.js';
import type { RateLimitHit, RateLimitHitResult } from '../store/store.js';

export interface RateLimit {
  /** Requests allowed per window; also the largest burst. */
  limit: number;
  windowSeconds: number;
}

export interface RateLimiter {
  /**
   * Spends one request of `key`'s budget.
   * @returns `0` when allowed, otherwise the whole seconds to wait before retrying
   */
  take(key: string): number;
  /**
   * What `take` would answer, spending nothing.
   * @returns `0` when a request would be allowed, otherwise the whole seconds to wait
   */
  peek(key: string): number;
}

/** The GCRA step of one request, everything but the key and the clock. */
export type GcraParameters = Pick<RateLimitHit, 'intervalMs' | 'toleranceMs'>;

/**
 * GCRA parameters for `rate`: one request per `windowSeconds / limit`, a burst of `limit`. The
 * interval is rounded up so that the burst is exactly `limit` and the sustained rate never exceeds
 * `limit` per window; unlike fixed windows, no window boundary lets a second burst through at once.
 */
export function gcraParameters(rate: RateLimit): GcraParameters {
  const intervalMs = Math.ceil((rate.windowSeconds * 1000) / rate.limit);
  return { intervalMs, toleranceMs: intervalMs * rate.limit };
}

/** One GCRA step on a theoretical arrival time (`undefined` for a key never seen or expired). */
export function gcraStep(storedMs: number | undefined, hit: RateLimitHit): RateLimitHitResult {
  const next = Math.max(storedMs ?? hit.nowMs, hit.nowMs) + hit.intervalMs;
  if (next - hit.nowMs <= hit.toleranceMs) return { allowed: true, theoreticalArrivalMs: next };
  return { allowed: false, theoreticalArrivalMs: storedMs ?? hit.nowMs };
}

/** `0` when `result` admitted the request, else the whole seconds (at least 1) until one would be. */
export function retryAfterSeconds(result: RateLimitHitResult, hit: RateLimitHit): number {
  if (result.allowed) return 0;
  const waitMs = result.theoreticalArrivalMs + hit.intervalMs - hit.toleranceMs - hit.nowMs;
  return Math.max(1, Math.ceil(waitMs / 1000));
}

/**
 * GCRA per key, kept in this process only: with N instances the effective limit is up to N times
 * higher. The LRU bound keeps memory flat however many keys (addresses) appear; an evicted key
 * starts again with its full burst.
 */
export function createRateLimiter(rate: RateLimit, maxKeys = 100_000): RateLimiter {
  const parameters = gcraParameters(rate);
  const arrivals = new LRUCache<string, number>({ max: maxKeys });

  return {
    take(key) {
      const hit = { key, ...parameters, nowMs: Date.now() };
      const result = gcraStep(arrivals.get(key), hit);
      if (result.allowed) arrivals.set(key, result.theoreticalArrivalMs);
      return retryAfterSeconds(result, hit);
    },
    peek(key) {
      const hit = { key, ...parameters, nowMs: Date.now() };
      return retryAfterSeconds(gcraStep(arrivals.get(key), hit), hit);
    },
  };
}

/** A limiter for `rate`, or none when that limit is turned off. */
export function limiterFor(rate: RateLimit | false): RateLimiter | undefined {
  return rate === false ? undefined : createRateLimiter(rate);
}

/**
 * Refuses the request when `retryAfterSeconds` is positive.
 * @throws RialtoError `rate_limited` with `Retry-After`
 */
export function refuseIfLimited(retryAfterSeconds: number, who: string, onRefused?: () => void): void {
  if (retryAfterSeconds > 0) {
    onRefused?.();
    throw new RialtoError('rate_limited', `Too many requests from ${who}. Retry in ${retryAfterSeconds} s.`, {
      headers: { 'retry-after': String(retryAfterSeconds) },
    });
  }
}
