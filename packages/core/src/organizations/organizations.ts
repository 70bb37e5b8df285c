import { randomUUID } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import { z } from 'zod';
import { RialtoError } from '../errors.js';
import { epochSeconds } from '../internal/clock.js';
import { printableText } from '../internal/control-characters.js';
import {
  type IssuerRegistrations,
  issuerConflict,
  issuerFields,
  registrationWarnings,
} from '../issuers/issuer-registrations.js';
import type {
  IssuerRegistrationRecord,
  OrganizationRecord,
  ProvisioningMode,
  Store,
} from '../store/store.js';
import type { RialtoEvents } from '../telemetry/audit-events.js';
import { generateApiKey } from './api-keys.js';
import { checkProvisioning } from './provisioning.js';

/** Every access token names this audience, whatever else an org adds. */
export const REQUIRED_AUDIENCE = 'identity';

export const PROVISIONING_MODES = ['create', 'link_only'] as const satisfies readonly ProvisioningMode[];

/** What an audience may look like: short, and safe in a space-separated `scope`. */
export const AUDIENCE_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$/;

const audienceSchema = z
  .array(z.string().regex(AUDIENCE_PATTERN, 'must be 1-64 letters, digits, ".", "_", ":" or "-"'))
  .max(32);

/** Body of `POST /identity/organizations`: the org and its first issuer. */
export const registrationSchema = z.strictObject({
  name: printableText.pipe(z.string().trim().min(1).max(200)),
  audience: audienceSchema.optional(),
  ...issuerFields,
  provisioning: z.enum(PROVISIONING_MODES).optional(),
  /** RFC 9449 §5.2: only DPoP-bound access tokens, from `POST /oauth/token` with a proof. @default false */
  dpop_bound_access_tokens: z.boolean().optional(),
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
  /**
   * How long an ended registration is remembered: longer than any refresh token begun with it can
   * live (see `endSessionsBegunWith`).
   */
  endedRegistrationRetentionSeconds: number;
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
   * @throws RialtoError `invalid_request` for `link_only` when an issuer of the org never links by email
   * @returns `null` when the org does not exist
   */
  setProvisioning(orgId: string, provisioning: ProvisioningMode): Promise<OrganizationRecord | null>;
  /**
   * Ends the refresh families begun with an issuer registration's tokens: their refresh tokens are
   * refused from now on, on this instance at once and on others within the lookup-cache TTL. The
   * organization's record keeps the registration id, and forgets ended ids no token can outlive.
   * Two of these at once for one organization can lose one of the ids (the list is read, then
   * written); ending issuer sessions is a rare operator action.
   * @returns `null` when the org does not exist
   */
  endSessionsBegunWith(orgId: string, registrationId: string): Promise<OrganizationRecord | null>;
  /** Requires DPoP-bound access tokens (RFC 9449 §5.2), or no longer. */
  setDpopBoundAccessTokens(orgId: string, required: boolean): Promise<OrganizationRecord | null>;
  /**
   * Removes the organization and everything stored for it (see `Store.deleteOrganization`).
   * @returns `false` when it did not exist
   */
  remove(orgId: string): Promise<boolean>;
}

/**
 * Whether the sessions begun with `registrationId` were ended when it was removed. Tokens minted
 * before registrations were recorded in them carry none: they continue.
 */
export function hasEndedSessionsOf(org: OrganizationRecord, registrationId: string | undefined): boolean {
  if (registrationId === undefined) return false;
  return (org.endedRegistrations ?? []).some((ended) => ended.registrationId === registrationId);
}

/** Body of `PATCH /identity/organizations/:org_id`. */
export const organizationPatchSchema = z
  .strictObject({
    provisioning: z.enum(PROVISIONING_MODES).optional(),
    dpop_bound_access_tokens: z.boolean().optional(),
  })
  .refine((patch) => patch.provisioning !== undefined || patch.dpop_bound_access_tokens !== undefined, {
    error: 'Give provisioning, dpop_bound_access_tokens or both.',
  });

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
      checkProvisioning(input.provisioning ?? 'create', [issuer]);
      const organization: OrganizationRecord = {
        orgId,
        name: input.name,
        audience: normalizeAudience(input.audience ?? []),
        provisioning: input.provisioning ?? 'create',
        suspendedAt: null,
        dpopBoundAccessTokens: input.dpop_bound_access_tokens ?? false,
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
        byId.delete(orgId);
        events.emit(isSuspended ? 'organization.suspended' : 'organization.resumed', { orgId });
      }
      return updated;
    },

    async setProvisioning(orgId, provisioning) {
      const org = await store.getOrganization(orgId);
      if (!org) return null;
      checkProvisioning(provisioning, await store.listIssuerRegistrations(orgId));
      const updated = await store.updateOrganization(orgId, { provisioning }, epochSeconds());
      if (updated) {
        byId.delete(orgId);
        events.emit('organization.provisioning_updated', { orgId, provisioning });
      }
      return updated;
    },

    async endSessionsBegunWith(orgId, registrationId) {
      const org = await store.getOrganization(orgId);
      if (!org) return null;
      const now = epochSeconds();
      const rememberedSince = now - options.endedRegistrationRetentionSeconds;
      const endedRegistrations = [
        ...(org.endedRegistrations ?? []).filter(
          (ended) => ended.endedAt >= rememberedSince && ended.registrationId !== registrationId,
        ),
        { registrationId, endedAt: now },
      ];
      const updated = await store.updateOrganization(orgId, { endedRegistrations }, now);
      if (updated) byId.delete(orgId);
      return updated;
    },

    async setDpopBoundAccessTokens(orgId, required) {
      const updated = await store.updateOrganization(
        orgId,
        { dpopBoundAccessTokens: required },
        epochSeconds(),
      );
      if (updated) byId.delete(orgId);
      return updated;
    },

    async remove(orgId) {
      const removed = await store.deleteOrganization(orgId);
      byId.delete(orgId);
      issuers.forget();
      if (removed) events.emit('organization.deleted', { orgId });
      return removed;
    },
  };
}
