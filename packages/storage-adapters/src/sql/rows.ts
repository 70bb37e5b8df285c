import type {
  ApiKeyRecord,
  IssuerPolicyRecord,
  IssuerRegistrationRecord,
  OrganizationRecord,
  RefreshTokenRecord,
  SigningKeyRecord,
  SigningKeyUse,
  UserRecord,
  UserVerification,
  WebhookDeliveryRecord,
  WebhookSubscriptionPatch,
  WebhookSubscriptionRecord,
} from '@rialto-exchange/core';
import { storeKit, verificationFlags } from '@rialto-exchange/core';
import type { Selectable } from 'kysely';
import { emailKey, orgIssuerKey, sha256 } from './lookup-keys.js';
import type { Database } from './schema.js';

/*
 * Records to rows and back. Timestamps come back from some drivers as strings or bigints, booleans
 * as 0 and 1, lists as JSON text: every read goes through these.
 */

/** The issuer columns keep a snapshot of the first issuer, for readers of the pre-version-3 schema. */
export function fromOrganization(org: OrganizationRecord, firstIssuer: IssuerRegistrationRecord) {
  return {
    org_id: org.orgId,
    issuer: firstIssuer.issuer,
    // Unique since version 1; issuers are no longer unique per org, so it holds a per-org value.
    issuer_key: sha256(JSON.stringify(['org', org.orgId])),
    name: org.name,
    audience: JSON.stringify(org.audience),
    client_ids: JSON.stringify(firstIssuer.clientIds),
    allowed_algorithms: JSON.stringify(firstIssuer.allowedAlgorithms),
    email_linking: firstIssuer.emailLinking,
    provisioning: org.provisioning,
    suspended_at: org.suspendedAt,
    dpop_bound_access_tokens: org.dpopBoundAccessTokens ? 1 : 0,
    ended_registrations: endedRegistrationsColumn(org.endedRegistrations),
    created_at: org.createdAt,
    updated_at: org.updatedAt,
  };
}

export function endedRegistrationsColumn(ended: OrganizationRecord['endedRegistrations']): string | null {
  return ended === undefined ? null : JSON.stringify(ended);
}

export function toOrganization(row: Selectable<Database['organizations']>): OrganizationRecord {
  return {
    orgId: row.org_id,
    name: row.name,
    audience: JSON.parse(row.audience),
    provisioning: row.provisioning as OrganizationRecord['provisioning'],
    suspendedAt: row.suspended_at === null ? null : Number(row.suspended_at),
    dpopBoundAccessTokens: Boolean(row.dpop_bound_access_tokens),
    ...(row.ended_registrations === null || row.ended_registrations === undefined
      ? {}
      : { endedRegistrations: JSON.parse(row.ended_registrations) }),
    createdAt: Number(row.created_at),
    updatedAt: Number(row.updated_at),
  };
}

export function fromIssuerRegistration(record: IssuerRegistrationRecord) {
  return {
    registration_id: record.registrationId,
    org_id: record.orgId,
    issuer: record.issuer,
    issuer_key: sha256(record.issuer),
    org_issuer_key: orgIssuerKey(record.orgId, record.issuer),
    client_ids: JSON.stringify(record.clientIds),
    allowed_algorithms: JSON.stringify(record.allowedAlgorithms),
    email_linking: record.emailLinking,
    subject_claim: record.subjectClaim,
    trust_username_claims: record.trustUsernameClaims ? 1 : 0,
    ...fromIssuerPolicy(storeKit.policyOf(record)),
    created_at: record.createdAt,
    updated_at: record.updatedAt,
  };
}

/** The policy columns of a registration row. */
export function fromIssuerPolicy(policy: IssuerPolicyRecord) {
  return {
    policy_condition: policy.condition,
    policy_claim_mappings: JSON.stringify(policy.claimMappings),
    policy_version: policy.version,
    policy_link_scope: policy.linkScope ?? null,
  };
}

