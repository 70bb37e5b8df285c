import type { IssuerRegistrationConflict, IssuerRegistrationRecord } from '@rialto-exchange/core';

/**
 * The uniqueness rules of `Store.addIssuerRegistration`, for stores that check them in this process
 * (memory, Keyv); the Redis script and the SQL constraints enforce the same ones.
 * @param sameIssuer every stored registration of the candidate's issuer
 */
export function registrationConflict(
  sameIssuer: readonly IssuerRegistrationRecord[],
  candidate: IssuerRegistrationRecord,
): IssuerRegistrationConflict | null {
  if (sameIssuer.some((registration) => registration.orgId === candidate.orgId)) return 'duplicate';
  if (
    sameIssuer.length > 0 &&
    (candidate.clientIds.length === 0 ||
      sameIssuer.some((registration) => registration.clientIds.length === 0))
  ) {
    return 'issuer_taken';
  }
  const claimed = new Set(sameIssuer.flatMap((registration) => registration.clientIds));
  return candidate.clientIds.some((clientId) => claimed.has(clientId)) ? 'client_id_taken' : null;
}

/** Oldest first; the id breaks ties so every store lists registrations of one second alike. */
export function oldestRegistrationsFirst(
  registrations: readonly IssuerRegistrationRecord[],
): IssuerRegistrationRecord[] {
  return [...registrations].sort(
    (a, b) => a.createdAt - b.createdAt || (a.registrationId < b.registrationId ? -1 : 1),
  );
}
