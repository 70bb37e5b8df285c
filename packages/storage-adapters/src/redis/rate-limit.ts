import type { RateLimitHitResult, RateLimitStore } from '@rialto-exchange/core';
import { createBatcher } from '../internal/batcher.js';
import { EXPIRY_MARGIN_SECONDS } from '../internal/retention.js';
import type { BatchItem, RedisContext } from './context.js';
import { HIT_RATE_LIMITS } from './scripts.js';

// Hits sent in one script call (each brings 1 key and 4 arguments).
const MAX_BATCH = 100;

/**
 * Fleet-wide rate limits, one GCRA step per hit on the limit's own key. Hits that arrive within one
 * turn of the event loop (every request of a burst checks the org's limit) go out as one script
 * call per slot, as refresh-token saves do: one round trip for the lot instead of one each. The
 * steps still run one after another in Redis, so what is admitted is what one call per hit would
 * admit; a failed batch fails each of its hits.
 */
export function redisRateLimits({ key, run, scriptPerSlot }: RedisContext): Required<RateLimitStore> {
  const hitRateLimits = createBatcher<BatchItem, RateLimitHitResult>(async (hits) => {
    const replies = await run((deadlineAt) => scriptPerSlot(deadlineAt, HIT_RATE_LIMITS, hits));
    return replies.map((reply) => {
      const [allowed, theoreticalArrivalMs] = reply as [number, number];
      return { allowed: allowed === 1, theoreticalArrivalMs: Number(theoreticalArrivalMs) };
    });
  }, MAX_BATCH);

  return {
    hitRateLimit: ({ key: limitKey, intervalMs, toleranceMs, nowMs }) =>
      hitRateLimits({
        keys: [key.rateLimit(limitKey)],
        args: [String(intervalMs), String(toleranceMs), String(nowMs), String(EXPIRY_MARGIN_SECONDS * 1000)],
      }),
  };
}
