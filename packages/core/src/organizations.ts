import { randomUUID } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import { z } from 'zod';
import { generateApiKey } from './api-keys.js';
import { isAllowedRemoteUrl } from './discovery.js';
import { RialtoError } from './errors.js';
import type { RialtoEvents } from './events.js';
import { epochSeconds } from './internal/clock.js';
import type { EmailLinkingPolicy, OrganizationRecord, Store } from './store.js';
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
      const now = epochSeconds();
      const orgId = randomUUID();
      const organization: OrganizationRecord = {
        orgId,
        name: input.name,
        issuer,
        audience: normalizeAudience(input.audience ?? []),
        clientIds: [...new Set(input.client_ids ?? [])],
        allowedAlgorithms: input.allowed_algorithms ?? [...ASYMMETRIC_ALGORITHMS],
        emailLinking: input.email_linking ?? options.defaultEmailLinking,
        provisioning: 'create',
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
  };
}
