import { randomUUID } from 'node:crypto';
import { epochSeconds } from '../internal/clock.js';
import type {
  Store,
  WebhookAttemptRecord,
  WebhookDeliveryRecord,
  WebhookDeliveryStatus,
  WebhookEventRecord,
  WebhookSubscriptionRecord,
} from '../store/store.js';
import type { Logger } from '../telemetry/logger.js';
import type { WebhookAttemptOutcome } from '../telemetry/prometheus-metrics.js';
import { postWebhook, type WebhookPostResult } from './deliver.js';
import type { ResolvedWebhookOptions } from './webhook-options.js';
import { signWebhook, type WebhookHeaders } from './webhook-signature.js';

/** What one worker pass did. */
export interface DeliveryRunSummary {
  /** Deliveries claimed and attempted. */
  attempted: number;
  succeeded: number;
  /** Failed attempts that will be retried. */
  retrying: number;
  /** Deliveries given up: retries exhausted, 410 Gone, or subscription deleted. */
  failed: number;
}

export interface DeliveryWorker {
  /**
   * One pass: claims every due delivery (in batches, each under a lease) and attempts it.
   * @param options.now epoch seconds deciding what is due and when retries fall due; defaults to
   *   the clock. The signature timestamp is always the real time of sending.
   */
  runDueDeliveries(options?: { now?: number }): Promise<DeliveryRunSummary>;
  /**
   * Sends an event to one subscription at once (a test ping), recorded in the outbox like any
   * delivery but leased from the start so no worker sends it too. It is attempted once, not retried.
   * @returns the delivery with its attempt
   */
  deliverNow(
    subscription: WebhookSubscriptionRecord,
    event: WebhookEventRecord,
  ): Promise<WebhookDeliveryRecord>;
  /** Starts passes every `workerIntervalMs` on an unref'd timer; a no-op when already running. */
  start(): void;
  /** Stops the timer and waits for a pass in progress to finish. */
  stop(): Promise<void>;
}

export interface DeliveryWorkerOptions {
  store: Store;
  options: ResolvedWebhookOptions;
  logger: Logger;
  /** Random number in [0, 1), for retry jitter. */
  random?: () => number;
  /** Told how each attempt of a worker pass ended, for metrics. */
  onAttempt?: (outcome: WebhookAttemptOutcome) => void;
}

// ±10%: spreads retries of many deliveries that failed together (a receiver outage).
const JITTER_RATIO = 0.1;

/**
 * Standard Webhooks headers; within the overlap after a rotation, `webhook-signature` lists a
 * signature with each secret (space-separated), and a receiver accepts either.
 */
function signatureHeaders(
  delivery: WebhookDeliveryRecord,
  subscription: WebhookSubscriptionRecord,
  nowSeconds: number,
): WebhookHeaders {
  const sign = (secret: string) =>
    signWebhook({ id: delivery.eventId, timestampSeconds: nowSeconds, payload: delivery.payload, secret });
  const headers = sign(subscription.secret);
  const { previousSecret, previousSecretExpiresAt } = subscription;
  if (!previousSecret || (previousSecretExpiresAt ?? 0) <= nowSeconds) return headers;
  const previous = sign(previousSecret)['webhook-signature'];
  return { ...headers, 'webhook-signature': `${headers['webhook-signature']} ${previous}` };
}

