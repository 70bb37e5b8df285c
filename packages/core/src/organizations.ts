import { randomUUID } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import { z } from 'zod';
import { generateApiKey } from './api-keys.js';
import { isAllowedRemoteUrl } from './discovery.js';
import { RialtoError } from './errors.js';
import type { RialtoEvents } from './events.js';
import { epochSeconds } from './internal/clock.js';
import type { EmailLinkingPolicy, OrganizationRecord, ProvisioningMode, Store } from './store.js';
import { ASYMMETRIC_ALGORITHMS } from './verify-id-token.js';

/** Every access token names this audience, whatever else an org adds. */
export const REQUIRED_AUDIENCE = 'identity';

/** What an audience may look like: short, and safe in a space-separated `scope`. */
export const AUDIENCE_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$/;

const audienceSchema = z
  .array(z.string().regex(AUDIENCE_PATTERN, 'must be 1-64 letters, digits, ".", "_", ":" or "-"'))
  .max(32);

/** Body of `POST /identity/organizations`. */
export const registrationSchema = z.strictObject({
  name: z.string().trim().min(1).max(200),
  issuer: z.string().max(2048),
  audience: audienceSchema.optional(),
  client_ids: z.array(z.string().min(1).max(256)).max(32).optional(),
  allowed_algorithms: z.array(z.enum(ASYMMETRIC_ALGORITHMS)).min(1).optional(),
  email_linking: z.enum(['verified', 'unless_unverified', 'never']).optional(),
  provisioning: z.enum(['create', 'link_only']).optional(),
});

/** Body of `PATCH /identity/auth/idp/:org_id`. */
export const audienceUpdateSchema = z.strictObject({ audience: audienceSchema });

export type OrganizationRegistration = z.infer<typeof registrationSchema>;

export interface RegisteredOrganization {
  organization: OrganizationRecord;
  /** Shown once; only its hash is stored. */
  apiKey: string;
  apiKeyId: string;
}

export interface OrganizationsOptions {
  allowInsecureIssuers: boolean;
  defaultEmailLinking: EmailLinkingPolicy;
  cacheTtlSeconds: number;
  maxCachedOrgs: number;
}

export interface Organizations {
  /**
   * Registers an organization and issues its first API key.
   * @throws RialtoError `invalid_request` or `conflict` (issuer already registered)
   */
  register(input: OrganizationRegistration): Promise<RegisteredOrganization>;
  /** @returns the org registered for a token's `iss`, tolerating one trailing-slash difference. */
  findByIssuer(iss: string): Promise<OrganizationRecord | null>;
  get(orgId: string): Promise<OrganizationRecord | null>;
  /** Replaces the audience list, keeping `identity`. @returns `null` when the org does not exist. */
  setAudience(orgId: string, audience: string[]): Promise<OrganizationRecord | null>;
  /**
   * Throws unless the organization exists and is not suspended (cached for the lookup-cache TTL).
   * @throws RialtoError `invalid_api_key` (the org is gone) or `organization_suspended`
   */
  requireActive(orgId: string): Promise<OrganizationRecord>;
  /**
   * Suspends (`true`) or resumes (`false`) an organization: while suspended, its API keys, refresh
   * tokens and access tokens are refused; nothing is deleted, so resuming restores every session.
   * Takes effect on this instance at once and on others within the lookup-cache TTL.
   * @returns `null` when the org does not exist
   */
  setSuspended(orgId: string, isSuspended: boolean): Promise<OrganizationRecord | null>;
  /**
   * Sets whether a first exchange may create users.
   * @throws RialtoError `invalid_request` for `link_only` when the org never links by email
   * @returns `null` when the org does not exist
   */
  setProvisioning(orgId: string, provisioning: ProvisioningMode): Promise<OrganizationRecord | null>;
  /**
   * Removes the organization and everything stored for it (see `Store.deleteOrganization`).
   * @returns `false` when it did not exist
   */
  remove(orgId: string): Promise<boolean>;
}

/** Body of `PATCH /identity/organizations/:org_id`. */
export const organizationPatchSchema = z.strictObject({ provisioning: z.enum(['create', 'link_only']) });

/** `link_only` signs in only users claimed by email: with linking `never`, nobody could sign in. */
export function checkProvisioning(provisioning: ProvisioningMode, emailLinking: EmailLinkingPolicy): void {
  if (provisioning === 'link_only' && emailLinking === 'never') {
    throw new RialtoError(
      'invalid_request',
      'provisioning: "link_only" needs email linking ("verified" or "unless_unverified"); with "never" nobody could sign in.',
    );
  }
}

/** Removes one trailing slash: Auth0 issuers end in `/`, most others do not, and both name one IdP. */
export function normalizeIssuer(issuer: string): string {
  return issuer.endsWith('/') ? issuer.slice(0, -1) : issuer;
}

/**
 * Refuses audiences outside the host's allow-list (`identity` is always allowed); with no list,
 * every audience passes.
 * @throws RialtoError `invalid_request` naming the first audience refused
 */
