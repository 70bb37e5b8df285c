import { z } from 'zod';
import {
  named,
  orFalse,
  parseOptions,
  positiveNumber,
  strictOptions,
  wholeNumberAtLeastOne,
} from '../options/schema-helpers.js';

// A lease outlives the slowest send of a batch by a wide margin, so a live worker never loses it.
const LEASE_MARGIN_SECONDS = 30;

const webhookOptionsShape = {
  /** Allow `http:` subscriber URLs. For local development and tests only. @default false */
  allowInsecureUrls: z.boolean({ error: 'must be true or false' }).default(false),
  /**
   * Allow subscriber URLs on private networks (RFC 1918, shared address space, IPv6 unique-local)
   * and on loopback. Off, such URLs are refused at registration and again at connect time (so DNS
   * rebinding cannot reach them). Link-local and cloud-metadata addresses stay refused whatever this
   * says. For receivers inside your own network. @default false
   */
  allowPrivateAddresses: z.boolean({ error: 'must be true or false' }).default(false),
  /**
   * Allow subscriber URLs on loopback (`localhost`, 127.0.0.0/8, `::1`) but not on private
   * networks: a receiver on the developer's machine. @default false
   */
  allowLoopbackUrls: z.boolean({ error: 'must be true or false' }).default(false),
  /** Deadline of one delivery attempt, from connect to response. @default 10000 */
  timeoutMs: positiveNumber().default(10_000), // a receiver should acknowledge and work asynchronously
  /**
   * Seconds to wait before each retry; their count is the number of retries. A random ±10% is
   * added so receivers recovering from an outage are not hit by every retry at once.
   * @default [5, 300, 1800, 7200, 18000, 36000, 36000]
   */
  // Svix's schedule: after the first attempt, retries 5 s, 5 min, 30 min, 2 h, 5 h, 10 h and 10 h
  // later (~27 h in all).
  retryScheduleSeconds: z
    .array(positiveNumber(), { error: 'must be an array of positive numbers' })
    .readonly()
    .default(() => [5, 300, 1800, 7200, 18_000, 36_000, 36_000]),
  /** Deliveries claimed and sent in parallel per worker pass. @default 20 */
  // Sent in parallel, so a pass takes about one timeout at most.
  batchSize: wholeNumberAtLeastOne().default(20),
  /**
   * The background delivery worker the Express binding starts: how often it looks for due
   * deliveries, or `false` to run none (then call `exchange.webhooks.runDueDeliveries()` yourself).
   * @default { intervalMs: 5000 }
   */
  worker: orFalse(
    // The first retry is due 5 s after a failure.
    strictOptions({ intervalMs: positiveNumber().default(5_000) }),
    '{ intervalMs }',
  ).prefault({}),
};

/** Webhook delivery settings of `createRialtoExchange` / `rialtoExchange`. */
export interface WebhookOptions extends z.input<z.ZodObject<typeof webhookOptionsShape>> {}

/** The settings the delivery worker runs with: every default filled, its lease derived from the timeout. */
export interface ResolvedWebhookOptions
  extends Omit<z.output<z.ZodObject<typeof webhookOptionsShape>>, 'worker'> {
  leaseSeconds: number;
  /** `false` when no background worker should run. */
  workerIntervalMs: number | false;
}

/** The `webhooks` entry of the options schema: checks, defaults and the resolved shape. */
export const webhookOptionsSchema = named<ResolvedWebhookOptions, WebhookOptions>(
  strictOptions(webhookOptionsShape).transform(({ worker, ...options }) => ({
    ...options,
    leaseSeconds: Math.ceil(options.timeoutMs / 1000) + LEASE_MARGIN_SECONDS,
    workerIntervalMs: worker === false ? false : worker.intervalMs,
  })),
).prefault({});

export function resolveWebhookOptions(input: WebhookOptions = {}): ResolvedWebhookOptions {
  return parseOptions(webhookOptionsSchema, input, 'createRialtoExchange', ['webhooks']);
}
