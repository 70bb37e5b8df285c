import { memoryStore } from '@rialto-exchange/storage-adapters';
import { Webhook } from 'standardwebhooks';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { request } from './client.js';
import {
  createTestApp,
  exchange,
  idTokenClaims,
  type LocalIssuer,
  recordingStore,
  startLocalIssuer,
} from './helpers.js';
import {
  createWebhook,
  LOCAL_WEBHOOKS,
  type Partner,
  partnerApp,
  patchUser,
  type Receiver,
  type ReceiverBehaviour,
  startReceiver,
} from './webhook-fixtures.js';

let idp: LocalIssuer;
beforeAll(async () => {
  idp = await startLocalIssuer();
});
afterAll(() => idp.close());

const receivers: Receiver[] = [];
async function receiver(behaviour: ReceiverBehaviour = 204): Promise<Receiver> {
  const started = await startReceiver(behaviour);
  receivers.push(started);
  return started;
}
afterEach(async () => {
  await Promise.all(receivers.splice(0).map((started) => started.close()));
});

const nowSeconds = () => Math.floor(Date.now() / 1000);
const run = (partner: Partner, now = nowSeconds()) =>
  partner.t.router.exchange.webhooks.runDueDeliveries({ now });

async function deliveries(partner: Partner, id: string) {
  const response = await request(partner.t.app)
    .get(`/notifications/webhooks/${id}/deliveries`)
    .set('authorization', `Bearer ${partner.accessToken}`);
  expect(response.status).toBe(200);
  return response.body.deliveries;
}

