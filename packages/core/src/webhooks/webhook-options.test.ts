import { describe, expect, it } from 'vitest';
import { resolveWebhookOptions } from './webhook-options.js';

describe('resolveWebhookOptions', () => {
  it('defaults to https public destinations, a 10 s timeout, the Svix schedule and a 5 s worker', () => {
    expect(resolveWebhookOptions()).toEqual({
      allowInsecureUrls: false,
      allowPrivateAddresses: false,
      allowLoopbackUrls: false,
      timeoutMs: 10_000,
      retryScheduleSeconds: [5, 300, 1800, 7200, 18_000, 36_000, 36_000],
      batchSize: 20,
      leaseSeconds: 40,
      workerIntervalMs: 5_000,
    });
    expect(resolveWebhookOptions({ worker: false }).workerIntervalMs).toBe(false);
  });

  it.each([
    [{ timeoutMs: 0 }, /webhooks\.timeoutMs/],
    [{ retryScheduleSeconds: [5, -1] }, /webhooks\.retryScheduleSeconds/],
    [{ batchSize: Number.NaN }, /webhooks\.batchSize/],
    [{ worker: { intervalMs: -5 } }, /webhooks\.worker\.intervalMs/],
  ])('throws a TypeError naming the option for %j', (input, message) => {
    expect(() => resolveWebhookOptions(input)).toThrow(TypeError);
    expect(() => resolveWebhookOptions(input)).toThrow(message);
  });
});
