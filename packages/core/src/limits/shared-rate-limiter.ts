import type { Store } from '../store/store.js';
import type { Logger } from '../telemetry/logger.js';
import { createRateLimiter, gcraParameters, type RateLimit, retryAfterSeconds } from './rate-limit.js';

export interface SharedRateLimiter {
  /**
   * Spends one request of `key`'s budget, in the store when it can hold the limit.
   * @returns `0` when allowed, otherwise the whole seconds to wait before retrying
   */
  take(key: string): Promise<number>;
}

// After a failed store call the next ones go to the per-instance limit for this long, so an outage
// does not add the store's deadline to every request nor a warning to every log line.
const STORE_RETRY_AFTER_FAILURE_MS = 5_000;

/**
 * A limit shared by every instance on `store` (one `hitRateLimit` round trip per request), or kept
 * in this process when the store has no `hitRateLimit` (memory, Keyv). When the store fails or
 * cannot be reached, requests are counted against a per-instance limit of the same rate instead:
 * the fleet then admits up to N times the limit, never an unlimited number, and the limiter alone
 * never turns a request into a 503.
 */
export function createSharedRateLimiter(rate: RateLimit, store: Store, logger: Logger): SharedRateLimiter {
  const local = createRateLimiter(rate);
  const hitRateLimit = store.hitRateLimit?.bind(store);
  if (hitRateLimit === undefined) return { take: async (key) => local.take(key) };
  const parameters = gcraParameters(rate);
  let storeRetryAtMs = 0;

  return {
    async take(key) {
      const nowMs = Date.now();
      if (nowMs < storeRetryAtMs) return local.take(key);
      const hit = { key, ...parameters, nowMs };
      try {
        return retryAfterSeconds(await hitRateLimit(hit), hit);
      } catch (error) {
        storeRetryAtMs = Date.now() + STORE_RETRY_AFTER_FAILURE_MS;
        logger.warn(
          { reason: error instanceof Error ? error.message : String(error) },
          'the store could not check a rate limit; this instance counts it alone for a while',
        );
        return local.take(key);
      }
    },
  };
}
