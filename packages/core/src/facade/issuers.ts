import { RialtoError } from '../errors.js';
import { isUuid } from '../internal/is-uuid.js';
import { validateInput } from '../internal/validate-input.js';
import {
  type IssuerPolicyPatch,
  type IssuerRegistrationInput,
  issuerPolicyPatchSchema,
  issuerRegistrationSchema,
  type PolicyChangedBy,
} from '../issuers/issuer-registrations.js';
import type { Services } from '../services.js';
import type { IssuerRegistrationRecord } from '../store/store.js';
import { existingOrganization, noSuchOrganization } from './organizations.js';

/**
 * The identity providers each organization trusts, from host code, as the admin routes under
 * `/identity/organizations/:org_id/issuers` and the CLI manage them.
 */
export interface RialtoIssuers {
  /**
   * Registers another issuer for an organization, as `POST /identity/organizations/:org_id/issuers`
   * does, with the same validation. Nothing is fetched from the issuer until a token names it.
   * @throws RialtoError `invalid_request`, `not_found` or `conflict`
   * @example
   * await exchange.issuers.add(orgId, { issuer: 'https://login.microsoftonline.com/<tenant>/v2.0', client_ids: ['<app id>'], subject_claim: 'oid' });
   */
  add(orgId: string, input: IssuerRegistrationInput): Promise<IssuerRegistrationRecord>;
  /** The organization's issuer registrations, oldest first. @throws RialtoError `not_found` */
  list(orgId: string): Promise<IssuerRegistrationRecord[]>;
  /**
   * Removes an issuer registration (`issuerId` is its `registrationId`): this instance refuses its
   * ID tokens at once, others within `lookupCacheTtlSeconds`. Sessions already begun with them
   * continue unless `endSessions`: then the refresh tokens of every family begun with this
   * registration are refused (`invalid_grant`, inactive at introspection), on other instances within
   * `lookupCacheTtlSeconds`; access tokens already issued live until they expire.
   * @throws RialtoError `not_found` when the organization has no such registration
   * @example
   * await exchange.issuers.remove(orgId, issuerId, { endSessions: true });
   */
  remove(orgId: string, issuerId: string, options?: { endSessions?: boolean }): Promise<void>;
  /**
   * Changes the exchange policy of an issuer registration, as `PATCH
   * /identity/organizations/:org_id/issuers/:issuer_id` does: `condition` and `claim_mappings`,
   * `null` removing one, an absent one left as it is. Each change is a new policy version, with an
   * `organization.issuer_policy_changed` event (`changedBy: 'host'`).
   * @throws RialtoError `invalid_request` (with the position of a compile error), `not_found` or `conflict`
   * @example
   * await exchange.issuers.updatePolicy(orgId, issuerId, { condition: 'claims.hd == "partner.example"' });
   */
  updatePolicy(orgId: string, issuerId: string, patch: IssuerPolicyPatch): Promise<IssuerRegistrationRecord>;
}

/** What `updatePolicy` and its route share: the same checks, told who changes the policy. */
export async function changeIssuerPolicy(
  { issuers }: Services,
  orgId: string,
  issuerId: string,
  patch: IssuerPolicyPatch,
  changedBy: PolicyChangedBy,
): Promise<IssuerRegistrationRecord> {
  const change = validateInput(issuerPolicyPatchSchema, patch);
  if (!(isUuid(orgId) && isUuid(issuerId))) {
    throw new RialtoError('not_found', 'No such issuer registration.');
  }
  return issuers.changePolicy(orgId, issuerId, change, changedBy);
}

export function createIssuersFacade(services: Services): RialtoIssuers {
  const { issuers, organizations } = services;
  return {
    updatePolicy: (orgId, issuerId, patch) => changeIssuerPolicy(services, orgId, issuerId, patch, 'host'),
    async add(orgId, input) {
      const registration = validateInput(issuerRegistrationSchema, input);
      if (!isUuid(orgId)) throw noSuchOrganization();
      return issuers.add(orgId, registration);
    },
    async list(orgId) {
      const org = existingOrganization(isUuid(orgId) ? await organizations.get(orgId) : null);
      return issuers.list(org.orgId);
    },
    async remove(orgId, issuerId, options) {
      const endSessions = options?.endSessions ?? false;
      const notFound = () =>
        new RialtoError('not_found', 'No such issuer registration in this organization.');
      if (!(isUuid(orgId) && isUuid(issuerId))) throw notFound();
      if (endSessions) {
        // Ended before the removal: if the removal then fails, a retry finds the registration and
        // finishes, rather than a removed registration whose sessions were never ended.
        const registrations = await issuers.list(orgId);
        if (!registrations.some((registration) => registration.registrationId === issuerId)) throw notFound();
        await organizations.endSessionsBegunWith(orgId, issuerId);
      }
      if (!(await issuers.remove(orgId, issuerId, { endSessions }))) throw notFound();
    },
  };
}
