import { RialtoError } from '../errors.js';
import { epochSeconds } from '../internal/clock.js';
import { isUuid } from '../internal/is-uuid.js';
import type { Services } from '../services.js';
import type { WebhookDeliveryRecord, WebhookSubscriptionRecord } from '../store/store.js';
import type { DeliveryRunSummary } from '../webhooks/delivery-worker.js';
import { webhookEvent } from '../webhooks/event-catalogue.js';
import { existingOrganization } from './organizations.js';

/** A webhook subscription as listings show it: never its signing secrets. */
export type WebhookSubscriptionSummary = Omit<WebhookSubscriptionRecord, 'secret' | 'previousSecret'>;

/**
 * The durable webhook events partners subscribe to: host-defined types emitted beside the built-in
 * ones, stored in the outbox and delivered by the worker (unlike the in-process `audit` events).
 */
export interface RialtoWebhooks {
  /**
   * Makes a host-defined event type known, so subscriptions may name it and `emit` accepts it.
   * @throws TypeError when the name is not dotted lower-case segments
   */
  registerEventType(type: string): void;
  /**
   * Records an event for the org's subscribers in the outbox; delivery follows asynchronously.
   * @throws TypeError when `type` was not registered (a host bug, not a request error)
   * @example
   * exchange.webhooks.registerEventType('subscription.created');
   * await exchange.webhooks.emit('subscription.created', orgId, { subscription_id: id, amount: '100.00' });
   */
  emit(type: string, orgId: string, data: unknown): Promise<void>;
  /**
   * One delivery-worker pass: attempts every due delivery. For hosts running their own worker
   * (`webhooks: { worker: false }`) and for tests with a controllable clock.
   * @param options.now epoch seconds deciding what is due; defaults to the clock
   */
  runDueDeliveries(options?: { now?: number }): Promise<DeliveryRunSummary>;
  /**
   * The organization's webhook subscriptions, oldest first, without their secrets, as
   * `GET /identity/organizations/:org_id/webhooks` answers.
   * @throws RialtoError `not_found` (no such organization)
   */
  listSubscriptions(orgId: string): Promise<WebhookSubscriptionSummary[]>;
  /**
   * A subscription's most recent deliveries (50 at most), newest first: status, attempts with their
   * response codes, next retry.
   * @throws RialtoError `not_found` (no such webhook in the organization)
   */
  listDeliveries(orgId: string, webhookId: string): Promise<WebhookDeliveryRecord[]>;
  /**
   * Makes one delivery due now, as `POST /notifications/webhooks/:webhook_id/deliveries/:delivery_id/redeliver`
   * does: a failed or succeeded one gets another attempt (attempts so far are kept), one waiting for
   * a retry is tried at once, one being attempted right now is left to that attempt. Calling it
   * again changes nothing more. The worker sends it on its next pass.
   * @returns the delivery as stored now
   * @throws RialtoError `not_found` (no such webhook in the organization, or no such delivery of it)
   */
  redeliver(orgId: string, webhookId: string, deliveryId: string): Promise<WebhookDeliveryRecord>;
  /** Starts the background delivery worker (unless `webhooks.worker` is `false`); the Express binding calls it. */
  startWorker(): void;
}

export function webhookSubscriptionSummary({
  secret: _secret,
  previousSecret: _previousSecret,
  ...summary
}: WebhookSubscriptionRecord): WebhookSubscriptionSummary {
  return summary;
}

function noSuchWebhook(): RialtoError {
  return new RialtoError('not_found', 'No such webhook in your organization.');
}

export function createWebhooksFacade({
  eventCatalogue,
  deliveryWorker,
  store,
  organizations,
  webhookSubscriptions,
}: Services): RialtoWebhooks {
  return {
    async listSubscriptions(orgId) {
      const org = existingOrganization(isUuid(orgId) ? await organizations.get(orgId) : null);
      return (await webhookSubscriptions.list(org.orgId)).map(webhookSubscriptionSummary);
    },
    async listDeliveries(orgId, webhookId) {
      if (!(isUuid(orgId) && isUuid(webhookId))) throw noSuchWebhook();
      return webhookSubscriptions.listDeliveries(orgId, webhookId);
    },
    async redeliver(orgId, webhookId, deliveryId) {
      if (!(isUuid(orgId) && isUuid(webhookId))) throw noSuchWebhook();
      if (!isUuid(deliveryId)) throw new RialtoError('not_found', 'No such delivery of this webhook.');
      return webhookSubscriptions.redeliver(orgId, webhookId, deliveryId);
    },
    registerEventType: eventCatalogue.register,
    async emit(type, orgId, data) {
      if (!eventCatalogue.has(type)) {
        throw new TypeError(
          `webhooks.emit: "${type}" is not a registered event type; call webhooks.registerEventType() first`,
        );
      }
      await store.enqueueWebhookEvents([webhookEvent(type, orgId, data, epochSeconds())]);
    },
    runDueDeliveries: deliveryWorker.runDueDeliveries,
    startWorker: deliveryWorker.start,
  };
}