export function createDeliveryWorker({
  store,
  options,
  logger,
  random = Math.random,
  onAttempt,
}: DeliveryWorkerOptions): DeliveryWorker {
  const policy = {
    allowInsecureUrls: options.allowInsecureUrls,
    allowPrivateAddresses: options.allowPrivateAddresses,
    allowLoopbackUrls: options.allowLoopbackUrls,
  };

  function retryAt(failedAttempts: number, now: number): number | null {
    const delay = options.retryScheduleSeconds[failedAttempts - 1];
    if (delay === undefined) return null;
    return now + Math.max(1, Math.round(delay * (1 + JITTER_RATIO * (2 * random() - 1))));
  }

  async function send(
    delivery: WebhookDeliveryRecord,
    now: number,
  ): Promise<{
    result: WebhookPostResult;
    status: WebhookDeliveryStatus;
    nextAttemptAt: number | null;
  }> {
    const subscription = await store.getWebhookSubscription(delivery.orgId, delivery.subscriptionId);
    if (!subscription || (subscription.disabledAt !== null && delivery.eventType !== 'test.ping')) {
      const error = subscription ? 'subscription disabled' : 'subscription deleted';
      return {
        result: { responseStatus: null, error, responseExcerpt: null, durationMs: 0 },
        status: 'failed',
        nextAttemptAt: null,
      };
    }
    const result = await postWebhook({
      url: subscription.url,
      headers: signatureHeaders(delivery, subscription, epochSeconds()),
      payload: delivery.payload,
      timeoutMs: options.timeoutMs,
      policy,
    });
    const { responseStatus } = result;
    if (responseStatus !== null && responseStatus >= 200 && responseStatus < 300) {
      return { result, status: 'succeeded', nextAttemptAt: null };
    }
    if (responseStatus === 410) {
      // Standard Webhooks: 410 Gone means the receiver wants no more deliveries at this URL.
      await store.updateWebhookSubscription(
        subscription.orgId,
        subscription.subscriptionId,
        { disabledAt: now },
        now,
      );
      return { result, status: 'failed', nextAttemptAt: null };
    }
    // A test ping reports its one result; it is not retried.
    const nextAttemptAt =
      delivery.eventType === 'test.ping' ? null : retryAt(delivery.attempts.length + 1, now);
    return { result, status: nextAttemptAt === null ? 'failed' : 'pending', nextAttemptAt };
  }

  async function attemptLeased(delivery: WebhookDeliveryRecord, now: number): Promise<WebhookDeliveryRecord> {
    const { result, status, nextAttemptAt } = await send(delivery, now);
    const attempt: WebhookAttemptRecord = { attemptedAt: now, ...result };
    const leaseToken = delivery.leaseToken ?? '';
    const completed = await store.completeWebhookAttempt({
      deliveryId: delivery.deliveryId,
      leaseToken,
      attempt,
      status,
      nextAttemptAt,
      now,
    });
    if (!completed) {
      // Only possible when a send outlived its lease: another worker may attempt it again.
      logger.warn(
        { deliveryId: delivery.deliveryId },
        'webhook delivery lease lost before the attempt was recorded',
      );
    }
    return {
      ...delivery,
      status,
      nextAttemptAt,
      leaseToken: null,
      leaseExpiresAt: null,
      attempts: [...delivery.attempts, attempt],
      updatedAt: now,
    };
  }

  async function runDueDeliveries({ now }: { now?: number } = {}): Promise<DeliveryRunSummary> {
    const summary: DeliveryRunSummary = { attempted: 0, succeeded: 0, retrying: 0, failed: 0 };
    for (;;) {
      const at = now ?? epochSeconds();
      const claimed = await store.claimWebhookDeliveries({
        now: at,
        limit: options.batchSize,
        leaseSeconds: options.leaseSeconds,
        leaseToken: randomUUID(),
      });
      const outcomes = await Promise.all(
        claimed.map((delivery) =>
          attemptLeased(delivery, at).catch((error: unknown) => {
            // The lease expires and another pass retries it; the store being down is the usual cause.
            logger.error({ err: error, deliveryId: delivery.deliveryId }, 'webhook delivery attempt failed');
            return null;
          }),
        ),
      );
      for (const outcome of outcomes) {
        summary.attempted++;
        if (outcome?.status === 'succeeded') summary.succeeded++;
        else if (outcome?.status === 'failed') summary.failed++;
        else summary.retrying++;
        onAttempt?.(outcome === null ? 'error' : outcome.status === 'pending' ? 'retrying' : outcome.status);
      }
      if (claimed.length < options.batchSize) return summary;
    }
  }

  let timer: NodeJS.Timeout | undefined;
  let running: Promise<unknown> | undefined;
  let isStopped = true;

  function schedule(intervalMs: number) {
    timer = setTimeout(() => {
      running = runDueDeliveries()
        .catch((error: unknown) => logger.error({ err: error }, 'webhook delivery pass failed'))
        .finally(() => {
          running = undefined;
          if (!isStopped) schedule(intervalMs);
        });
    }, intervalMs);
    // Deliveries are durable in the store: the worker must never keep a process alive on its own.
    timer.unref();
  }

  return {
    runDueDeliveries,
    async deliverNow(subscription, event) {
      const now = epochSeconds();
      const delivery: WebhookDeliveryRecord = {
        deliveryId: randomUUID(),
        subscriptionId: subscription.subscriptionId,
        orgId: subscription.orgId,
        eventId: event.eventId,
        eventType: event.type,
        payload: event.payload,
        status: 'pending',
        nextAttemptAt: now,
        leaseToken: randomUUID(),
        leaseExpiresAt: now + options.leaseSeconds,
        attempts: [],
        createdAt: now,
        updatedAt: now,
      };
      await store.addWebhookDelivery(delivery);
      return attemptLeased(delivery, now);
    },
    start() {
      if (!isStopped || options.workerIntervalMs === false) return;
      isStopped = false;
      schedule(options.workerIntervalMs);
    },
    async stop() {
      isStopped = true;
      clearTimeout(timer);
      await running;
    },
  };
}
