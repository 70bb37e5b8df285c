import type {
  IssuerPolicyRecord,
  IssuerRegistrationRecord,
  OrganizationRecord,
  UserRecord,
} from '../store.js';

/*
 * Records stored by earlier releases lack fields added since. Stores that keep records as JSON
 * (Redis, Keyv) read them through these, so old records need no migration pass; SQL stores give
 * the columns the same defaults in their migrations.
 */

/**
 * Organizations stored before suspension, provisioning modes and DPoP binding existed: active,
 * creating users, bearer tokens.
 */
export function withOrganizationDefaults(org: OrganizationRecord): OrganizationRecord {
  return {
    ...org,
    provisioning: org.provisioning ?? 'create',
    suspendedAt: org.suspendedAt ?? null,
    dpopBoundAccessTokens: org.dpopBoundAccessTokens ?? false,
  };
}

/** Users stored before roles existed: `member`. */
export function withUserDefaults(user: UserRecord): UserRecord {
  return user.role === undefined ? { ...user, role: 'member' } : user;
}

/** Registrations stored before exchange policies: no condition, no mappings, version 0. */
export function policyOf(registration: IssuerRegistrationRecord): IssuerPolicyRecord {
  return registration.policy ?? { condition: null, claimMappings: {}, version: 0 };
}
