import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { RialtoError } from '../errors.js';
import { epochSeconds } from '../internal/clock.js';
import { printableText } from '../internal/control-characters.js';
import type { Store, WebhookDeliveryRecord, WebhookSubscriptionRecord } from '../store/store.js';
import {
  assertPublicDestination,
  type DestinationPolicy,
  DestinationRefusedError,
  parseDestination,
} from './destination-policy.js';
import { ALL_EVENT_TYPES, type EventCatalogue } from './event-catalogue.js';
import { generateWebhookSecret } from './webhook-signature.js';

// The deliveries log shows the recent past; older rows stay in the store but are not listed.
const DELIVERIES_LISTED = 50;
// Fan-out happens at write time, one row per subscription: a cap keeps one event's cost bounded.
export const MAX_SUBSCRIPTIONS_PER_ORG = 20;
const MAX_EVENT_TYPES = 100;
// After a rotation, deliveries carry a signature with the old secret too for a day (as Svix does),
// so receivers can switch secrets without rejecting deliveries in between.
export const SECRET_ROTATION_OVERLAP_SECONDS = 86_400;

const eventTypesSchema = z.array(z.string().min(1).max(100)).min(1).max(MAX_EVENT_TYPES);

/** Body of `POST /notifications/webhooks`. */
export const webhookCreationSchema = z.strictObject({
  url: z.string().max(2048),
  description: printableText.pipe(z.string().trim().max(500)).optional(),
  eventTypes: eventTypesSchema,
});

/** Body of `PUT /notifications/webhooks/:id/subscriptions`. */
export const webhookEventTypesSchema = z.strictObject({ eventTypes: eventTypesSchema });

export type WebhookCreation = z.infer<typeof webhookCreationSchema>;

/** A subscription with its signing secret, as shown once at creation or rotation. */
export interface SubscriptionWithSecret {
  subscription: WebhookSubscriptionRecord;
  secret: string;
}

export interface WebhookSubscriptions {
  /**
   * Creates a subscription for `orgId` with a new signing secret.
   * @throws RialtoError `invalid_request`: unknown event type, URL refused by the destination policy
   *   (not https, credentials, non-public address or a host resolving to one), or too many subscriptions
   */
  create(orgId: string, input: WebhookCreation): Promise<SubscriptionWithSecret>;
  list(orgId: string): Promise<WebhookSubscriptionRecord[]>;
  /** @throws RialtoError `not_found`, also for another org's subscription */
  get(orgId: string, subscriptionId: string): Promise<WebhookSubscriptionRecord>;
  /**
   * Replaces the event types; re-enables a subscription disabled by a 410 answer.
   * @throws RialtoError `not_found` or `invalid_request`
   */
  setEventTypes(
    orgId: string,
    subscriptionId: string,
    eventTypes: string[],
  ): Promise<WebhookSubscriptionRecord>;
  /**
   * Replaces the signing secret. For the next 24 h deliveries carry a second signature made with
   * the old secret, so a receiver still holding it keeps verifying until it switches.
   * @throws RialtoError `not_found`
   */
  rotateSecret(orgId: string, subscriptionId: string): Promise<SubscriptionWithSecret>;
  /** @throws RialtoError `not_found` */
  remove(orgId: string, subscriptionId: string): Promise<void>;
  /**
   * The subscription's most recent deliveries (50 at most), newest first.
   * @throws RialtoError `not_found`
   */
  listDeliveries(orgId: string, subscriptionId: string): Promise<WebhookDeliveryRecord[]>;
  /**
   * Makes one delivery of the subscription due now, as `storeKit.redelivered` says: a failed or
   * succeeded one gets another attempt (its attempts kept), one waiting for a retry is tried at once,
   * and one being attempted right now is left to that attempt. Idempotent; the worker sends it.
   * @throws RialtoError `not_found` (no such webhook in the org, or no such delivery of it)
   */
  redeliver(orgId: string, subscriptionId: string, deliveryId: string): Promise<WebhookDeliveryRecord>;
}

