/**
 * The domain rules a `Store` applies, in one place, for adapter authors: every store, built in or
 * third-party, calls these instead of writing its own copy, so a new record field or event type
 * changes no adapter beyond its storage schema. Core builds every record a store persists (a new
 * user, a refresh token's successor, an event); what is left to a store is applied here: how an
 * event fans out to deliveries, how a patch applies, which deliveries are claimable, the order and
 * tie-breaks of every listing, composite keys, the defaults of records stored by earlier
 * releases, and how an operation runs against its backend (deadline, outages, migration, close).
 * See docs/store-adapters.md.
 * @module
 */
export { emailKey, identityKey } from './composite-keys.js';
export { issuerRegistrationConflict } from './issuer-registration-conflict.js';
export { policyOf, withOrganizationDefaults, withUserDefaults } from './legacy-defaults.js';
export { claimedByLink, linkScopeOf, mayLinkWithinScope } from './link-scope.js';
export { asciiLowerCase, isAfterPosition, matchesOrganizationQuery, matchesUserQuery } from './listing.js';
export {
  earliestDueDeliveryFirst,
  newestDeliveryFirst,
  newestOrganizationFirst,
  newestSigningKeyFirst,
  newestUserFirst,
  oldestApiKeyFirst,
  oldestRegistrationFirst,
  oldestSubscriptionFirst,
  sortedBy,
} from './ordering.js';
export { applyOrganizationPatch, applyWebhookSubscriptionPatch, definedFields } from './patches.js';
export { redelivered } from './redelivery.js';
export type { StoreRunner, StoreRunnerOptions } from './store-runner.js';
export { createStoreRunner } from './store-runner.js';
export { sameVerification } from './verification.js';
export { isClaimable, subscribesTo, webhookDeliveriesFor } from './webhook-fan-out.js';
