import { RialtoError } from '../errors.js';
import { isUuid } from '../internal/is-uuid.js';
import { validateInput } from '../internal/validate-input.js';
import { type Page, type PageRequest, readPage, readPageRequest } from '../listing/paging.js';
import {
  audienceUpdateSchema,
  type OrganizationRegistration,
  organizationPatchSchema,
  type RegisteredOrganization,
  registrationSchema,
} from '../organizations/organizations.js';
import type { Services } from '../services.js';
import type {
  ApiKeyRecord,
  IssuerRegistrationRecord,
  OrganizationRecord,
  ProvisioningMode,
} from '../store/store.js';

/** An API key as listings show it: its id and dates, never the key or its hash. */
export type ApiKeySummary = Omit<ApiKeyRecord, 'hash'>;

/** An organization with what an operator looks at first: its active API keys and its issuers. */
export interface OrganizationOverview {
  organization: OrganizationRecord;
  /** Active keys, oldest first. */
  apiKeys: ApiKeySummary[];
  /** Issuer registrations, oldest first. */
  issuers: IssuerRegistrationRecord[];
}

/**
 * Partner organizations, from host code (scripts, seeding, an admin console), with what the admin
 * routes under `/identity/organizations` do: each function is the one those routes and the CLI call,
 * so it validates its input as they do and refuses what they refuse.
 */
export interface RialtoOrganizations {
  /**
   * Registers an organization with its first issuer and issues its first API key, as
   * `POST /identity/organizations` does. The key is in the result only: store it at once.
   * @throws RialtoError `invalid_request` naming the first offending field, or `conflict` (the issuer
   *   or a client id is registered to another organization)
   * @example
   * const { organization, apiKey } = await exchange.organizations.register({ name: 'Acme', issuer: 'https://acme.okta.com' });
   */
  register(input: OrganizationRegistration): Promise<RegisteredOrganization>;
  /**
   * The organization, as this instance last read it (changes made on other instances show within
   * `lookupCacheTtlSeconds`). @returns `null` when there is none
   */
  get(orgId: string): Promise<OrganizationRecord | null>;
  /**
   * One page of organizations, newest first (ties by id), as `GET /identity/organizations` answers.
   * `query` keeps the organization whose id it is and those whose name contains it, ASCII letters
   * compared case-insensitively; pass the previous page's `nextCursor` as `cursor` for the next page.
   * @throws RialtoError `invalid_request` (a `limit` outside 1–200, a cursor this service did not issue)
   * @example
   * const { items, nextCursor } = await exchange.organizations.list({ query: 'acme', limit: 20 });
   */
  list(request?: PageRequest): Promise<Page<OrganizationRecord>>;
  /**
   * The organization as stored now, with its active API keys (ids and dates) and issuer
   * registrations, as `GET /identity/organizations/:org_id` answers.
   * @throws RialtoError `not_found`
   */
  overview(orgId: string): Promise<OrganizationOverview>;
  /**
   * Suspends an organization, as `POST /identity/organizations/:org_id/suspend` does: its API keys,
   * refresh tokens and access tokens are refused until it is resumed; nothing is deleted.
   * @throws RialtoError `not_found`
   */
  suspend(orgId: string): Promise<OrganizationRecord>;
  /** Ends a suspension; every session resumes. @throws RialtoError `not_found` */
  resume(orgId: string): Promise<OrganizationRecord>;
  /**
   * Sets whether a first exchange may create users (`create`) or only sign in users created
   * beforehand (`link_only`), as `PATCH /identity/organizations/:org_id` does.
   * @throws RialtoError `not_found` or `invalid_request`
   */
  setProvisioning(orgId: string, provisioning: ProvisioningMode): Promise<OrganizationRecord>;
  /**
   * Requires the organization's access tokens to be DPoP-bound (RFC 9449 §5.2), or no longer: then
   * `POST /oauth/token` refuses a request without a DPoP proof, and the seed exchange refuses the
   * organization.
   * @throws RialtoError `not_found`
   */
  setDpopBoundAccessTokens(orgId: string, required: boolean): Promise<OrganizationRecord>;
  /**
   * Replaces the audiences of the organization's access tokens (`identity` is always kept), as
   * `PATCH /identity/auth/idp/:org_id` does with admin credentials: the `allowedAudiences` option
   * binds partners' API keys, not the host.
   * @throws RialtoError `not_found` or `invalid_request`
   */
  setAudience(orgId: string, audience: string[]): Promise<OrganizationRecord>;
  /**
   * Removes the organization and everything stored for it (keys, issuers, users, sessions, webhooks),
   * as `DELETE /identity/organizations/:org_id` does.
   * @throws RialtoError `not_found`
   */
  remove(orgId: string): Promise<void>;
}

export function noSuchOrganization(): RialtoError {
  return new RialtoError('not_found', 'No such organization.');
}

/** @throws RialtoError `not_found` when `org` is `null` */
export function existingOrganization(org: OrganizationRecord | null): OrganizationRecord {
  if (!org) throw noSuchOrganization();
  return org;
}

/** An API key without its hash. */
export function apiKeySummary({ hash: _hash, ...summary }: ApiKeyRecord): ApiKeySummary {
  return summary;
}

export function createOrganizationsFacade({ organizations, store }: Services): RialtoOrganizations {
  const get = async (orgId: string) => (isUuid(orgId) ? organizations.get(orgId) : null);
  const setSuspended = async (orgId: string, isSuspended: boolean) =>
    existingOrganization(isUuid(orgId) ? await organizations.setSuspended(orgId, isSuspended) : null);

  return {
    register: async (input) => organizations.register(validateInput(registrationSchema, input)),
    get,
    async list(request) {
      const page = readPageRequest(request);
      return readPage(
        page,
        (limit) => store.listOrganizations({ ...page, limit }),
        (org) => ({ createdAt: org.createdAt, id: org.orgId }),
      );
    },
    async overview(orgId) {
      const organization = existingOrganization(isUuid(orgId) ? await store.getOrganization(orgId) : null);
      const [apiKeys, issuers] = await Promise.all([
        store.listActiveApiKeys(orgId),
        store.listIssuerRegistrations(orgId),
      ]);
      return { organization, apiKeys: apiKeys.map(apiKeySummary), issuers };
    },
    suspend: (orgId) => setSuspended(orgId, true),
    resume: (orgId) => setSuspended(orgId, false),
    async setProvisioning(orgId, provisioning) {
      const patch = validateInput(organizationPatchSchema, { provisioning });
      return existingOrganization(
        isUuid(orgId) && patch.provisioning !== undefined
          ? await organizations.setProvisioning(orgId, patch.provisioning)
          : null,
      );
    },
    async setDpopBoundAccessTokens(orgId, required) {
      const patch = validateInput(organizationPatchSchema, { dpop_bound_access_tokens: required });
      return existingOrganization(
        isUuid(orgId) && patch.dpop_bound_access_tokens !== undefined
          ? await organizations.setDpopBoundAccessTokens(orgId, patch.dpop_bound_access_tokens)
          : null,
      );
    },
    async setAudience(orgId, audience) {
      const update = validateInput(audienceUpdateSchema, { audience });
      return existingOrganization(
        isUuid(orgId) ? await organizations.setAudience(orgId, update.audience) : null,
      );
    },
    async remove(orgId) {
      if (!(isUuid(orgId) && (await organizations.remove(orgId)))) throw noSuchOrganization();
    },
  };
}
