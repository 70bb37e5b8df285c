import { randomUUID } from 'node:crypto';
import type {
  FindOrCreateUserInput,
  OrganizationRecord,
  UserRecord,
  WebhookDeliveryRecord,
  WebhookEventRecord,
  WebhookSubscriptionRecord,
} from '@rialto-exchange/core';

/** The user a first exchange creates: every verification step still ahead. */
export function newUser(input: FindOrCreateUserInput): UserRecord {
  return {
    userId: input.newUserId,
    orgId: input.orgId,
    email: input.email,
    role: 'member',
    onboardingCompleted: false,
    kycStatus: 'not_started',
    accreditationStatus: 'not_submitted',
    createdAt: input.now,
    updatedAt: input.now,
  };
}

/**
 * A user record read back from JSON (Redis, Keyv). Records written before roles existed carry no
 * `role` and read as `member`: no migration pass, and rewriting them is never needed.
 */
export function parseUser(json: string): UserRecord {
  return withDefaultRole(JSON.parse(json) as UserRecord);
}

/** Organizations stored before suspension and provisioning modes existed: active, creating users. */
export function withOrganizationDefaults(org: OrganizationRecord): OrganizationRecord {
  return {
    ...org,
    provisioning: org.provisioning ?? 'create',
    suspendedAt: org.suspendedAt ?? null,
  };
}

export function withDefaultRole(user: UserRecord): UserRecord {
  return user.role === undefined ? { ...user, role: 'member' } : user;
}

/** Whether a subscription receives events of `type`: enabled, and naming the type or `*`. */
export function subscribesTo(subscription: WebhookSubscriptionRecord, type: string): boolean {
  return (
    subscription.disabledAt === null &&
    (subscription.eventTypes.includes(type) || subscription.eventTypes.includes('*'))
  );
}

/** Fan-out at write time: one pending delivery per matching subscription of the event's org. */
export function deliveriesFor(
  events: readonly WebhookEventRecord[],
  subscriptionsOf: (orgId: string) => readonly WebhookSubscriptionRecord[],
): WebhookDeliveryRecord[] {
  return events.flatMap((event) =>
    subscriptionsOf(event.orgId)
      .filter((subscription) => subscribesTo(subscription, event.type))
      .map(
        (subscription): WebhookDeliveryRecord => ({
          deliveryId: randomUUID(),
          subscriptionId: subscription.subscriptionId,
          orgId: event.orgId,
          eventId: event.eventId,
          eventType: event.type,
          payload: event.payload,
          status: 'pending',
          nextAttemptAt: event.createdAt,
          leaseToken: null,
          leaseExpiresAt: null,
          attempts: [],
          createdAt: event.createdAt,
          updatedAt: event.createdAt,
        }),
      ),
  );
}

/** Whether a worker may claim the delivery at `now`: pending, due, and not held under a live lease. */
export function isClaimable(delivery: WebhookDeliveryRecord, now: number): boolean {
  return (
    delivery.status === 'pending' &&
    delivery.nextAttemptAt !== null &&
    delivery.nextAttemptAt <= now &&
    (delivery.leaseExpiresAt === null || delivery.leaseExpiresAt <= now)
  );
}

/** Earliest due first; ties by id, so the order is stable. */
export function byDueTime(a: WebhookDeliveryRecord, b: WebhookDeliveryRecord): number {
  return (a.nextAttemptAt ?? 0) - (b.nextAttemptAt ?? 0) || a.deliveryId.localeCompare(b.deliveryId);
}

/** Newest first; ties by id. */
export function newestDeliveriesFirst(a: WebhookDeliveryRecord, b: WebhookDeliveryRecord): number {
  return b.createdAt - a.createdAt || b.deliveryId.localeCompare(a.deliveryId);
}
