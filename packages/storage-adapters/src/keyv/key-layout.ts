import type { SigningKeyUse } from '@rialto-exchange/core';
import { storeKit } from '@rialto-exchange/core';

/** The keys of a Keyv store, under the Keyv instance's own namespace. */
export type KeyvKeys = typeof keyvKeys;

export const keyvKeys = {
  organization: (orgId: string) => `org:${orgId}`,
  // Written by versions before issuer registrations: issuer -> org id (see upgradeOrganization).
  legacyIssuer: (issuer: string) => `issuer:${issuer}`,
  // Every org's registrations of one issuer.
  issuerRegistrations: (issuer: string) => `issuer-regs:${issuer}`,
  // An org's registrations as { registrationId, issuer }, so an org's data is found by its id.
  orgIssuers: (orgId: string) => `org-issuers:${orgId}`,
  apiKeys: (orgId: string) => `api-keys:${orgId}`,
  user: (userId: string) => `user:${userId}`,
  // JSON arrays keep composite keys unambiguous whatever characters the parts contain.
  identity: (orgId: string, iss: string, sub: string, subjectClaim?: string) =>
    `identity:${storeKit.identityKey(orgId, iss, sub, subjectClaim)}`,
  /** The `[iss, sub, subjectClaim?]` an `identity` key was built from. */
  identityParts: (identityKey: string): unknown =>
    (JSON.parse(identityKey.slice('identity:'.length)) as unknown[]).slice(1),
  email: (orgId: string, email: string) => `email:${storeKit.emailKey(orgId, email)}`,
  refreshToken: (jti: string) => `refresh:${jti}`,
  consumed: (consumedKey: string) => `consumed:${consumedKey}`,
  familyExpiry: (familyId: string) => `family-expiry:${familyId}`,
  familyRevoked: (familyId: string) => `family-revoked:${familyId}`,
  signingKeys: (use: SigningKeyUse) => `signing-keys:${use}`,
  subscriptions: (orgId: string) => `webhook-subs:${orgId}`,
  delivery: (deliveryId: string) => `webhook-delivery:${deliveryId}`,
  dueDeliveries: 'webhook-due',
  subscriptionDeliveries: (subscriptionId: string) => `webhook-sub-deliveries:${subscriptionId}`,
  // Keyv cannot enumerate keys: deleteUser and deleteOrganization find a user's links and an
  // org's users through these lists. Users and links written before they existed are not listed.
  userIdentities: (userId: string) => `user-identities:${userId}`,
  orgUsers: (orgId: string) => `org-users:${orgId}`,
  // A user's refresh-token families with their newest token, for listRefreshFamilies.
  userFamilies: (orgId: string, userId: string) => `user-families:${JSON.stringify([orgId, userId])}`,
  // Every organization's id, for listOrganizations. Organizations written before it are not listed.
  organizations: 'orgs',
  consoleSession: (sessionHash: string) => `console-session:${sessionHash}`,
  // `11` once identities of non-`sub` registrations carry their claim name (identity-claim-migration.ts).
  identityClaims: 'identity-claims',
};