export function createWebhookSubscriptions(
  store: Store,
  catalogue: EventCatalogue,
  policy: DestinationPolicy,
): WebhookSubscriptions {
  function normalizeEventTypes(types: string[]): string[] {
    const unknown = types.find((type) => type !== ALL_EVENT_TYPES && !catalogue.has(type));
    if (unknown !== undefined) {
      throw new RialtoError('invalid_request', `eventTypes: unknown event type "${unknown.slice(0, 100)}".`);
    }
    return [...new Set(types)].sort();
  }

  async function checkDestination(raw: string): Promise<string> {
    try {
      const url = parseDestination(raw, policy);
      await assertPublicDestination(url, policy);
      return url.href;
    } catch (error) {
      if (error instanceof DestinationRefusedError)
        throw new RialtoError('invalid_request', `url: ${error.message}`);
      throw error;
    }
  }

  function notFound(): RialtoError {
    return new RialtoError('not_found', 'No such webhook in your organization.');
  }

  return {
    async create(orgId, input) {
      const eventTypes = normalizeEventTypes(input.eventTypes);
      const url = await checkDestination(input.url);
      if ((await store.listWebhookSubscriptions(orgId)).length >= MAX_SUBSCRIPTIONS_PER_ORG) {
        throw new RialtoError(
          'invalid_request',
          `An organization can have at most ${MAX_SUBSCRIPTIONS_PER_ORG} webhooks; delete one first.`,
        );
      }
      const now = epochSeconds();
      const secret = generateWebhookSecret();
      const subscription: WebhookSubscriptionRecord = {
        subscriptionId: randomUUID(),
        orgId,
        url,
        description: input.description || null,
        eventTypes,
        secret,
        previousSecret: null,
        previousSecretExpiresAt: null,
        disabledAt: null,
        createdAt: now,
        updatedAt: now,
      };
      await store.createWebhookSubscription(subscription);
      return { subscription, secret };
    },

    list: (orgId) => store.listWebhookSubscriptions(orgId),

    async get(orgId, subscriptionId) {
      const subscription = await store.getWebhookSubscription(orgId, subscriptionId);
      if (!subscription) throw notFound();
      return subscription;
    },

    async setEventTypes(orgId, subscriptionId, types) {
      const eventTypes = normalizeEventTypes(types);
      const now = epochSeconds();
      const updated = await store.updateWebhookSubscription(
        orgId,
        subscriptionId,
        { eventTypes, disabledAt: null },
        now,
      );
      if (!updated) throw notFound();
      return updated;
    },

    async rotateSecret(orgId, subscriptionId) {
      const current = await store.getWebhookSubscription(orgId, subscriptionId);
      if (!current) throw notFound();
      const secret = generateWebhookSecret();
      const now = epochSeconds();
      const updated = await store.updateWebhookSubscription(
        orgId,
        subscriptionId,
        {
          secret,
          previousSecret: current.secret,
          previousSecretExpiresAt: now + SECRET_ROTATION_OVERLAP_SECONDS,
        },
        now,
      );
      if (!updated) throw notFound();
      return { subscription: updated, secret };
    },

    async remove(orgId, subscriptionId) {
      if (!(await store.deleteWebhookSubscription(orgId, subscriptionId))) throw notFound();
    },

    async listDeliveries(orgId, subscriptionId) {
      if (!(await store.getWebhookSubscription(orgId, subscriptionId))) throw notFound();
      return store.listWebhookDeliveries(orgId, subscriptionId, DELIVERIES_LISTED);
    },

    async redeliver(orgId, subscriptionId, deliveryId) {
      if (!(await store.getWebhookSubscription(orgId, subscriptionId))) throw notFound();
      const delivery = await store.redeliverWebhookDelivery({
        orgId,
        subscriptionId,
        deliveryId,
        now: epochSeconds(),
      });
      if (!delivery) throw new RialtoError('not_found', 'No such delivery of this webhook.');
      return delivery;
    },
  };
}
