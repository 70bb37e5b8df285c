import { LRUCache } from 'lru-cache';
import type { RateLimitHit, Store } from '../store/store.js';
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
 * An instance buys up to this many requests of a key's budget from the store at once, and never
 * more than this share of the limit, so that a limit under 1 / LEASE_SHARE_OF_LIMIT requests per
 * window is spent one request at a time, exactly as without leases.
 */
export const MAX_LEASE_SIZE = 16;
const LEASE_SHARE_OF_LIMIT = 1 / 50;
/** After the store refused a whole lease, requests go to it one at a time for this long. */
export const NEAR_LIMIT_MS = 1_000;
const MAX_LEASED_KEYS = 10_000;

/** The requests one store round trip buys for `rate`: 1 (no lease) for limits under 100 per window. */
export function leaseSizeFor(rate: RateLimit): number {
  return Math.max(1, Math.min(MAX_LEASE_SIZE, Math.floor(rate.limit * LEASE_SHARE_OF_LIMIT)));
}

interface Lease {
  /** Requests bought and not yet admitted. */
  remaining: number;
  /** Until then the store is asked one request at a time: it refused a whole lease. */
  nearLimitUntilMs: number;
}

/**
 * A limit shared by every instance on `store`, or kept in this process when the store has no
 * `hitRateLimit` (memory, Keyv). When the store fails or cannot be reached, requests are counted
 * against a per-instance limit of the same rate instead: the fleet then admits up to N times the
 * limit, never an unlimited number, and the limiter alone never turns a request into a 503.
 *
 * Requests are bought from the store in leases of `leaseSizeFor(rate)` (one GCRA step of that many
 * intervals, so the store's contract is unchanged) and admitted from the lease without a round trip
 * until it is spent. Every admitted request was paid for in the store first, and nothing bought is
 * given up, so the fleet admits what the store counted, only earlier or later: an instance holds at
 * most `lease − 1` requests bought and not yet admitted, which it may admit in a window the store
 * charged before. A fleet of N instances thus admits at most N × (lease − 1) requests above the
 * limit in a window, and holds at most as many back at any time; leases are at most 1/50 of the
 * limit. When the store refuses a whole lease, the rest of the budget is spent one request per
 * round trip, as exactly as without leases.
 */
export function createSharedRateLimiter(rate: RateLimit, store: Store, logger: Logger): SharedRateLimiter {
  const local = createRateLimiter(rate);
  const storeHit = store.hitRateLimit?.bind(store);
  if (storeHit === undefined) return { take: async (key) => local.take(key) };
  const hitRateLimit = storeHit;
  const parameters = gcraParameters(rate);
  const leaseSize = leaseSizeFor(rate);
  let storeRetryAtMs = 0;

  /** One request, one store round trip, or the local limit while the store is failing. */
  async function takeOne(key: string): Promise<number> {
    const nowMs = Date.now();
    if (nowMs < storeRetryAtMs) return local.take(key);
    const hit: RateLimitHit = { key, ...parameters, nowMs };
    try {
      return retryAfterSeconds(await hitRateLimit(hit), hit);
    } catch (error) {
      failed(error);
      return local.take(key);
    }
  }

  function failed(error: unknown): void {
    storeRetryAtMs = Date.now() + STORE_RETRY_AFTER_FAILURE_MS;
    logger.warn(
      { reason: error instanceof Error ? error.message : String(error) },
      'the store could not check a rate limit; this instance counts it alone for a while',
    );
  }

  if (leaseSize === 1) return { take: takeOne };

  const leases = new LRUCache<string, Lease>({ max: MAX_LEASED_KEYS });
  // One purchase per key at a time; it settles `true` when it brought a lease.
  const purchases = new Map<string, Promise<boolean>>();

  function buyLease(key: string, nowMs: number): Promise<boolean> {
    const hit: RateLimitHit = {
      key,
      intervalMs: parameters.intervalMs * leaseSize,
      toleranceMs: parameters.toleranceMs,
      nowMs,
    };
    // Through `then`, so that a store throwing instead of rejecting is caught alike.
    const buying = Promise.resolve()
      .then(() => hitRateLimit(hit))
      .then(
        ({ allowed }) => {
          const nearLimitUntilMs = allowed ? 0 : Date.now() + NEAR_LIMIT_MS;
          leases.set(key, { remaining: allowed ? leaseSize : 0, nearLimitUntilMs });
          return allowed;
        },
        (error: unknown) => {
          failed(error);
          return false;
        },
      )
      .finally(() => purchases.delete(key));
    purchases.set(key, buying);
    return buying;
  }

  return {
    async take(key) {
      for (;;) {
        // What a lease holds was paid for in the store: spent first, even while the store fails,
        // and first by the request that bought it (its wait was the first on the purchase).
        const lease = leases.get(key);
        if (lease !== undefined && lease.remaining > 0) {
          lease.remaining -= 1;
          return 0;
        }
        const nowMs = Date.now();
        if (nowMs < storeRetryAtMs) return local.take(key);
        if (lease !== undefined && nowMs < lease.nearLimitUntilMs) return takeOne(key);
        // Buy the next lease, or wait for the one another request is buying, then spend from it.
        // Refused (less than a lease is left) or failed: one request at a time, or the local limit.
        if (!(await (purchases.get(key) ?? buyLease(key, nowMs)))) return takeOne(key);
      }
    },
  };
}
