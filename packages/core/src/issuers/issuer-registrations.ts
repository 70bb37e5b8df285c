import { randomUUID } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import { z } from 'zod';
import { RialtoError } from '../errors.js';
import { ASYMMETRIC_ALGORITHMS } from '../exchange/id-token.js';
import { epochSeconds } from '../internal/clock.js';
import { printableIdentifier } from '../internal/control-characters.js';
import { checkProvisioning } from '../organizations/provisioning.js';
import { exchangePolicyFields, exchangePolicySchema } from '../policy/policy-schema.js';
import { policyOf } from '../store/kit/legacy-defaults.js';
import type {
  EmailLinkingPolicy,
  IssuerRegistrationConflict,
  IssuerRegistrationRecord,
  LinkScope,
  Store,
} from '../store/store.js';
import type { RialtoEvents } from '../telemetry/audit-events.js';
import type { Logger } from '../telemetry/logger.js';
import { isAllowedRemoteUrl } from './discovery.js';
import { assertIssuerAddress, issuerAddressPolicy } from './issuer-address.js';
import { diffIssuerPolicies, issuerPolicyRecord } from './issuer-policies.js';

/** The link scopes an issuer registration may choose (`LinkScope`). */
export const LINK_SCOPES = ['issuer', 'org'] as const satisfies readonly LinkScope[];

/**
 * New registrations link only within their own issuer unless the operator says otherwise: an
 * organization's issuers are often run by different people (a staff IdP beside the customers'),
 * and an IdP whose users can get any verified email (its admins create them) could otherwise claim
 * every account first seen through another issuer. Registrations stored before link scopes keep
 * `org`, the behaviour they had.
 */
export const DEFAULT_LINK_SCOPE: LinkScope = 'issuer';

/** The linking policies an issuer registration may choose. */
export const EMAIL_LINKING_POLICIES = [
  'verified',
  'unless_unverified',
  'never',
] as const satisfies readonly EmailLinkingPolicy[];

/** The subject claim when a registration names none: OIDC Core's stable identifier of the user. */
export const DEFAULT_SUBJECT_CLAIM = 'sub';

/**
 * Claims that identity providers define as a stable, never reassigned identifier of one user, with
 * where each says so. Any other claim may be chosen only with `unsafe_subject_claim: true`: two
 * people sharing its value (as with `locale`) would become one user.
 */
export const SAFE_SUBJECT_CLAIMS: Readonly<Record<string, string>> = {
  // "Locally unique and never reassigned identifier within the Issuer for the End-User"; Google,
  // Okta, Auth0, Keycloak, Cognito, Apple and Login.gov key users on it.
  sub: 'OpenID Connect Core 1.0, sections 2 and 5.7',
  // "The immutable identifier for the requestor ... the same across applications"; Entra's `sub`
  // is pairwise (it differs per application), so `oid` is what ties one person across clients.
  oid: 'Microsoft Entra ID, ID token claims reference (oid)',
};

export function isSafeSubjectClaim(claim: string): boolean {
  return Object.hasOwn(SAFE_SUBJECT_CLAIMS, claim);
}

const SAFE_CLAIM_NAMES = Object.keys(SAFE_SUBJECT_CLAIMS).join(', ');

const NO_CLIENT_IDS_WARNING =
  'No client_ids were given: ID tokens issued to any client of this issuer will be accepted, including other applications using the same identity provider. Register the client ids of your application.';

const unsafeSubjectClaimWarning = (claim: string) =>
  `subject_claim "${claim}" is not a claim identity providers define as a stable, unique user identifier (${SAFE_CLAIM_NAMES}): two people sharing its value become one user. Use one of those unless the IdP guarantees "${claim}" is unique and never reassigned.`;

/**
 * What an admin should know about a registration, shown when it is made and whenever it is read:
 * that it trusts every client, or keys users on a claim outside `SAFE_SUBJECT_CLAIMS`.
 */
export function registrationWarnings(registration: IssuerRegistrationRecord): string[] {
  return [
    ...(registration.clientIds.length === 0 ? [NO_CLIENT_IDS_WARNING] : []),
    ...(isSafeSubjectClaim(registration.subjectClaim)
      ? []
      : [unsafeSubjectClaimWarning(registration.subjectClaim)]),
  ];
}

// Claims that are mutable, user-chosen, or about the token rather than the user: keying users on
// them would let a renamed account, or any token of the issuer, take over another user.
const UNFIT_SUBJECT_CLAIMS = new Set([
  'iss',
  'aud',
  'azp',
  'exp',
  'iat',
  'nbf',
  'jti',
  'nonce',
  'auth_time',
  'acr',
  'amr',
  'sid',
  'at_hash',
  'c_hash',
  'typ',
  'email',
  'email_verified',
  'preferred_username',
  'upn',
  'unique_name',
  'name',
  'given_name',
  'family_name',
  'nickname',
  'phone_number',
]);

