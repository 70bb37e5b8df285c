import { epochSeconds } from '../internal/clock.js';
import type { Services } from '../services.js';
import type { DeliveryRunSummary } from '../webhooks/delivery-worker.js';
import { webhookEvent } from '../webhooks/event-catalogue.js';

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
  /** Starts the background delivery worker (unless `webhooks.worker` is `false`); the Express binding calls it. */
  startWorker(): void;
}

export function createWebhooksFacade({ eventCatalogue, deliveryWorker, store }: Services): RialtoWebhooks {
  return {
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