export function toIssuerRegistration(
  row: Selectable<Database['issuer_registrations']>,
): IssuerRegistrationRecord {
  return {
    registrationId: row.registration_id,
    orgId: row.org_id,
    issuer: row.issuer,
    clientIds: JSON.parse(row.client_ids),
    allowedAlgorithms: JSON.parse(row.allowed_algorithms),
    emailLinking: row.email_linking as IssuerRegistrationRecord['emailLinking'],
    subjectClaim: row.subject_claim,
    trustUsernameClaims: Boolean(row.trust_username_claims),
    ...(Number(row.policy_version) === 0
      ? {}
      : {
          policy: {
            condition: row.policy_condition,
            claimMappings: row.policy_claim_mappings === null ? {} : JSON.parse(row.policy_claim_mappings),
            ...(row.policy_link_scope === null
              ? {}
              : { linkScope: row.policy_link_scope as IssuerPolicyRecord['linkScope'] }),
            version: Number(row.policy_version),
          },
        }),
    createdAt: Number(row.created_at),
    updatedAt: Number(row.updated_at),
  };
}

export function toApiKey(row: Selectable<Database['api_keys']>): ApiKeyRecord {
  return {
    keyId: row.key_id,
    orgId: row.org_id,
    hash: row.hash,
    createdAt: Number(row.created_at),
    revokedAt: row.revoked_at === null ? null : Number(row.revoked_at),
  };
}

// better-sqlite3 cannot bind booleans; 0 and 1 are valid input for every dialect's BOOLEAN.
export const flag = (value: boolean) => (value ? 1 : 0);

/** The statuses, and the migration-1 flag columns kept in step so that they never disagree. */
export function verificationColumns(state: UserVerification) {
  const flags = verificationFlags(state);
  return {
    onboarding_completed: flag(state.onboardingCompleted),
    kyc_status: state.kycStatus,
    accreditation_status: state.accreditationStatus,
    kyc_completed: flag(flags.kycCompleted),
    accredited: flag(flags.accredited),
    accreditation_verified: flag(flags.accreditationVerified),
  };
}

export function fromUser(user: UserRecord) {
  return {
    user_id: user.userId,
    org_id: user.orgId,
    email: user.email,
    email_key: emailKey(user.orgId, user.email),
    role: user.role,
    first_seen_through: fromFirstSeenThrough(user.firstSeenThrough),
    ...verificationColumns(user),
    created_at: user.createdAt,
    updated_at: user.updatedAt,
  };
}

export function toUser(row: Selectable<Database['users']>): UserRecord {
  return {
    userId: row.user_id,
    orgId: row.org_id,
    email: row.email,
    role: row.role as UserRecord['role'],
    ...(row.first_seen_through === null ? {} : { firstSeenThrough: row.first_seen_through || null }),
    onboardingCompleted: Boolean(row.onboarding_completed),
    kycStatus: row.kyc_status as UserRecord['kycStatus'],
    accreditationStatus: row.accreditation_status as UserRecord['accreditationStatus'],
    createdAt: Number(row.created_at),
    updatedAt: Number(row.updated_at),
  };
}

/** `null` (claimable) is '', unknown (absent) is NULL: a registration id is never empty. */
export function fromFirstSeenThrough(firstSeenThrough: string | null | undefined): string | null {
  return firstSeenThrough === undefined ? null : (firstSeenThrough ?? '');
}

export function fromRefreshToken(record: RefreshTokenRecord) {
  return {
    jti: record.jti,
    family_id: record.familyId,
    org_id: record.orgId,
    user_id: record.userId,
    issued_at: record.issuedAt,
    expires_at: record.expiresAt,
    kid: record.kid,
  };
}

/** For rows with `issued_at` and `kid`: successors are always saved after migration 3. */
export function toRefreshToken(
  row: Pick<Selectable<Database['refresh_tokens']>, keyof ReturnType<typeof fromRefreshToken>>,
): RefreshTokenRecord {
  return {
    jti: row.jti,
    familyId: row.family_id,
    orgId: row.org_id,
    userId: row.user_id,
    issuedAt: Number(row.issued_at),
    expiresAt: Number(row.expires_at),
    kid: row.kid ?? '',
  };
}