/**
 * The issuer fields of a registration body, shared by `POST /identity/organizations` (the first
 * issuer) and `POST /identity/organizations/:org_id/issuers` (any further one).
 */
export const issuerFields = {
  issuer: printableIdentifier.pipe(z.string().max(2048)),
  client_ids: z
    .array(printableIdentifier.pipe(z.string().min(1).max(256)))
    .max(32)
    .optional(),
  allowed_algorithms: z.array(z.enum(ASYMMETRIC_ALGORITHMS)).min(1).optional(),
  email_linking: z.enum(EMAIL_LINKING_POLICIES).optional(),
  subject_claim: z
    .string()
    .regex(/^[A-Za-z_][A-Za-z0-9_.:-]{0,63}$/, 'must be a claim name')
    .refine(
      (claim) => !UNFIT_SUBJECT_CLAIMS.has(claim),
      'must be a stable user identifier such as sub or oid',
    )
    .optional(),
  /** Allows a `subject_claim` outside `SAFE_SUBJECT_CLAIMS`; the registration then carries a warning. */
  unsafe_subject_claim: z.boolean().optional(),
  trust_username_claims: z.boolean().optional(),
  /** Which users linking by email may join this issuer's identities to (`LinkScope`). */
  link_scope: z.enum(LINK_SCOPES).optional(),
  // The exchange policy: `condition` and `claim_mappings` (docs/exchange-policy.md).
  ...exchangePolicyFields,
};

/** Body of `POST /identity/organizations/:org_id/issuers`, and of the host's `addIssuer()`. */
export const issuerRegistrationSchema = z.strictObject(issuerFields);

export type IssuerRegistrationInput = z.infer<typeof issuerRegistrationSchema>;

/**
 * Query of `DELETE /identity/organizations/:org_id/issuers/:issuer_id`: `end_sessions=true` also
 * ends the refresh families begun with the registration's tokens; by default they continue.
 */
export const issuerRemovalQuerySchema = z.strictObject({
  end_sessions: z.enum(['true', 'false'], { error: 'must be true or false' }).optional(),
});

/**
 * Body of `PATCH /identity/organizations/:org_id/issuers/:issuer_id`: the policy fields to change,
 * at least one; `null` removes a condition or the mappings, an absent field stays as it is.
 */
export const issuerPolicyPatchSchema = exchangePolicySchema
  .extend({ link_scope: issuerFields.link_scope })
  .refine(
    (patch) =>
      patch.condition !== undefined || patch.claim_mappings !== undefined || patch.link_scope !== undefined,
    'give condition, claim_mappings, link_scope or a combination',
  );

export type IssuerPolicyPatch = z.infer<typeof issuerPolicyPatchSchema>;

/**
 * Who changed a policy, for its audit event: the service admin through the HTTP API (the admin
 * token or `authorizeAdmin`), or the host's own code through the facade.
 */
export type PolicyChangedBy = 'admin_api' | 'host';

// Concurrent changes of one registration retry on the version they lost to; this many losses in a
// row means something keeps changing it, and the caller is told to retry.
const MAX_POLICY_CHANGE_ATTEMPTS = 5;

export interface IssuerRegistrationsOptions {
  allowInsecureIssuers: boolean;
  allowPrivateIssuers: boolean;
  defaultEmailLinking: EmailLinkingPolicy;
  requireClientIds: boolean;
  cacheTtlSeconds: number;
  maxCachedOrgs: number;
  /** Told once per process about each registration in use whose subject claim is unsafe. */
  logger: Pick<Logger, 'warn'>;
}

