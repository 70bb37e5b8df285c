import { randomUUID } from 'node:crypto';
import type { WebhookEventRecord } from '../store/store.js';

/** Event types the exchange itself emits. */
export const BUILT_IN_WEBHOOK_EVENT_TYPES = [
  'user.created',
  'user.deleted',
  'onboarding.completed',
  'kyc.session.created',
  'kyc.session.pii_submitted',
  'kyc.session.processing',
  'kyc.session.resubmission_requested',
  'kyc.session.approved',
  'kyc.session.denied',
  'accreditation.submitted',
  'accreditation.verified',
  'accreditation.rejected',
  'test.ping',
] as const;

/** Subscribes to every event type, including ones registered later. */
export const ALL_EVENT_TYPES = '*';

// Dotted lower-case segments, like the built-in types: keeps types safe in URLs, logs and SQL.
const EVENT_TYPE_PATTERN = /^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$/;
const MAX_EVENT_TYPE_LENGTH = 100;

/** The set of event types subscriptions may name: the built-in ones plus those the host registers. */
export interface EventCatalogue {
  /**
   * Adds a host-defined type, e.g. `subscription.created`. Registering a known type again is a no-op.
   * @throws TypeError when the name is not dotted lower-case segments (`a.b`, at most 100 characters)
   */
  register(type: string): void;
  has(type: string): boolean;
  /** Every known type, sorted. */
  list(): string[];
}

export function createEventCatalogue(): EventCatalogue {
  const types = new Set<string>(BUILT_IN_WEBHOOK_EVENT_TYPES);
  return {
    register(type) {
      if (typeof type !== 'string' || type.length > MAX_EVENT_TYPE_LENGTH || !EVENT_TYPE_PATTERN.test(type)) {
        throw new TypeError(
          `webhooks.registerEventType: "${String(type)}" must be dotted lower-case segments, e.g. "subscription.created"`,
        );
      }
      types.add(type);
    },
    has: (type) => types.has(type),
    list: () => [...types].sort(),
  };
}

/**
 * Builds an event with its wire payload `{ id, type, timestamp, org_id, data }`, serialized once so
 * every subscriber and every retry receives the same bytes.
 */
export function webhookEvent(
  type: string,
  orgId: string,
  data: unknown,
  nowSeconds: number,
): WebhookEventRecord {
  const eventId = randomUUID();
  const payload = JSON.stringify({
    id: eventId,
    type,
    timestamp: new Date(nowSeconds * 1000).toISOString(),
    org_id: orgId,
    data,
  });
  return { eventId, orgId, type, payload, createdAt: nowSeconds };
}
