import { randomUUID } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import { z } from 'zod';
import { generateApiKey } from './api-keys.js';
import { isAllowedRemoteUrl } from './discovery.js';
import { RialtoError } from './errors.js';
import type { RialtoEvents } from './events.js';
import { epochSeconds } from './internal/clock.js';
import { printableText } from './internal/control-characters.js';
import { assertIssuerAddress, issuerAddressPolicy } from './issuer-address.js';
import type { EmailLinkingPolicy, OrganizationRecord, Store } from './store.js';
import { ASYMMETRIC_ALGORITHMS } from './verify-id-token.js';

/** Every access token names this audience, whatever else an org adds. */
export const REQUIRED_AUDIENCE = 'identity';

const audienceSchema = z
  .array(
    z
      .string()
      .regex(/^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$/, 'must be 1-64 letters, digits, ".", "_", ":" or "-"'),
  )
  .max(32);

/** The linking policies an organization may choose. */
export const EMAIL_LINKING_POLICIES = [
  'verified',
  'unless_unverified',
  'never',
] as const satisfies readonly EmailLinkingPolicy[];

/** Body of `POST /identity/organizations`. */
export const registrationSchema = z.strictObject({
  name: printableText.pipe(z.string().trim().min(1).max(200)),
  issuer: printableText.pipe(z.string().max(2048)),
  audience: audienceSchema.optional(),
  client_ids: z
    .array(printableText.pipe(z.string().min(1).max(256)))
    .max(32)
    .optional(),
  allowed_algorithms: z.array(z.enum(ASYMMETRIC_ALGORITHMS)).min(1).optional(),
  email_linking: z.enum(EMAIL_LINKING_POLICIES).optional(),
});

/** Body of `PATCH /identity/auth/idp/:org_id`. */
export const audienceUpdateSchema = z.strictObject({ audience: audienceSchema });

export type OrganizationRegistration = z.infer<typeof registrationSchema>;

export interface RegisteredOrganization {
  organization: OrganizationRecord;
  /** Shown once; only its hash is stored. */
  apiKey: string;
  apiKeyId: string;
  /** What the registration allows that the admin should know about, e.g. no `client_ids`. */
  warnings: string[];
}

export interface OrganizationsOptions {
  allowInsecureIssuers: boolean;
  allowPrivateIssuers: boolean;
  defaultEmailLinking: EmailLinkingPolicy;
  requireClientIds: boolean;
  cacheTtlSeconds: number;
  maxCachedOrgs: number;
}

export interface Organizations {
  /**
   * Registers an organization and issues its first API key.
   * @throws RialtoError `invalid_request` (also when `requireClientIds` is set and `client_ids` is
   *   empty) or `conflict` (issuer already registered, compared after `normalizeIssuer`)
   */
  register(input: OrganizationRegistration): Promise<RegisteredOrganization>;
  /**
   * @returns the org registered for a token's `iss`, compared after `normalizeIssuer`; issuers
   *   stored before that normalization existed are found by their stored spelling.
   */
  findByIssuer(iss: string): Promise<OrganizationRecord | null>;
  get(orgId: string): Promise<OrganizationRecord | null>;
  /** Replaces the audience list, keeping `identity`. @returns `null` when the org does not exist. */
  setAudience(orgId: string, audience: string[]): Promise<OrganizationRecord | null>;
}

/**
 * The one spelling of an issuer URL that uniqueness is decided on: scheme and host lower-case (as
 * the URL parser leaves them), default port dropped, trailing slashes of the path removed (Auth0
 * issuers end in `/`, most others do not, and both name one IdP). The path keeps its case: it is
 * case-sensitive. A string that is not a URL is returned with its trailing slashes removed.
 */
export function normalizeIssuer(issuer: string): string {
  if (!URL.canParse(issuer)) return issuer.replace(/\/+$/, '');
  const url = new URL(issuer);
  const credentials = url.username || url.password ? `${url.username}:${url.password}@` : '';
  const path = url.pathname.replace(/\/+$/, '');
  return `${url.protocol}//${credentials}${url.host}${path}${url.search}${url.hash}`;
}

/** How issuers were keyed before `normalizeIssuer`: one trailing slash removed, nothing else. */
function legacyIssuerKey(issuer: string): string {
  return issuer.endsWith('/') ? issuer.slice(0, -1) : issuer;
}

const NO_CLIENT_IDS_WARNING =
  'No client_ids were given: ID tokens issued to any client of this issuer will be accepted, including other applications using the same identity provider. Register the client ids of your application.';

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
    // Keyed by the token's spelling: a fresh hit costs no URL parsing. Organizations stored before
    // issuers were normalized keep the spelling they were registered with, hence the second read.
    fetchMethod: async (issuerKey) => {
      const canonical = normalizeIssuer(issuerKey);
      const org =
        (await store.findOrganizationByIssuer(canonical)) ??
        (canonical === issuerKey ? null : await store.findOrganizationByIssuer(issuerKey));
      return { org };
    },
  });
  const byId = new LRUCache<string, { org: OrganizationRecord | null }>({
    max: options.maxCachedOrgs,
    ttl: options.cacheTtlSeconds * 1000,
    // Compare against the clock directly instead of arming a timer per lookup.
    ttlResolution: 0,
    fetchMethod: async (orgId) => ({ org: await store.getOrganization(orgId) }),
  });

  function forget(org: OrganizationRecord) {
    // A registration changes what any spelling of its issuer finds.
    byIssuer.clear();
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
      const issuerUrl = new URL(issuer);
      if (issuerUrl.username || issuerUrl.password || issuerUrl.search || issuerUrl.hash) {
        // OIDC Discovery §2: an issuer has no query or fragment; credentials would be sent to the IdP.
        throw new RialtoError(
          'invalid_request',
          'The issuer must not contain credentials, a query or a fragment.',
        );
      }
      const clientIds = [...new Set(input.client_ids ?? [])];
      if (clientIds.length === 0 && options.requireClientIds) {
        throw new RialtoError(
          'invalid_request',
          'client_ids: this service requires the client ids your ID tokens are issued to.',
        );
      }
      await assertIssuerAddress(new URL(issuer), issuerAddressPolicy(options.allowPrivateIssuers));
      const now = epochSeconds();
      const orgId = randomUUID();
      const organization: OrganizationRecord = {
        orgId,
        name: input.name,
        issuer,
        audience: normalizeAudience(input.audience ?? []),
        clientIds,
        allowedAlgorithms: input.allowed_algorithms ?? [...ASYMMETRIC_ALGORITHMS],
        emailLinking: input.email_linking ?? options.defaultEmailLinking,
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
      const warnings = clientIds.length === 0 ? [NO_CLIENT_IDS_WARNING] : [];
      return { organization, apiKey, apiKeyId: record.keyId, warnings };
    },

    async findByIssuer(iss) {
      const issuer = legacyIssuerKey(iss);
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
