import type {
  OrganizationPatch,
  OrganizationRecord,
  WebhookSubscriptionPatch,
  WebhookSubscriptionRecord,
} from '../store.js';

/*
 * How a patch applies, for stores that read the record, change it and write it back in one atomic
 * step. Stores that update fields in place (SQL `UPDATE ... SET`, a Redis hash) map the same
 * defined fields to their columns and get the same record.
 */

/** The fields a patch sets: `undefined` leaves a field as it is, `null` clears it. */
export function definedFields<T extends object>(patch: T): Partial<T> {
  return Object.fromEntries(Object.entries(patch).filter(([, value]) => value !== undefined)) as Partial<T>;
}

/** `updateOrganization`: the organization with `patch` applied and `updatedAt` = `now`. */
export function applyOrganizationPatch(
  org: OrganizationRecord,
  patch: OrganizationPatch,
  now: number,
): OrganizationRecord {
  return { ...org, ...definedFields(patch), updatedAt: now };
}

/** `updateWebhookSubscription`: the subscription with `patch` applied and `updatedAt` = `now`. */
export function applyWebhookSubscriptionPatch(
  subscription: WebhookSubscriptionRecord,
  patch: WebhookSubscriptionPatch,
  now: number,
): WebhookSubscriptionRecord {
  return { ...subscription, ...definedFields(patch), updatedAt: now };
}
