import type {
  ApiKeyRecord,
  IssuerRegistrationRecord,
  OrganizationRecord,
  SigningKeyRecord,
  UserRecord,
  WebhookDeliveryRecord,
  WebhookSubscriptionRecord,
} from '../store.js';

/*
 * The order of every Store listing. Records created in the same second are common (an organization
 * with its first key and registration, a rotation under load), so each order breaks ties by the
 * record's id, compared by UTF-16 code units: the order of `ORDER BY created_at, id` under a binary
 * collation, and of UUIDs under any collation. Newest-first listings are the exact reverse.
 */

type Comparator<T> = (a: T, b: T) => number;

function byCodeUnits(a: string, b: string): number {
  if (a === b) return 0;
  return a < b ? -1 : 1;
}

function oldestFirst<T extends { createdAt: number }>(id: (record: T) => string): Comparator<T> {
  return (a, b) => a.createdAt - b.createdAt || byCodeUnits(id(a), id(b));
}

function newestFirst<T extends { createdAt: number }>(id: (record: T) => string): Comparator<T> {
  const oldest = oldestFirst(id);
  return (a, b) => oldest(b, a);
}

/** `listIssuerRegistrations`, `findIssuerRegistrations`: oldest first, then by `registrationId`. */
export const oldestRegistrationFirst: Comparator<IssuerRegistrationRecord> = oldestFirst(
  (registration) => registration.registrationId,
);

/** `listActiveApiKeys`: oldest first, then by `keyId`. */
export const oldestApiKeyFirst: Comparator<ApiKeyRecord> = oldestFirst((key) => key.keyId);

/** `listWebhookSubscriptions`: oldest first, then by `subscriptionId`. */
export const oldestSubscriptionFirst: Comparator<WebhookSubscriptionRecord> = oldestFirst(
  (subscription) => subscription.subscriptionId,
);

/** `listSigningKeys` and the key `ensureSigningKey` answers: newest first, then by `kid` descending. */
export const newestSigningKeyFirst: Comparator<SigningKeyRecord> = newestFirst((key) => key.kid);

/** `listWebhookDeliveries`: newest first, then by `deliveryId` descending. */
export const newestDeliveryFirst: Comparator<WebhookDeliveryRecord> = newestFirst(
  (delivery) => delivery.deliveryId,
);

/** `claimWebhookDeliveries`: earliest `nextAttemptAt` first, then by `deliveryId`. */
export const earliestDueDeliveryFirst: Comparator<WebhookDeliveryRecord> = (a, b) =>
  (a.nextAttemptAt ?? 0) - (b.nextAttemptAt ?? 0) || byCodeUnits(a.deliveryId, b.deliveryId);

/** `listOrganizations`: newest first, then by `orgId` descending. */
export const newestOrganizationFirst: Comparator<OrganizationRecord> = newestFirst((org) => org.orgId);

/** `listUsers`: newest first, then by `userId` descending. */
export const newestUserFirst: Comparator<UserRecord> = newestFirst((user) => user.userId);

/** A sorted copy; the records themselves are not copied. */
export function sortedBy<T>(records: Iterable<T>, comparator: Comparator<T>): T[] {
  return [...records].sort(comparator);
}
