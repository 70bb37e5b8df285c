import { z } from 'zod';
import {
  named,
  orFalse,
  positiveNumber,
  strictOptions,
  wholeNumberAtLeastOne,
} from '../options/schema-helpers.js';
import type { RateLimit } from './rate-limit.js';

const rateLimitSchema = orFalse(
  named<RateLimit>(strictOptions({ limit: wholeNumberAtLeastOne(), windowSeconds: positiveNumber() })),
  '{ limit, windowSeconds }',
);

const rateLimitOptionsShape = {
  /**
   * One client address's budget, in this process only (anonymous requests never cost a store
   * write): the token routes spend it on every request before authentication, every other route
   * on each failed authentication, and a spent address is refused before its credential is checked.
   * @default { limit: 1200, windowSeconds: 60 }
   */
  // Generous: a partner backend sends all its users' exchanges from a few addresses.
  perIp: rateLimitSchema.default({ limit: 1200, windowSeconds: 60 }),
  /**
   * Authenticated exchanges of one organization, shared by every instance on the store when it
   * can hold the limit (Redis, SQL); per process on memory and Keyv, and per instance while the
   * store is unreachable.
   * @default { limit: 1200, windowSeconds: 60 }
   */
  perOrganization: rateLimitSchema.default({ limit: 1200, windowSeconds: 60 }),
  /**
   * IPv6 clients are counted by their network of this many leading bits; IPv4-mapped IPv6
   * addresses count as their IPv4 address. A whole number from 1 to 128.
   * @default 64
   */
  // RFC 6177 / RFC 7421: a site or host is usually given a whole /64, so one client can rotate
  // through 2^64 addresses; counting each would let it bypass the per-address limit.
  ipv6PrefixLength: z
    .number({ error: 'must be a whole number from 1 to 128' })
    .int({ error: 'must be a whole number from 1 to 128' })
    .min(1, { error: 'must be a whole number from 1 to 128' })
    .max(128, { error: 'must be a whole number from 1 to 128' })
    .default(64),
};

/** Request limits on the exchange, refresh and revoke routes. */
export interface RateLimitOptions extends z.input<z.ZodObject<typeof rateLimitOptionsShape>> {}

export interface ResolvedRateLimitOptions extends z.output<z.ZodObject<typeof rateLimitOptionsShape>> {}

const rateLimitObjectSchema = named<ResolvedRateLimitOptions, RateLimitOptions>(
  strictOptions(rateLimitOptionsShape),
);

/** The `rateLimit` option: `false` turns both limits off. */
export const rateLimitOptionsSchema = z
  .union(
    [
      z
        .literal(false)
        .transform((): RateLimitOptions => ({ perIp: false, perOrganization: false }))
        .pipe(rateLimitObjectSchema),
      rateLimitObjectSchema,
    ],
    { error: 'must be false or { perIp, perOrganization, ipv6PrefixLength }' },
  )
  .prefault({});
