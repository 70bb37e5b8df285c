import type { RateLimitStore } from '@rialto-exchange/core';
import { EXPIRY_MARGIN_SECONDS } from '../internal/retention.js';
import type { RedisContext } from './context.js';
import { HIT_RATE_LIMIT } from './scripts.js';

/** Fleet-wide rate limits: one GCRA step per script call, on the limit's own key. */
export function redisRateLimits({ key, run, script }: RedisContext): Required<RateLimitStore> {
  return {
    hitRateLimit: ({ key: limitKey, intervalMs, toleranceMs, nowMs }) =>
      run(async (deadlineAt) => {
        const [allowed, theoreticalArrivalMs] = (await script(
          deadlineAt,
          HIT_RATE_LIMIT,
          [key.rateLimit(limitKey)],
          [String(intervalMs), String(toleranceMs), String(nowMs), String(EXPIRY_MARGIN_SECONDS * 1000)],
        )) as [number, number];
        return { allowed: allowed === 1, theoreticalArrivalMs: Number(theoreticalArrivalMs) };
      }),
  };
}
