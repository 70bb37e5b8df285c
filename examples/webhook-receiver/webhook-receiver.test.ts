import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { rialtoExchange } from '@rialto-exchange/express';
import { memoryStore } from '@rialto-exchange/storage-adapters';
import request from 'supertest';
import { afterEach, describe, expect, it } from 'vitest';
import { createWebhookReceiver, type RialtoEvent } from './receiver.js';

const servers: Server[] = [];
afterEach(async () => {
  for (const server of servers.splice(0)) {
    server.close();
    await once(server, 'close');
  }
});

/** The exchange (memory store, worker run by hand) with one org subscribed to the receiver. */
async function setup(nowSeconds = () => Math.floor(Date.now() / 1000)) {
  const handled: RialtoEvent[] = [];
  const captured: { headers: Record<string, string>; body: string }[] = [];
  const store = memoryStore();
  const exchange = rialtoExchange({
    issuer: 'http://localhost:3000',
    store,
    webhooks: { allowInsecureUrls: true, allowPrivateAddresses: true, worker: false },
  }).exchange;
  const { organization } = await exchange.registerOrganization({
    name: 'Acme',
    issuer: 'https://idp.example.com',
  });
  const secret = `whsec_${Buffer.alloc(32, 7).toString('base64')}`;

  const receiver = createWebhookReceiver({
    secret,
    nowSeconds,
    onEvent: (event) => void handled.push(event),
  });
  // Keep what was sent, to replay it later.
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () =>
      captured.push({
        headers: req.headers as Record<string, string>,
        body: Buffer.concat(chunks).toString(),
      }),
    );
    receiver(req, res);
  }).listen(0, '127.0.0.1');
  servers.push(server);
  await once(server, 'listening');
  const now = Math.floor(Date.now() / 1000);
  await store.createWebhookSubscription({
    subscriptionId: crypto.randomUUID(),
    orgId: organization.orgId,
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/webhooks/rialto`,
    description: null,
    eventTypes: ['*'],
    secret,
    previousSecret: null,
    previousSecretExpiresAt: null,
    disabledAt: null,
    createdAt: now,
    updatedAt: now,
  });
  exchange.webhooks.registerEventType('subscription.created');
  return { exchange, orgId: organization.orgId, receiver, handled, captured };
}

function replay(
  app: ReturnType<typeof createWebhookReceiver>,
  sent: { headers: Record<string, string>; body: string },
) {
  return request(app)
    .post('/webhooks/rialto')
    .set('content-type', 'application/json')
    .set('webhook-id', sent.headers['webhook-id'] ?? '')
    .set('webhook-timestamp', sent.headers['webhook-timestamp'] ?? '')
    .set('webhook-signature', sent.headers['webhook-signature'] ?? '')
    .send(sent.body);
}

describe('example webhook receiver', () => {
  it('verifies and handles a delivery, and handles a redelivery of the same webhook-id only once', async () => {
    const { exchange, orgId, receiver, handled, captured } = await setup();
    await exchange.webhooks.emit('subscription.created', orgId, { subscription_id: 'sub_1' });

    expect(await exchange.webhooks.runDueDeliveries()).toMatchObject({ succeeded: 1 });
    expect(handled).toEqual([
      expect.objectContaining({
        type: 'subscription.created',
        org_id: orgId,
        data: { subscription_id: 'sub_1' },
      }),
    ]);

    const sent = captured[0] ?? expect.unreachable();
    expect((await replay(receiver, sent)).status).toBe(204);
    expect(handled).toHaveLength(1);
  });

  it('refuses a tampered body and a replay outside the tolerance window with 400', async () => {
    let clock = Math.floor(Date.now() / 1000);
    const { exchange, orgId, receiver, handled, captured } = await setup(() => clock);
    await exchange.webhooks.emit('subscription.created', orgId, { amount: 1 });
    await exchange.webhooks.runDueDeliveries();
    const sent = captured[0] ?? expect.unreachable();

    const tampered = await replay(receiver, {
      ...sent,
      body: sent.body.replace('"amount":1', '"amount":1000'),
    });
    expect(tampered.status).toBe(400);
    expect(tampered.body).toEqual({ error: 'invalid_signature' });

    clock += 600;
    const late = await replay(receiver, sent);
    expect(late.status).toBe(400);
    expect(late.body).toEqual({ error: 'timestamp_out_of_tolerance' });
    expect(handled).toHaveLength(1);
  });
});
