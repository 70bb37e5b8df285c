/**
 * Per-address and per-organization rate limits.
 * This file is the folder's public face: what the rest of core and the package's entry point take
 * from it. Inside core, modules import each other's files directly, so no import cycle runs
 * through a face.
 */
export type { AddressLimit } from './address-limit.js';
export { createAddressLimit, isFailedAuthentication } from './address-limit.js';
export { limiterFor, refuseIfLimited } from './rate-limit.js';
export { rateLimitOptionsSchema } from './rate-limit-options.js';
export { createSharedRateLimiter } from './shared-rate-limiter.js';
