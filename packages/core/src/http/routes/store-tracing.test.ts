import { trace } from '@opentelemetry/api';
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import { memoryStore } from '@rialto-exchange/storage-adapters';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRialtoExchange, type RequestLike, type RialtoExchange } from '../../index.js';

const ADMIN_TOKEN = 'admin-token-0123456789';

/**
 * Route handlers reach the store only through services, whose store is the traced one: every store
 * call of a request shows as a `rialto.store.<method>` span. These routes once read `options.store`,
 * the host's store without spans.
 */
describe('the store calls of user and webhook routes', () => {
  const exporter = new InMemorySpanExporter();
  let exchange: RialtoExchange;
  const ids = { apiKey: '', userId: '', webhookId: '' };

  beforeAll(async () => {
    trace.setGlobalTracerProvider(
      new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] }),
    );
    exchange = createRialtoExchange({
      issuer: 'http://localhost:3000',
      store: memoryStore(),
      adminToken: ADMIN_TOKEN,
      allowInsecureIssuers: true,
      allowPrivateIssuers: true,
      allowedAudiences: [],
      logger: false,
      webhooks: {
        worker: false,
        allowInsecureUrls: true,
        allowLoopbackUrls: true,
        allowPrivateAddresses: true,
      },
    });
    const { organization, apiKey } = await exchange.organizations.register({
      name: 'Acme',
      issuer: 'http://127.0.0.1:9/idp',
    });
    ids.apiKey = apiKey;
    ids.userId = (await exchange.users.create(organization.orgId, { email: 'ada@example.com' })).userId;
    const webhook = await exchange.handle({
      method: 'POST',
      path: '/notifications/webhooks',
      headers: { 'x-api-key': apiKey },
      body: JSON.stringify({ url: 'http://127.0.0.1:9/hook', eventTypes: ['user.created'] }),
    });
    expect(webhook?.status).toBe(201);
    ids.webhookId = (webhook?.body as { id: string } | undefined)?.id ?? '';
  });
  afterAll(async () => {
    trace.disable();
    await exchange.close();
  });

  const byKey = () => ({ 'x-api-key': ids.apiKey });
  const byAdmin = () => ({ authorization: `Bearer ${ADMIN_TOKEN}` });

  it.each([
    ['GET /identity/users/:id', 'getUser', () => ['GET', `/identity/users/${ids.userId}`, byKey()]],
    [
      'PATCH /identity/users/:id by the admin',
      'getUserById',
      () => ['PATCH', `/identity/users/${ids.userId}`, byAdmin(), { onboarding_completed: true }],
    ],
    [
      'PUT /identity/users/:id/role by the admin',
      'getUserById',
      () => ['PUT', `/identity/users/${ids.userId}/role`, byAdmin(), { role: 'member' }],
    ],
    [
      'GET /notifications/webhooks/:id/deliveries',
      'listWebhookDeliveries',
      () => ['GET', `/notifications/webhooks/${ids.webhookId}/deliveries`, byKey()],
    ],
  ] as const)('%s reads through the traced store (rialto.store.%s)', async (_, storeMethod, call) => {
    const [method, path, headers, body] = call() as [string, string, RequestLike['headers'], unknown?];
    exporter.reset();
    const response = await exchange.handle({
      method,
      path,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    expect(response?.status).toBe(200);
    const names = exporter.getFinishedSpans().map((span) => span.name);
    expect(names).toContain(`rialto.store.${storeMethod}`);
  });
});
