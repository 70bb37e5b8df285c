import type { RialtoErrorCode } from '../errors.js';
import { clientAddressKey } from './client-address-key.js';
import { type RateLimiter, refuseIfLimited } from './rate-limit.js';

/**
 * The per-address limit (`rateLimit.perIp`), one budget per client address kept in process. The
 * token routes spend it on every request; every other route spends it on each failed
 * authentication and refuses an address that has spent it before looking at its credential, so
 * neither admin tokens, API keys nor access tokens can be guessed faster than the limit.
 */
export interface AddressLimit {
  /**
   * Spends one request of the address's budget.
   * @throws RialtoError `rate_limited` with `Retry-After` when it is spent
   */
  admit(request: { ip?: string }): void;
  /**
   * Refuses an address whose budget is spent, spending nothing.
   * @throws RialtoError `rate_limited` with `Retry-After`
   */
  refuseIfSpent(request: { ip?: string }): void;
  /** Whether the address's budget is spent, spending nothing. */
  isSpent(request: { ip?: string }): boolean;
  /** Spends one request of the address's budget for a failed authentication, without refusing. */
  countFailure(request: { ip?: string }): void;
}

/** Answers of a credential check that say the caller presented no valid credential: a guess. */
const FAILED_AUTHENTICATION: ReadonlySet<RialtoErrorCode> = new Set([
  'unauthorized',
  'missing_api_key',
  'invalid_api_key',
  'invalid_access_token',
]);

/** Whether a credential check's error is a failed authentication (not a store outage, not a role). */
export function isFailedAuthentication(code: RialtoErrorCode): boolean {
  return FAILED_AUTHENTICATION.has(code);
}

const WHO = 'this client address';

/**
 * The limit over `limiter`; with no limiter (`perIp: false`) or no known address (the host did not
 * pass one), it admits everything.
 */
export function createAddressLimit(
  limiter: RateLimiter | undefined,
  ipv6PrefixLength: number,
  onRefused?: () => void,
): AddressLimit {
  const keyOf = (request: { ip?: string }) =>
    request.ip === undefined || limiter === undefined
      ? undefined
      : clientAddressKey(request.ip, ipv6PrefixLength);
  const waitOf = (request: { ip?: string }) => {
    const key = keyOf(request);
    return key === undefined ? 0 : (limiter?.peek(key) ?? 0);
  };
  return {
    admit(request) {
      const key = keyOf(request);
      if (key !== undefined) refuseIfLimited(limiter?.take(key) ?? 0, WHO, onRefused);
    },
    refuseIfSpent(request) {
      refuseIfLimited(waitOf(request), WHO, onRefused);
    },
    isSpent: (request) => waitOf(request) > 0,
    countFailure(request) {
      const key = keyOf(request);
      if (key !== undefined) limiter?.take(key);
    },
  };
}