describe('webhook delivery', () => {
  it('delivers user.created for a first exchange, signed so that the standardwebhooks library verifies it', async () => {
    const partner = await partnerApp(idp);
    const hooks = await receiver();
    const { secret } = await createWebhook(partner, { url: hooks.url, eventTypes: ['user.created'] });
    const token = await idp.sign(idTokenClaims(idp.issuer, { sub: 'newcomer', email: 'new@example.com' }));
    const exchanged = await exchange(partner.t.app, partner.apiKey, { token });
    expect(exchanged.status).toBe(200);

    expect(await run(partner)).toEqual({ attempted: 1, succeeded: 1, retrying: 0, failed: 0 });

    expect(hooks.received).toHaveLength(1);
    const [delivery] = hooks.received;
    const payload = new Webhook(secret).verify(
      delivery?.body ?? '',
      delivery?.headers as Record<string, string>,
    );
    expect(payload).toEqual({
      id: delivery?.headers['webhook-id'],
      type: 'user.created',
      timestamp: expect.any(String),
      org_id: partner.orgId,
      data: expect.objectContaining({
        org_id: partner.orgId,
        email: 'new@example.com',
        kyc_status: 'not_started',
      }),
    });
    // A second exchange of the same person creates nothing, so emits nothing.
    await exchange(partner.t.app, partner.apiKey, { token });
    expect(await run(partner)).toMatchObject({ attempted: 0 });
  });

  it('retries a failing receiver on the backoff schedule until it recovers', async () => {
    const partner = await partnerApp(idp);
    const hooks = await receiver(503);
    const { id } = await createWebhook(partner, { url: hooks.url, eventTypes: ['kyc.session.created'] });
    expect((await patchUser(partner, { kyc_status: 'session_created' })).status).toBe(200);
    const start = nowSeconds();

    expect(await run(partner, start)).toEqual({ attempted: 1, succeeded: 0, retrying: 1, failed: 0 });
    // The first retry is due 5 s (±10%) later: not before.
    expect(await run(partner, start + 4)).toMatchObject({ attempted: 0 });
    hooks.behaviour = 204;
    expect(await run(partner, start + 6)).toEqual({ attempted: 1, succeeded: 1, retrying: 0, failed: 0 });

    expect(hooks.received).toHaveLength(2);
    expect(new Set(hooks.received.map((delivery) => delivery.headers['webhook-id'])).size).toBe(1);
    const [log] = await deliveries(partner, id);
    expect(log).toMatchObject({
      event_type: 'kyc.session.created',
      status: 'succeeded',
      next_attempt_at: null,
    });
    expect(log.attempts.map((attempt: { response_status: number }) => attempt.response_status)).toEqual([
      503, 204,
    ]);
  });

  it('gives up after the last retry of the schedule and marks the delivery failed', async () => {
    const partner = await partnerApp(idp, { webhooks: { retryScheduleSeconds: [10, 100] } });
    const hooks = await receiver(500);
    const { id } = await createWebhook(partner, { url: hooks.url, eventTypes: ['*'] });
    await patchUser(partner, { onboarding_completed: true });
    const start = nowSeconds();

    expect(await run(partner, start)).toMatchObject({ retrying: 1 });
    const [pending] = await deliveries(partner, id);
    const retryAt = Date.parse(pending.next_attempt_at) / 1000;
    expect(retryAt - start).toBeGreaterThanOrEqual(9);
    expect(retryAt - start).toBeLessThanOrEqual(11);
    expect(await run(partner, start + 11)).toMatchObject({ retrying: 1 });
    expect(await run(partner, start + 11 + 110)).toMatchObject({ failed: 1 });
    expect(await run(partner, start + 86_400)).toMatchObject({ attempted: 0 });

    const [dead] = await deliveries(partner, id);
    expect(dead).toMatchObject({ status: 'failed', next_attempt_at: null });
    expect(dead.attempts).toHaveLength(3);
    expect(hooks.received).toHaveLength(3);
  });

  it('records a timeout for a receiver that never answers, and retries', async () => {
    const partner = await partnerApp(idp);
    const hooks = await receiver('hang');
    const { id } = await createWebhook(partner, { url: hooks.url, eventTypes: ['*'] });
    await patchUser(partner, { kyc_completed: true });

    expect(await run(partner)).toEqual({ attempted: 1, succeeded: 0, retrying: 1, failed: 0 });

    const [log] = await deliveries(partner, id);
    expect(log.status).toBe('pending');
    expect(log.attempts).toEqual([
      expect.objectContaining({
        response_status: null,
        error: 'timed out after 500 ms',
        response_excerpt: null,
      }),
    ]);
    expect(log.attempts[0].duration_ms).toBeGreaterThanOrEqual(450);
  });

  it('disables the subscription when the receiver answers 410 Gone; new types re-enable it', async () => {
    const partner = await partnerApp(idp);
    const hooks = await receiver(410);
    const { id } = await createWebhook(partner, { url: hooks.url, eventTypes: ['*'] });
    await patchUser(partner, { kyc_status: 'session_created' });

    expect(await run(partner)).toEqual({ attempted: 1, succeeded: 0, retrying: 0, failed: 1 });
    const listed = await request(partner.t.app)
      .get('/notifications/webhooks')
      .set('authorization', `Bearer ${partner.accessToken}`);
    expect(listed.body.webhooks[0]).toMatchObject({ id, disabled: true });
    await patchUser(partner, { kyc_status: 'pii_submitted' });
    expect(await run(partner, nowSeconds() + 86_400)).toMatchObject({ attempted: 0 });

    hooks.behaviour = 204;
    await request(partner.t.app)
      .put(`/notifications/webhooks/${id}/subscriptions`)
      .set('authorization', `Bearer ${partner.accessToken}`)
      .send({ eventTypes: ['*'] });
    await patchUser(partner, { kyc_status: 'processing' });
    expect(await run(partner)).toMatchObject({ succeeded: 1 });
    expect(hooks.received).toHaveLength(2);
  });

  it('two workers on one store never deliver the same event twice', async () => {
    const store = recordingStore(memoryStore());
    const partner = await partnerApp(idp, { store });
    const secondInstance = createTestApp({ store, webhooks: LOCAL_WEBHOOKS }).router.exchange;
    const hooks = await receiver();
    partner.t.router.exchange.webhooks.registerEventType('subscription.created');
    await createWebhook(partner, { url: hooks.url, eventTypes: ['subscription.created'] });
    for (let index = 0; index < 30; index++) {
      await partner.t.router.exchange.webhooks.emit('subscription.created', partner.orgId, { index });
    }

    const [first, second] = await Promise.all([
      partner.t.router.exchange.webhooks.runDueDeliveries(),
      secondInstance.webhooks.runDueDeliveries(),
    ]);

    expect((first?.succeeded ?? 0) + (second?.succeeded ?? 0)).toBe(30);
    const ids = hooks.received.map((delivery) => delivery.headers['webhook-id']);
    expect(ids).toHaveLength(30);
    expect(new Set(ids).size).toBe(30);
  });

  it('survives a restart mid-retry: a new instance on the same store delivers the pending retry', async () => {
    const store = recordingStore(memoryStore());
    const partner = await partnerApp(idp, { store });
    const hooks = await receiver(500);
    await createWebhook(partner, { url: hooks.url, eventTypes: ['accreditation.submitted'] });
    await patchUser(partner, { accredited: true });
    const start = nowSeconds();
    expect(await run(partner, start)).toMatchObject({ retrying: 1 });
    await partner.t.router.close();

    hooks.behaviour = 204;
    const restarted = createTestApp({ store, webhooks: LOCAL_WEBHOOKS }).router.exchange;
    expect(await restarted.webhooks.runDueDeliveries({ now: start + 10 })).toEqual({
      attempted: 1,
      succeeded: 1,
      retrying: 0,
      failed: 0,
    });
    expect(hooks.received.map((delivery) => JSON.parse(delivery.body).type)).toEqual([
      'accreditation.submitted',
      'accreditation.submitted',
    ]);
  });

  it('a delivery whose worker died under lease is attempted again once the lease expires', async () => {
    const store = recordingStore(memoryStore());
    const partner = await partnerApp(idp, { store });
    const hooks = await receiver();
    await createWebhook(partner, { url: hooks.url, eventTypes: ['*'] });
    await patchUser(partner, { onboarding_completed: true });
    const start = nowSeconds();
    // A worker claims the delivery, then its process dies before attempting it.
    const [claimed] = await store.claimWebhookDeliveries({
      now: start,
      limit: 10,
      leaseSeconds: 40,
      leaseToken: 'dead',
    });
    expect(claimed?.eventType).toBe('onboarding.completed');

    expect(await run(partner, start + 39)).toMatchObject({ attempted: 0 });
    expect(await run(partner, start + 40)).toMatchObject({ succeeded: 1 });
    expect(hooks.received).toHaveLength(1);
  });

  it('refuses at connect time a hostname that resolves to a private address (DNS rebinding), recording the refusal', async () => {
    const store = recordingStore(memoryStore());
    // Registered while the host allowed loopback (or while DNS still answered a public one)...
    const partner = await partnerApp(idp, { store });
    const hooks = await receiver();
    const { id } = await createWebhook(partner, {
      url: hooks.url.replace('127.0.0.1', 'localhost'),
      eventTypes: ['*'],
    });
    await patchUser(partner, { onboarding_completed: true });
    // ...then delivered by an instance that only allows public addresses.
    const strict = createTestApp({ store, webhooks: { ...LOCAL_WEBHOOKS, allowLoopbackUrls: false } }).router
      .exchange;

    expect(await strict.webhooks.runDueDeliveries()).toMatchObject({ attempted: 1, retrying: 1 });

    expect(hooks.received).toEqual([]);
    const [log] = await deliveries(partner, id);
    expect(log.attempts[0]).toMatchObject({
      response_status: null,
      error: 'destination refused: localhost resolves to a loopback address',
    });
  });
});

