import type { SigningKeyUse } from '@rialto-exchange/core';

/*
 * The key layout (version 2), built so every script's keys share one Redis Cluster hash slot.
 *
 * Per organization, one slot: `<prefix>{o:<orgId>}:…` holds the org, its API keys, its issuer
 * registrations, its users (one hash), identity links and email entries (one hash each), webhook
 * subscriptions, and its webhook deliveries with their due set and leases. Every per-org operation,
 * org deletion included, is one script or command on that slot.
 *
 * Per refresh-token family, one slot: `<prefix>{f:<familyId>}:…` holds the family's tokens (one
 * hash, jti -> record) and its revocation marker, so rotation (token, successor, marker) stays one
 * atomic script. The presented token's family comes from its signed `fid` claim.
 *
 * Keys that need no partner stay single keys anywhere in the cluster: consumed ID tokens,
 * rate-limit keys, signing keys. The global indexes are single keys too, each written in its own
 * step, ordered so that a failure between the steps leaves only an entry that reads as absent:
 * - issuer -> registrations (`issuer-regs:<issuer>`, the authority for token resolution): written
 *   after the org's own copy and removed before it, so a live entry always has its org side. An
 *   entry whose org or org-side copy is gone is a leftover (a claim that raced deleteOrganization,
 *   or a crash): it reads as absent, and a conflicting claim drops it (compare-and-delete) and
 *   claims again, so it never keeps an issuer or client id taken. A crash between the two steps
 *   of createOrganization leaves an org that holds no claim (a retry with the issuer succeeds) and
 *   an API key nobody was shown; nothing reaches such an org, and it is not cleaned up.
 * - user id -> org (`user-org:<userId>`): written before the user, removed after it; a dangling
 *   entry leads to an org hash without the user, which reads as "no such user".
 * - delivery id -> org (`webhook-delivery-org:<id>`): the same, for completing a leased delivery.
 * - every organization (`org-index`, a sorted set of `organizationIndexMember`s, all scored 0 so
 *   that ZRANGEBYLEX pages it newest first): written before the org and removed after it, so an
 *   entry whose org is gone is a leftover that reads as absent (listOrganizations skips it).
 * - orgs with deliveries due (`webhook-due-orgs`, scored by the earliest due time): lowered before
 *   and after each write of due deliveries; a claimer removes an org, claims from the org's own due
 *   set, then puts the org back with its next due time, so a write racing the claimer is never lost
 *   and a stale entry only costs one empty claim.
 *
 * `layout` holds the version; standalone databases of earlier versions are migrated once on connect
 * (layout-migration.ts): version 1 has its keys moved, versions before 12 get their `org-index`.
 */

export const LAYOUT_VERSION = '12';

export type RedisKeys = ReturnType<typeof redisKeys>;

export function redisKeys(prefix: string) {
  const org = (orgId: string) => `${prefix}{o:${orgId}}:`;
  const family = (familyId: string) => `${prefix}{f:${familyId}}:`;
  return {
    layout: `${prefix}layout`,
    layoutMigrationLock: `${prefix}layout-migration`,
    /** Set to `11` once identities of non-`sub` registrations carry their claim name (identity-claim-migration.ts). */
    identityClaims: `${prefix}identity-claims`,
    /** The keys of one organization; all in one slot. */
    org: (orgId: string) => ({
      organization: `${org(orgId)}org`,
      apiKeys: `${org(orgId)}api-keys`,
      revokedApiKeys: `${org(orgId)}api-keys-revoked`,
      // registration id -> record: the org's copy, which lists and removes its registrations.
      registrations: `${org(orgId)}registrations`,
      // user id -> record
      users: `${org(orgId)}users`,
      // JSON [iss, sub] -> user id
      identities: `${org(orgId)}identities`,
      // email -> user id
      emails: `${org(orgId)}emails`,
      // One user's refresh-token family ids, scored by the latest expiry of their tokens.
      userFamilies: (userId: string) => `${org(orgId)}user-families:${userId}`,
      subscriptions: `${org(orgId)}webhook-subs`,
      subscriptionsVersion: `${org(orgId)}webhook-subs-version`,
      // delivery id -> record (without its lease)
      deliveries: `${org(orgId)}webhook-deliveries`,
      // delivery id scored by when it may next be claimed
      dueDeliveries: `${org(orgId)}webhook-due`,
      // delivery id -> lease token
      deliveryLeases: `${org(orgId)}webhook-leases`,
      // delivery id scored by when it finished, for retention
      finishedDeliveries: `${org(orgId)}webhook-finished`,
      subscriptionDeliveries: (subscriptionId: string) =>
        `${org(orgId)}webhook-sub-deliveries:${subscriptionId}`,
    }),
    /** The keys of one refresh-token family; both in one slot. */
    family: (familyId: string) => ({
      tokens: `${family(familyId)}tokens`,
      revoked: `${family(familyId)}revoked`,
    }),
    /** An identity within its org's hash; `sub` identities keep the spelling they had before claim names. */
    identityField: (iss: string, sub: string, subjectClaim = 'sub') =>
      JSON.stringify(subjectClaim === 'sub' ? [iss, sub] : [iss, sub, subjectClaim]),
    issuerRegistrations: (issuer: string) => `${prefix}issuer-regs:${issuer}`,
    userOrg: (userId: string) => `${prefix}user-org:${userId}`,
    deliveryOrg: (deliveryId: string) => `${prefix}webhook-delivery-org:${deliveryId}`,
    dueOrgs: `${prefix}webhook-due-orgs`,
    orgIndex: `${prefix}org-index`,
    consoleSession: (sessionHash: string) => `${prefix}console-session:${sessionHash}`,
    consumed: (key: string) => `${prefix}consumed:${key}`,
    rateLimit: (key: string) => `${prefix}rate-limit:${key}`,
    signingKeys: (use: SigningKeyUse) => `${prefix}signing-keys:${use}`,
  };
}

// Wide enough for any epoch second until the year 33658, so members sort by creation time.
const CREATED_AT_DIGITS = 12;

/**
 * The `org-index` member of an organization: its zero-padded creation time and id, so that the
 * lexicographic order of members is `storeKit.newestOrganizationFirst` reversed.
 */
export function organizationIndexMember(createdAt: number, orgId: string): string {
  return `${String(createdAt).padStart(CREATED_AT_DIGITS, '0')}:${orgId}`;
}

/** The org id of an `org-index` member. */
export function orgIdOfIndexMember(member: string): string {
  return member.slice(CREATED_AT_DIGITS + 1);
}
