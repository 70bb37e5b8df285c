import { context, SpanStatusCode, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  type ReadableSpan,
  SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import { type DevIdp, startDevIdp } from '@rialto-exchange/dev-idp';
import request from 'supertest';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, exchange, registerOrganization, type TestApp } from './helpers.js';

describe('OpenTelemetry spans, once the host installs an SDK', () => {
  const exporter = new InMemorySpanExporter();
  const contextManager = new AsyncLocalStorageContextManager();
  let idp: DevIdp;
  let t: TestApp;
  let apiKey: string;

  beforeAll(async () => {
    // The exchange is created before the SDK is registered, as when a host sets tracing up late:
    // its tracer delegates as soon as the provider appears.
    idp = await startDevIdp();
    t = createTestApp({ rateLimit: false, webhooks: { worker: false } });
    ({ apiKey } = await registerOrganization(t.app, {
      name: 'Acme Capital',
      issuer: idp.issuer,
      client_ids: [idp.clientId],
    }));
    context.setGlobalContextManager(contextManager.enable());
    trace.setGlobalTracerProvider(
      new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] }),
    );
  });
  afterEach(() => exporter.reset());
  afterAll(async () => {
    trace.disable();
    context.disable();
    await idp.close();
  });

  const named = (spans: ReadableSpan[], name: string) => spans.filter((span) => span.name === name);
  const only = (spans: ReadableSpan[], name: string) => {
    const found = named(spans, name);
    expect(found, name).toHaveLength(1);
    return found[0] as ReadableSpan;
  };
  const parentOf = (span: ReadableSpan) => span.parentSpanContext?.spanId;

  it('traces an exchange: its steps, the IdP fetches inside verification and the store calls inside provisioning', async () => {
    const idToken = await idp.getIdToken({ email: 'ada@example.com' });
    const response = await exchange(t.app, apiKey, { token: idToken });
    expect(response.status).toBe(200);
    const spans = exporter.getFinishedSpans();

    const root = only(spans, 'POST /identity/auth/exchange');
    expect(root.attributes).toEqual({
      'http.route': '/identity/auth/exchange',
      'http.request.method': 'POST',
      'http.response.status_code': 200,
    });
    // One span per step, in the order the exchange runs them, each a child of the route's span.
    const stepNames = [
      'api_key',
      'org_standing',
      'org_rate_limit',
      'token_shape',
      'issuer',
      'discovery',
      'signature',
      'times',
      'token_type',
      'audience',
      'claims',
      'grant',
      'policy',
      'linking',
      'minting',
    ];
    // Spans are exported as they end, and each step ends before the next starts.
    expect(spans.map((span) => span.name).filter((name) => name.startsWith('rialto.exchange.'))).toEqual(
      stepNames.map((name) => `rialto.exchange.${name}`),
    );
    const steps = new Map(stepNames.map((name) => [name, only(spans, `rialto.exchange.${name}`)]));
    for (const step of steps.values()) expect(parentOf(step)).toBe(root.spanContext().spanId);
    for (const span of spans) expect(span.spanContext().traceId).toBe(root.spanContext().traceId);

    const fetches = named(spans, 'rialto.idp.fetch');
    expect(fetches.map((span) => span.attributes['rialto.idp.document']).sort()).toEqual([
      'discovery',
      'jwks',
    ]);
    for (const fetch of fetches) {
      expect(parentOf(fetch)).toBe(steps.get('discovery')?.spanContext().spanId);
      expect(fetch.attributes['server.address']).toBe('127.0.0.1');
    }
    const findOrCreate = only(spans, 'rialto.store.findOrCreateUser');
    expect(parentOf(findOrCreate)).toBe(steps.get('linking')?.spanContext().spanId);
    expect(findOrCreate.attributes).toEqual({ 'db.system.name': 'rialto-store' });

    // No span name or attribute carries the API key, a token, the email or the signing material.
    const recorded = JSON.stringify(spans.map((span) => ({ name: span.name, attributes: span.attributes })));
    for (const secret of [
      apiKey,
      idToken,
      response.body.access_token,
      response.body.refresh_token,
      'ada@example.com',
    ]) {
      expect(recorded).not.toContain(secret);
    }
  });

  it('marks the failing step with its error code and nothing else', async () => {
    const response = await exchange(t.app, 'rialto_ak_not-a-real-key', { token: 'x' });
    expect(response.status).toBe(401);
    const spans = exporter.getFinishedSpans();
    const step = only(spans, 'rialto.exchange.api_key');
    expect(step.status).toEqual({ code: SpanStatusCode.ERROR });
    expect(step.attributes).toEqual({ 'error.type': 'invalid_api_key' });
    expect(step.events).toEqual([]);
    expect(only(spans, 'POST /identity/auth/exchange').attributes['http.response.status_code']).toBe(401);
  });

  it('names spans of parameterized routes by their template, not by the ids in the path', async () => {
    const idToken = await idp.getIdToken({ email: 'grace@example.com' });
    const { body } = await exchange(t.app, apiKey, { token: idToken });
    exporter.reset();
    const user = await request(t.app)
      .get(`/identity/users/${JSON.parse(atob(body.access_token.split('.')[1])).user_id}`)
      .set('authorization', `Bearer ${body.access_token}`);
    expect(user.status).toBe(200);
    expect(exporter.getFinishedSpans().map((span) => span.name)).toContain('GET /identity/users/:id');
  });
});
