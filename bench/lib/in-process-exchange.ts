import { createRialtoExchange, type RialtoExchange, type RialtoExchangeOptions } from '@rialto-exchange/core';
import { memoryStore } from '@rialto-exchange/storage-adapters';
import { SERVICE_ISSUER } from './protocol.js';

// The bench measures the exchange, not its limits: the load would otherwise spend them in seconds.
const UNREACHABLE = { limit: 1_000_000_000, windowSeconds: 1 };

/**
 * The library's core, as the in-process measurements and the rialto-core targets use it: loopback
 * issuers allowed, limits out of reach, the memory store unless `extra` names another. `extra` adds
 * options (metrics, a store).
 */
export function inProcessExchange(extra: Partial<RialtoExchangeOptions> = {}): RialtoExchange {
  return createRialtoExchange({
    issuer: SERVICE_ISSUER,
    allowInsecureIssuers: true,
    allowPrivateIssuers: true,
    rateLimit: { perIp: UNREACHABLE, perOrganization: UNREACHABLE },
    ...extra,
    store: extra.store ?? memoryStore(),
  });
}
