import { randomUUID } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import { z } from 'zod';
import { generateApiKey } from './api-keys.js';
import type { RialtoEvents } from './events.js';
import { epochSeconds } from './internal/clock.js';
import { printableText } from './internal/control-characters.js';
import {
  type IssuerRegistrations,
  issuerConflict,
  issuerFields,
  registrationWarnings,
} from './issuer-registrations.js';
import type { IssuerRegistrationRecord, OrganizationRecord, Store } from './store.js';

/** Every access token names this audience, whatever else an org adds. */
export const REQUIRED_AUDIENCE = 'identity';

const audienceSchema = z
  .array(
    z
      .string()
      .regex(/^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$/, 'must be 1-64 letters, digits, ".", "_", ":" or "-"'),
  )
  .max(32);

/** Body of `POST /identity/organizations`: the org and its first issuer. */
export const registrationSchema = z.strictObject({
  name: printableText.pipe(z.string().trim().min(1).max(200)),
  audience: audienceSchema.optional(),
  ...issuerFields,
});

/** Body of `PATCH /identity/auth/idp/:org_id`. */
export const audienceUpdateSchema = z.strictObject({ audience: audienceSchema });

export type OrganizationRegistration = z.infer<typeof registrationSchema>;

export interface RegisteredOrganization {
  organization: OrganizationRecord;
  /** The first issuer, registered with the organization. */
  issuer: IssuerRegistrationRecord;
  /** Shown once; only its hash is stored. */
  apiKey: string;
  apiKeyId: string;
  /** What the registration allows that the admin should know about, e.g. no `client_ids`. */
  warnings: string[];
}

export interface OrganizationsOptions {
  cacheTtlSeconds: number;
  maxCachedOrgs: number;
}

export interface Organizations {
  /**
   * Registers an organization with its first issuer and issues its first API key.
   * @throws RialtoError `invalid_request` or `conflict` (the issuer or a client id is taken)
   */
  register(input: OrganizationRegistration): Promise<RegisteredOrganization>;
  get(orgId: string): Promise<OrganizationRecord | null>;
  /** Replaces the audience list, keeping `identity`. @returns `null` when the org does not exist. */
  setAudience(orgId: string, audience: string[]): Promise<OrganizationRecord | null>;
}

/** Deduplicates, keeping order, with `identity` always first. */
export function normalizeAudience(audience: readonly string[]): string[] {
  return [...new Set([REQUIRED_AUDIENCE, ...audience])];
}

export function createOrganizations(
  store: Store,
  events: RialtoEvents,
  issuers: IssuerRegistrations,
  options: OrganizationsOptions,
): Organizations {
  // Minting reads the org's name and audience on every exchange: keep it in process briefly.
  const byId = new LRUCache<string, { org: OrganizationRecord | null }>({
    max: options.maxCachedOrgs,
    ttl: options.cacheTtlSeconds * 1000,
    // Compare against the clock directly instead of arming a timer per lookup.
    ttlResolution: 0,
    fetchMethod: async (orgId) => ({ org: await store.getOrganization(orgId) }),
  });

  return {
    async register(input) {
      const now = epochSeconds();
      const orgId = randomUUID();
      const issuer = await issuers.build(orgId, input, now);
      const organization: OrganizationRecord = {
        orgId,
        name: input.name,
        audience: normalizeAudience(input.audience ?? []),
        createdAt: now,
        updatedAt: now,
      };
      const { apiKey, record } = generateApiKey(orgId, now);
      const outcome = await store.createOrganization(organization, record, issuer);
      if (outcome !== 'created') throw issuerConflict(outcome);
      byId.delete(orgId);
      issuers.forget();
      events.emit('organization.created', { orgId, name: organization.name, issuer: issuer.issuer });
      events.emit('api_key.created', { orgId, keyId: record.keyId });
      return { organization, issuer, apiKey, apiKeyId: record.keyId, warnings: registrationWarnings(issuer) };
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
        byId.delete(orgId);
        events.emit('organization.audience_updated', { orgId, audience: updated.audience });
      }
      return updated;
    },
  };
}
