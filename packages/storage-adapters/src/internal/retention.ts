/**
 * How long a family revocation is remembered at least. A token saved after its family was revoked
 * (a refresh racing a logout) must still be refused, and such a save happens within a request's
 * lifetime of the revocation, far less than this.
 */
export const FAMILY_REVOCATION_MIN_SECONDS = 86_400;

/**
 * Added to every time-to-live derived from `expiresAt`: the backend's clock or the TTL rounding
 * must never drop a record before the caller's own `now` says it expired.
 */
export const EXPIRY_MARGIN_SECONDS = 60;

export function epochSeconds(): number {
  return Math.floor(Date.now() / 1000);
}

/** Seconds from now until `expiresAt` plus the margin; at least 1, as TTLs must be positive. */
export function secondsToKeep(expiresAt: number): number {
  return Math.max(1, expiresAt - epochSeconds() + EXPIRY_MARGIN_SECONDS);
}

/** How long finished webhook deliveries stay listable: the delivery log looks back this far. */
export const DELIVERY_RETENTION_SECONDS = 30 * 86_400;