export function checkAllowedAudiences(
  audience: readonly string[],
  allowed: readonly string[] | undefined,
): void {
  if (allowed === undefined) return;
  const refused = audience.find((name) => name !== REQUIRED_AUDIENCE && !allowed.includes(name));
  if (refused !== undefined) {
    throw new RialtoError(
      'invalid_request',
      `audience: "${refused}" is not an audience this service allows.`,
    );
  }
}

/** Deduplicates, keeping order, with `identity` always first. */
export function normalizeAudience(audience: readonly string[]): string[] {
  return [...new Set([REQUIRED_AUDIENCE, ...audience])];
}

export function createOrganizations(
  store: Store,
  events: RialtoEvents,
  options: OrganizationsOptions,
): Organizations {
  // Hot lookups stay in process briefly; null results are cached too, so unknown issuers cannot
  // be used to hammer the store.
  const byIssuer = new LRUCache<string, { org: OrganizationRecord | null }>({
    max: options.maxCachedOrgs,
    ttl: options.cacheTtlSeconds * 1000,
    // Compare against the clock directly instead of arming a timer per lookup.
    ttlResolution: 0,
    fetchMethod: async (issuer) => ({ org: await store.findOrganizationByIssuer(issuer) }),
  });
  const byId = new LRUCache<string, { org: OrganizationRecord | null }>({
    max: options.maxCachedOrgs,
    ttl: options.cacheTtlSeconds * 1000,
    // Compare against the clock directly instead of arming a timer per lookup.
    ttlResolution: 0,
    fetchMethod: async (orgId) => ({ org: await store.getOrganization(orgId) }),
  });

  function forget(org: OrganizationRecord) {
    byIssuer.delete(org.issuer);
    byId.delete(org.orgId);
  }

  return {
    async register(input) {
      const issuer = normalizeIssuer(input.issuer);
      if (!URL.canParse(issuer) || !isAllowedRemoteUrl(new URL(issuer), options.allowInsecureIssuers)) {
        throw new RialtoError(
          'invalid_request',
          options.allowInsecureIssuers
            ? 'The issuer must be an absolute http or https URL.'
            : 'The issuer must be an absolute https URL.',
        );
      }
      const emailLinking = input.email_linking ?? options.defaultEmailLinking;
      checkProvisioning(input.provisioning ?? 'create', emailLinking);
      const now = epochSeconds();
      const orgId = randomUUID();
      const organization: OrganizationRecord = {
        orgId,
        name: input.name,
        issuer,
        audience: normalizeAudience(input.audience ?? []),
        clientIds: [...new Set(input.client_ids ?? [])],
        allowedAlgorithms: input.allowed_algorithms ?? [...ASYMMETRIC_ALGORITHMS],
        emailLinking,
        provisioning: input.provisioning ?? 'create',
        suspendedAt: null,
        createdAt: now,
        updatedAt: now,
      };
      const { apiKey, record } = generateApiKey(orgId, now);
      if ((await store.createOrganization(organization, record)) === 'issuer_taken') {
        throw new RialtoError('conflict', 'An organization is already registered for this issuer.');
      }
      forget(organization);
      events.emit('organization.created', { orgId, name: organization.name, issuer });
      events.emit('api_key.created', { orgId, keyId: record.keyId });
      return { organization, apiKey, apiKeyId: record.keyId };
    },

    async findByIssuer(iss) {
      const issuer = normalizeIssuer(iss);
      // A fresh hit is answered from get(): fetch() costs a promise chain per call even on a hit.
      return (byIssuer.get(issuer) ?? (await byIssuer.fetch(issuer)))?.org ?? null;
    },

    async get(orgId) {
      return (byId.get(orgId) ?? (await byId.fetch(orgId)))?.org ?? null;
    },

    async setAudience(orgId, audience) {
      const updated = await store.updateOrganization(
        orgId,
        { audience: normalizeAudience(audience) },
        epochSeconds(),
      );
      if (updated) {
        forget(updated);
        events.emit('organization.audience_updated', { orgId, audience: updated.audience });
      }
      return updated;
    },

    async requireActive(orgId) {
      const org = (byId.get(orgId) ?? (await byId.fetch(orgId)))?.org;
      if (!org) throw new RialtoError('invalid_api_key');
      if (org.suspendedAt !== null) throw new RialtoError('organization_suspended');
      return org;
    },

    async setSuspended(orgId, isSuspended) {
      const now = epochSeconds();
      const updated = await store.updateOrganization(orgId, { suspendedAt: isSuspended ? now : null }, now);
      if (updated) {
        forget(updated);
        events.emit(isSuspended ? 'organization.suspended' : 'organization.resumed', { orgId });
      }
      return updated;
    },

    async setProvisioning(orgId, provisioning) {
      const org = await store.getOrganization(orgId);
      if (!org) return null;
      checkProvisioning(provisioning, org.emailLinking);
      const updated = await store.updateOrganization(orgId, { provisioning }, epochSeconds());
      if (updated) {
        forget(updated);
        events.emit('organization.provisioning_updated', { orgId, provisioning });
      }
      return updated;
    },

    async remove(orgId) {
      const org = await store.getOrganization(orgId);
      const removed = await store.deleteOrganization(orgId);
      if (org) forget(org);
      byId.delete(orgId);
      if (removed) events.emit('organization.deleted', { orgId });
      return removed;
    },
  };
}
