import type { RequestLike } from '../http/http-types.js';
import { refusedFor, type Services } from '../services.js';
import { clientAddressKey } from './client-address-key.js';
import { enforceRateLimit } from './rate-limit.js';

/**
 * The per-address limit of the routes a client reaches before (or without) authenticating: the
 * exchange, refresh, revocation and introspection. Each request counts, refused ones included, so
 * guessing credentials costs the guesser its budget.
 * @returns a check that throws RialtoError `rate_limited` once the request's address is over its limit
 */
export function clientAddressAdmission({
  ipLimiter,
  telemetry,
  options,
}: Pick<Services, 'ipLimiter' | 'telemetry' | 'options'>): (request: RequestLike) => void {
  const onRefused = refusedFor(telemetry.metrics, 'client_address');
  const { ipv6PrefixLength } = options.rateLimit;
  return function admitClientAddress(request) {
    if (request.ip === undefined || ipLimiter === undefined) return;
    enforceRateLimit(
      ipLimiter,
      clientAddressKey(request.ip, ipv6PrefixLength),
      'this client address',
      onRefused,
    );
  };
}