export function fromSigningKey(key: SigningKeyRecord) {
  return {
    key_use: key.use,
    kid: key.kid,
    alg: key.alg,
    private_jwk: JSON.stringify(key.privateJwk),
    created_at: key.createdAt,
  };
}

export function toSigningKey(row: Selectable<Database['signing_keys']>): SigningKeyRecord {
  return {
    kid: row.kid,
    use: row.key_use as SigningKeyUse,
    alg: row.alg,
    privateJwk: JSON.parse(row.private_jwk),
    createdAt: Number(row.created_at),
  };
}

export const nullableNumber = (value: number | string | null) => (value === null ? null : Number(value));

export function fromSubscription(record: WebhookSubscriptionRecord) {
  return {
    subscription_id: record.subscriptionId,
    org_id: record.orgId,
    url: record.url,
    description: record.description,
    event_types: JSON.stringify(record.eventTypes),
    secret: record.secret,
    previous_secret: record.previousSecret,
    previous_secret_expires_at: record.previousSecretExpiresAt,
    disabled_at: record.disabledAt,
    created_at: record.createdAt,
    updated_at: record.updatedAt,
  };
}

export function subscriptionColumns(patch: WebhookSubscriptionPatch) {
  return {
    ...(patch.eventTypes === undefined ? {} : { event_types: JSON.stringify(patch.eventTypes) }),
    ...(patch.secret === undefined ? {} : { secret: patch.secret }),
    ...(patch.previousSecret === undefined ? {} : { previous_secret: patch.previousSecret }),
    ...(patch.previousSecretExpiresAt === undefined
      ? {}
      : { previous_secret_expires_at: patch.previousSecretExpiresAt }),
    ...(patch.disabledAt === undefined ? {} : { disabled_at: patch.disabledAt }),
  };
}

export function toSubscription(
  row: Selectable<Database['webhook_subscriptions']>,
): WebhookSubscriptionRecord {
  return {
    subscriptionId: row.subscription_id,
    orgId: row.org_id,
    url: row.url,
    description: row.description,
    eventTypes: JSON.parse(row.event_types),
    secret: row.secret,
    previousSecret: row.previous_secret,
    previousSecretExpiresAt: nullableNumber(row.previous_secret_expires_at),
    disabledAt: nullableNumber(row.disabled_at),
    createdAt: Number(row.created_at),
    updatedAt: Number(row.updated_at),
  };
}

export function fromDelivery(record: WebhookDeliveryRecord) {
  return {
    delivery_id: record.deliveryId,
    subscription_id: record.subscriptionId,
    org_id: record.orgId,
    event_id: record.eventId,
    event_type: record.eventType,
    payload: record.payload,
    status: record.status,
    next_attempt_at: record.nextAttemptAt,
    lease_token: record.leaseToken,
    lease_expires_at: record.leaseExpiresAt,
    attempts: JSON.stringify(record.attempts),
    created_at: record.createdAt,
    updated_at: record.updatedAt,
  };
}

export function toDelivery(row: Selectable<Database['webhook_deliveries']>): WebhookDeliveryRecord {
  return {
    deliveryId: row.delivery_id,
    subscriptionId: row.subscription_id,
    orgId: row.org_id,
    eventId: row.event_id,
    eventType: row.event_type,
    payload: row.payload,
    status: row.status as WebhookDeliveryRecord['status'],
    nextAttemptAt: nullableNumber(row.next_attempt_at),
    leaseToken: row.lease_token,
    leaseExpiresAt: nullableNumber(row.lease_expires_at),
    attempts: JSON.parse(row.attempts),
    createdAt: Number(row.created_at),
    updatedAt: Number(row.updated_at),
  };
}