/** The issuers each organization trusts, and which registration an ID token belongs to. */
export interface IssuerRegistrations {
  /**
   * Validates a registration body into a record for `orgId`, without storing it.
   * @throws RialtoError `invalid_request` when the issuer is not an allowed URL or address, or
   *   when `requireClientIds` is set and `client_ids` is empty
   */
  build(orgId: string, input: IssuerRegistrationInput, now: number): Promise<IssuerRegistrationRecord>;
  /**
   * Adds a registration to an existing organization.
   * @throws RialtoError `not_found` (no such org), `invalid_request` (also: email linking `never`
   *   in a `link_only` org) or `conflict`
   */
  add(orgId: string, input: IssuerRegistrationInput): Promise<IssuerRegistrationRecord>;
  /** @returns the org's registrations, oldest first. */
  list(orgId: string): Promise<IssuerRegistrationRecord[]>;
  /**
   * Changes a registration's exchange policy: the next version, compiled and checked first, with
   * an `organization.issuer_policy_changed` event saying what changed and who changed it. A patch
   * that changes nothing writes nothing and returns the registration as it is. This instance uses
   * the new version at once, others within the lookup-cache TTL.
   * @throws RialtoError `not_found` (no such org or registration), `invalid_request` (a compile
   *   error with its position, a reserved claim name, the cost limit), `conflict` when concurrent
   *   changes kept winning
   */
  changePolicy(
    orgId: string,
    registrationId: string,
    patch: IssuerPolicyPatch,
    changedBy: PolicyChangedBy,
  ): Promise<IssuerRegistrationRecord>;
  /**
   * Removes a registration; this instance stops accepting its tokens at once, others within the
   * lookup-cache TTL. `endSessions` is what the audit event records: the caller ended them before.
   * @returns `false` when the org has no such registration.
   */
  remove(orgId: string, registrationId: string, options?: { endSessions?: boolean }): Promise<boolean>;
  /**
   * The registration of `orgId` an ID token belongs to, from its unverified `iss` and `aud`, before
   * anything is fetched from the issuer. When the org registers the issuer but none of the named
   * clients, its registration is returned and the verifier's audience check refuses the token.
   * @throws RialtoError `invalid_issuer` (no `iss`), `org_mismatch` (the issuer and client belong to
   *   another org) or `issuer_not_registered` (to none)
   */
  resolve(orgId: string, iss: unknown, aud: unknown): Promise<IssuerRegistrationRecord>;
  /**
   * Drops this instance's cached issuer lookups, after a change to any registration: they are keyed
   * by the token's spelling, so any cached spelling may name the changed issuer.
   */
  forget(): void;
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

/** Says why the store refused a registration, in terms an admin can act on. */
export function issuerConflict(conflict: IssuerRegistrationConflict): RialtoError {
  const descriptions: Record<IssuerRegistrationConflict, string> = {
    duplicate: 'The organization already registers this issuer; remove that registration to change it.',
    issuer_taken:
      'The issuer is already registered. Organizations share an issuer only when each names its client_ids; a registration without client_ids trusts every client of the issuer and cannot be shared.',
    client_id_taken: 'One of the client_ids is already registered for this issuer.',
  };
  return new RialtoError('conflict', descriptions[conflict]);
}

export function createIssuerRegistrations(
  store: Store,
  events: RialtoEvents,
  options: IssuerRegistrationsOptions,
): IssuerRegistrations {
  // Every exchange resolves its issuer here: registrations stay in process briefly, and empty
  // results are cached too, so tokens naming unknown issuers cannot be used to hammer the store.
  const byIssuer = new LRUCache<string, { registrations: IssuerRegistrationRecord[] }>({
    max: options.maxCachedOrgs,
    ttl: options.cacheTtlSeconds * 1000,
    // Compare against the clock directly instead of arming a timer per lookup.
    ttlResolution: 0,
    // Keyed by the token's spelling: a fresh hit costs no URL parsing. Registrations stored before
    // issuers were normalized keep the spelling they were registered with, hence the second read.
    fetchMethod: async (issuerKey) => {
      const canonical = normalizeIssuer(issuerKey);
      const legacy = legacyIssuerKey(issuerKey);
      const registrations = await store.findIssuerRegistrations(canonical);
      return {
        registrations:
          registrations.length > 0 || canonical === legacy
            ? registrations
            : await store.findIssuerRegistrations(legacy),
      };
    },
  });

  // Registrations stored before the allow-list keep working, never silently changed; the operator
  // hears about each once per process, when it first serves a token (there is no start-up scan).
  const reportedUnsafe = new Set<string>();
  function reportUnsafeSubjectClaim(registration: IssuerRegistrationRecord): IssuerRegistrationRecord {
    if (!isSafeSubjectClaim(registration.subjectClaim) && !reportedUnsafe.has(registration.registrationId)) {
      reportedUnsafe.add(registration.registrationId);
      options.logger.warn(
        {
          orgId: registration.orgId,
          registrationId: registration.registrationId,
          subjectClaim: registration.subjectClaim,
        },
        unsafeSubjectClaimWarning(registration.subjectClaim),
      );
    }
    return registration;
  }

  async function registrationsOf(issuer: string): Promise<IssuerRegistrationRecord[]> {
    // A fresh hit is answered from get(): fetch() costs a promise chain per call even on a hit.
    return (byIssuer.get(issuer) ?? (await byIssuer.fetch(issuer)))?.registrations ?? [];
  }

  async function build(
    orgId: string,
    input: IssuerRegistrationInput,
    now: number,
  ): Promise<IssuerRegistrationRecord> {
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
    const subjectClaim = input.subject_claim ?? DEFAULT_SUBJECT_CLAIM;
    if (!isSafeSubjectClaim(subjectClaim) && input.unsafe_subject_claim !== true) {
      throw new RialtoError(
        'invalid_request',
        `subject_claim: "${subjectClaim}" is not a claim identity providers define as a stable, unique user identifier (${SAFE_CLAIM_NAMES}); two people sharing its value would become one user. Set unsafe_subject_claim: true only if the IdP guarantees it is unique and never reassigned.`,
      );
    }
    const clientIds = [...new Set(input.client_ids ?? [])];
    if (clientIds.length === 0 && options.requireClientIds) {
      throw new RialtoError(
        'invalid_request',
        'client_ids: this service requires the client ids your ID tokens are issued to.',
      );
    }
    await assertIssuerAddress(issuerUrl, issuerAddressPolicy(options.allowPrivateIssuers));
    return {
      registrationId: randomUUID(),
      orgId,
      issuer,
      clientIds,
      allowedAlgorithms: input.allowed_algorithms ?? [...ASYMMETRIC_ALGORITHMS],
      emailLinking: input.email_linking ?? options.defaultEmailLinking,
      subjectClaim,
      trustUsernameClaims: input.trust_username_claims ?? false,
      policy: issuerPolicyRecord(input, 1, input.link_scope ?? DEFAULT_LINK_SCOPE),
      createdAt: now,
      updatedAt: now,
    };
  }

  function forget() {
    byIssuer.clear();
  }

  return {
    build,
    forget,

    async add(orgId, input) {
      const org = await store.getOrganization(orgId);
      if (!org) throw new RialtoError('not_found', 'No such organization.');
      const record = await build(orgId, input, epochSeconds());
      checkProvisioning(org.provisioning, [record]);
      const outcome = await store.addIssuerRegistration(record);
      if (outcome !== 'added') throw issuerConflict(outcome);
      forget();
      events.emit('organization.issuer_added', {
        orgId,
        registrationId: record.registrationId,
        issuer: record.issuer,
      });
      return record;
    },

    list: (orgId) => store.listIssuerRegistrations(orgId),

    async changePolicy(orgId, registrationId, patch, changedBy) {
      for (let attempts = 1; ; attempts++) {
        const current = (await store.listIssuerRegistrations(orgId)).find(
          (candidate) => candidate.registrationId === registrationId,
        );
        if (!current) throw new RialtoError('not_found', 'No such issuer registration.');
        const before = policyOf(current);
        const after = issuerPolicyRecord(
          {
            condition: patch.condition === undefined ? before.condition : patch.condition,
            claim_mappings: patch.claim_mappings === undefined ? before.claimMappings : patch.claim_mappings,
          },
          before.version + 1,
          patch.link_scope ?? before.linkScope,
        );
        const diff = diffIssuerPolicies(before, after);
        if (Object.keys(diff).length === 0) return current;
        const updated = await store.replaceIssuerPolicy(orgId, registrationId, after, epochSeconds());
        if (updated === 'not_found') throw new RialtoError('not_found', 'No such issuer registration.');
        if (updated === 'version_conflict') {
          if (attempts >= MAX_POLICY_CHANGE_ATTEMPTS) {
            throw new RialtoError(
              'conflict',
              'The policy was changed concurrently by another request; read it again and retry.',
            );
          }
          continue;
        }
        forget();
        events.emit('organization.issuer_policy_changed', {
          orgId,
          registrationId,
          issuer: updated.issuer,
          version: after.version,
          changes: diff,
          changedBy,
        });
        return updated;
      }
    },

    async remove(orgId, registrationId, options) {
      const registration = (await store.listIssuerRegistrations(orgId)).find(
        (candidate) => candidate.registrationId === registrationId,
      );
      if (!registration || !(await store.removeIssuerRegistration(orgId, registrationId))) return false;
      forget();
      events.emit('organization.issuer_removed', {
        orgId,
        registrationId,
        issuer: registration.issuer,
        endSessions: options?.endSessions ?? false,
      });
      return true;
    },

    async resolve(orgId, iss, aud) {
      if (typeof iss !== 'string' || iss.length === 0) {
        throw new RialtoError('invalid_issuer', 'The token must contain an iss claim.');
      }
      const registrations = await registrationsOf(iss);
      const audiences = typeof aud === 'string' ? [aud] : Array.isArray(aud) ? aud : [];
      const claims = (registration: IssuerRegistrationRecord) =>
        registration.clientIds.length === 0 ||
        registration.clientIds.some((clientId) => audiences.includes(clientId));
      let own: IssuerRegistrationRecord | undefined;
      let isOtherOrgs = false;
      for (const registration of registrations) {
        if (registration.orgId !== orgId) isOtherOrgs ||= claims(registration);
        else if (claims(registration)) return reportUnsafeSubjectClaim(registration);
        else own = registration;
      }
      if (isOtherOrgs) {
        throw new RialtoError(
          'org_mismatch',
          "The token's issuer and client are registered to a different organization than the API key's.",
        );
      }
      if (own) return reportUnsafeSubjectClaim(own);
      throw new RialtoError('issuer_not_registered');
    },
  };
}
