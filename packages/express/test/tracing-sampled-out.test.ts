import { type Context, context, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { BasicTracerProvider, type Sampler, SamplingDecision } from '@opentelemetry/sdk-trace-base';
import { type DevIdp, startDevIdp } from '@rialto-exchange/dev-idp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, exchange, registerOrganization, type TestApp } from './helpers.js';

interface SamplingRequest {
  name: string;
  traceId: string;
  parentSpanId: string | undefined;
}

/** Records nothing, but notes the trace and parent every span was started in. */
class DropEverythingSampler implements Sampler {
  readonly requests: SamplingRequest[] = [];
  shouldSample(parentContext: Context, traceId: string, name: string) {
    this.requests.push({ name, traceId, parentSpanId: trace.getSpanContext(parentContext)?.spanId });
    return { decision: SamplingDecision.NOT_RECORD };
  }
  toString() {
    return 'DropEverythingSampler';
  }
}

// Spans an SDK samples out record nothing, yet they must still be made active: their children
// belong to the same trace, so a sampling decision taken downstream or propagated stays consistent.
describe('OpenTelemetry spans that the host SDK samples out', () => {
  const sampler = new DropEverythingSampler();
  let idp: DevIdp;
  let t: TestApp;
  let apiKey: string;

  beforeAll(async () => {
    idp = await startDevIdp();
    t = createTestApp({ rateLimit: false, webhooks: { worker: false } });
    ({ apiKey } = await registerOrganization(t.app, {
      name: 'Acme Capital',
      issuer: idp.issuer,
      client_ids: [idp.clientId],
    }));
    context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
    trace.setGlobalTracerProvider(new BasicTracerProvider({ sampler }));
  });
  afterAll(async () => {
    trace.disable();
    context.disable();
    await idp.close();
  });

  it('keeps every step and store call of an exchange in the trace of its route span', async () => {
    const idToken = await idp.getIdToken({ email: 'ada@example.com' });
    sampler.requests.length = 0;
    const response = await exchange(t.app, apiKey, { token: idToken });
    expect(response.status).toBe(200);

    const started = (name: string) => {
      const found = sampler.requests.filter((request) => request.name === name);
      expect(found, name).toHaveLength(1);
      return found[0] as SamplingRequest;
    };
    const root = started('POST /identity/auth/exchange');
    expect(root.parentSpanId).toBeUndefined();
    const nested = [
      'rialto.exchange.api_key',
      'rialto.exchange.issuer',
      'rialto.exchange.signature',
      'rialto.exchange.linking',
      'rialto.exchange.minting',
      'rialto.store.findOrCreateUser',
    ].map(started);
    for (const span of nested) {
      expect(span.traceId).toBe(root.traceId);
      expect(span.parentSpanId).toMatch(/^[0-9a-f]{16}$/);
    }
    // The store call nests under its step, not under the route span.
    const parents = new Set(nested.map((span) => span.parentSpanId));
    expect(parents.size).toBe(2);
  });
});
