import type { IssuerRegistrationConflict, IssuerRegistrationRecord } from '../store.js';

/**
 * The uniqueness rules of `addIssuerRegistration` (and of `createOrganization`'s first
 * registration), in their order, for stores that check them in process under a lock or a
 * transaction; stores that enforce them with constraints or a script must answer the same.
 * @param sameIssuer every stored registration of the candidate's issuer
 * @returns `null` when the candidate may be added
 */
export function issuerRegistrationConflict(
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