describe('background worker', () => {
  it('delivers on its own timer until close() stops it', async () => {
    const partner = await partnerApp(idp, { webhooks: { worker: { intervalMs: 20 } } });
    const hooks = await receiver();
    await createWebhook(partner, { url: hooks.url, eventTypes: ['*'] });

    await patchUser(partner, { kyc_status: 'session_created' });
    await vi.waitFor(() => expect(hooks.received).toHaveLength(1), { timeout: 5_000, interval: 20 });

    await partner.t.router.close();
    await patchUser(partner, { kyc_status: 'pii_submitted' });
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(hooks.received).toHaveLength(1);
    expect(await run(partner)).toMatchObject({ succeeded: 1 });
  });
});

describe('host-defined events', () => {
  it('emits a registered type to subscribers naming it or "*", and to no one else', async () => {
    const partner = await partnerApp(idp);
    const { webhooks } = partner.t.router.exchange;
    const [named, wildcard, other] = [await receiver(), await receiver(), await receiver()];
    const refused = await request(partner.t.app)
      .post('/notifications/webhooks')
      .set('authorization', `Bearer ${partner.accessToken}`)
      .send({ url: named.url, eventTypes: ['subscription.funded'] });
    expect(refused.status).toBe(400);

    webhooks.registerEventType('subscription.funded');
    await createWebhook(partner, { url: named.url, eventTypes: ['subscription.funded'] });
    await createWebhook(partner, { url: wildcard.url, eventTypes: ['*'] });
    await createWebhook(partner, { url: other.url, eventTypes: ['user.created'] });
    await webhooks.emit('subscription.funded', partner.orgId, { amount: '100.00' });

    expect(await run(partner)).toMatchObject({ succeeded: 2 });
    for (const hooks of [named, wildcard]) {
      expect(JSON.parse(hooks.received[0]?.body ?? '{}')).toMatchObject({
        type: 'subscription.funded',
        org_id: partner.orgId,
        data: { amount: '100.00' },
      });
    }
    expect(other.received).toEqual([]);
  });

  it('throws a TypeError when emitting an unregistered type or registering a malformed one', async () => {
    const { webhooks } = createTestApp({ webhooks: LOCAL_WEBHOOKS }).router.exchange;
    await expect(webhooks.emit('subscription.created', 'org', {})).rejects.toThrow(TypeError);
    await expect(webhooks.emit('subscription.created', 'org', {})).rejects.toThrow(
      'webhooks.emit: "subscription.created" is not a registered event type; call webhooks.registerEventType() first',
    );
    expect(() => webhooks.registerEventType('Not A Type')).toThrow(TypeError);
    expect(() => webhooks.registerEventType('Not A Type')).toThrow(
      'webhooks.registerEventType: "Not A Type" must be dotted lower-case segments',
    );
  });
});
