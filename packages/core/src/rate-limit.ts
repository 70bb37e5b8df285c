import { LRUCache } from 'lru-cache';
import { RialtoError } from './errors.js';

export interface RateLimit {
  /** Requests allowed per window; also the burst size. */
  limit: number;
  windowSeconds: number;
}

export interface RateLimiter {
  /**
   * Takes one request's worth from `key`'s bucket.
   * @returns `0` when allowed, otherwise the whole seconds to wait before retrying
   */
  take(key: string): number;
}

interface Bucket {
  tokens: number;
  updatedAtMs: number;
}

/**
 * A token bucket per key, refilled continuously at `limit / windowSeconds` per second, kept in
 * this process only: with N instances the effective limit is up to N times higher. The LRU bound
 * keeps memory flat however many keys (IPs) appear; an evicted key starts again with a full bucket.
 */
export function createRateLimiter(rate: RateLimit, maxKeys = 100_000): RateLimiter {
  const refillPerMs = rate.limit / (rate.windowSeconds * 1000);
  const buckets = new LRUCache<string, Bucket>({ max: maxKeys });

  return {
    take(key) {
      const now = Date.now();
      const bucket = buckets.get(key) ?? { tokens: rate.limit, updatedAtMs: now };
      bucket.tokens = Math.min(rate.limit, bucket.tokens + (now - bucket.updatedAtMs) * refillPerMs);
      bucket.updatedAtMs = now;
      if (bucket.tokens < 1) {
        buckets.set(key, bucket);
        return Math.max(1, Math.ceil((1 - bucket.tokens) / refillPerMs / 1000));
      }
      bucket.tokens -= 1;
      buckets.set(key, bucket);
      return 0;
    },
  };
}

/** A limiter for `rate`, or none when that limit is turned off. */
export function limiterFor(rate: RateLimit | false): RateLimiter | undefined {
  return rate === false ? undefined : createRateLimiter(rate);
}

/**
 * Spends one request of `key`'s budget.
 * @throws RialtoError `rate_limited` with `Retry-After` when the budget is spent
 */
export function enforceRateLimit(
  limiter: RateLimiter | undefined,
  key: string,
  who: string,
  onRefused?: () => void,
): void {
  const retryAfterSeconds = limiter?.take(key) ?? 0;
  if (retryAfterSeconds > 0) {
    onRefused?.();
    throw new RialtoError('rate_limited', `Too many requests from ${who}. Retry in ${retryAfterSeconds} s.`, {
      headers: { 'retry-after': String(retryAfterSeconds) },
    });
  }
}
