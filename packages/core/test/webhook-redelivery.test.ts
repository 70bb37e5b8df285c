import { randomUUID } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { request } from './client.js';
import { ADMIN_TOKEN, expectFailsWith, type LocalIssuer, startLocalIssuer } from './helpers.js';
import {
  createWebhook,
  type Partner,
  partnerApp,
  patchUser,
  type Receiver,
  type ReceiverBehaviour,
  startReceiver,
} from './webhook-fixtures.js';

/**
 * Redelivering one webhook delivery: partners with their API key or an org admin's token, the
 * service admin (and the console) through the organization's admin routes, which also list an
 * organization's webhooks and their deliveries.
 */

let idp: LocalIssuer;
beforeAll(async () => {
  idp = await startLocalIssuer();
});
afterAll(() => idp.close());

const receivers: Receiver[] = [];
async function receiver(behaviour: ReceiverBehaviour): Promise<Receiver> {
  const started = await startReceiver(behaviour);
  receivers.push(started);
  return started;
}
afterEach(async () => {
  await Promise.all(receivers.splice(0).map((started) => started.close()));
});

const nowSeconds = () => Math.floor(Date.now() / 1000);
const admin = `Bearer ${ADMIN_TOKEN}`;

/** A partner whose one delivery failed for good: no retries, the receiver answered 500. */
async function deadDelivery(): Promise<{
  partner: Partner;
  hooks: Receiver;
  webhookId: string;
  deliveryId: string;
}> {
  const partner = await partnerApp(idp, { webhooks: { retryScheduleSeconds: [] } });
  const hooks = await receiver(500);
  const { id: webhookId } = await createWebhook(partner, { url: hooks.url, eventTypes: ['*'] });
  expect((await patchUser(partner, { onboarding_completed: true })).status).toBe(200);
  expect(await partner.t.router.exchange.webhooks.runDueDeliveries({ now: nowSeconds() })).toMatchObject({
    failed: 1,
  });
  const listed = await request(partner.t.app)
    .get(`/notifications/webhooks/${webhookId}/deliveries`)
    .set('x-api-key', partner.apiKey);
  expect(listed.body.deliveries).toEqual([
    expect.objectContaining({ status: 'failed', next_attempt_at: null, attempts: [expect.anything()] }),
  ]);
  return { partner, hooks, webhookId, deliveryId: listed.body.deliveries[0].id };
}

describe('POST /notifications/webhooks/{webhook_id}/deliveries/{delivery_id}/redeliver', () => {
  it('makes a failed delivery due now with its attempts kept; the worker then delivers it; a second call changes nothing', async () => {
    const { partner, hooks, webhookId, deliveryId } = await deadDelivery();
    const path = `/notifications/webhooks/${webhookId}/deliveries/${deliveryId}/redeliver`;

    const response = await request(partner.t.app).post(path).set('x-api-key', partner.apiKey);
    expect(response.status).toBe(200);
    expect(response.headers['cache-control']).toBe('no-store');
    expect(response.body).toEqual({
      id: deliveryId,
      event_id: expect.any(String),
      event_type: 'onboarding.completed',
      status: 'pending',
      next_attempt_at: expect.stringMatching(/^\d{4}-/),
      attempts: [expect.objectContaining({ response_status: 500 })],
      created_at: expect.any(String),
    });
    const again = await request(partner.t.app)
      .post(path)
      .set('authorization', `Bearer ${partner.accessToken}`);
    expect(again.status).toBe(200);
    expect(again.body).toMatchObject({ id: deliveryId, status: 'pending', attempts: [expect.anything()] });

    hooks.behaviour = 204;
    expect(
      await partner.t.router.exchange.webhooks.runDueDeliveries({ now: nowSeconds() + 1 }),
    ).toMatchObject({
      attempted: 1,
      succeeded: 1,
    });
    expect(hooks.received).toHaveLength(2);
    // The same event, byte for byte, with the same webhook-id: receivers deduplicate on it.
    expect(hooks.received[1]?.body).toBe(hooks.received[0]?.body);
    expect(hooks.received[1]?.headers['webhook-id']).toBe(hooks.received[0]?.headers['webhook-id']);
    const [delivered] = (
      await request(partner.t.app)
        .get(`/notifications/webhooks/${webhookId}/deliveries`)
        .set('x-api-key', partner.apiKey)
    ).body.deliveries;
    expect(delivered).toMatchObject({ status: 'succeeded', next_attempt_at: null });
    expect(delivered.attempts.map((attempt: { response_status: number }) => attempt.response_status)).toEqual(
      [500, 204],
    );
  });

  it("answers 404 not_found for an unknown delivery, an id that is not one, and another organization's webhook, changing nothing", async () => {
    const { partner, webhookId, deliveryId } = await deadDelivery();
    const other = await partnerApp(idp);
    const redeliver = (target: Partner, path: string) =>
      request(target.t.app).post(path).set('x-api-key', target.apiKey);

    expectFailsWith(
      await redeliver(partner, `/notifications/webhooks/${webhookId}/deliveries/${randomUUID()}/redeliver`),
      404,
      'not_found',
      'No such delivery of this webhook.',
    );
    expectFailsWith(
      await redeliver(partner, `/notifications/webhooks/${webhookId}/deliveries/not-an-id/redeliver`),
      404,
      'not_found',
      'No such delivery of this webhook.',
    );
    expectFailsWith(
      await redeliver(partner, `/notifications/webhooks/${randomUUID()}/deliveries/${deliveryId}/redeliver`),
      404,
      'not_found',
      'No such webhook in your organization.',
    );
    // Another org's webhook does not exist for this partner, wherever its deliveries are.
    const otherHook = await createWebhook(other, { url: 'http://127.0.0.1:9/hooks', eventTypes: ['*'] });
    expectFailsWith(
      await redeliver(other, `/notifications/webhooks/${webhookId}/deliveries/${deliveryId}/redeliver`),
      404,
      'not_found',
      'No such webhook in your organization.',
    );
    expectFailsWith(
      await redeliver(other, `/notifications/webhooks/${otherHook.id}/deliveries/${deliveryId}/redeliver`),
      404,
      'not_found',
      'No such delivery of this webhook.',
    );
    const [still] = (
      await request(partner.t.app)
        .get(`/notifications/webhooks/${webhookId}/deliveries`)
        .set('x-api-key', partner.apiKey)
    ).body.deliveries;
    expect(still).toMatchObject({ status: 'failed', next_attempt_at: null });
  });

  it("answers 403 insufficient_role for a plain member's access token: a subscription receives every user's events", async () => {
    const { partner, webhookId, deliveryId } = await deadDelivery();
    const demoted = await request(partner.t.app)
      .put(`/identity/users/${partner.userId}/role`)
      .set('x-api-key', partner.apiKey)
      .send({ role: 'member' });
    expect(demoted.status).toBe(200);
    const response = await request(partner.t.app)
      .post(`/notifications/webhooks/${webhookId}/deliveries/${deliveryId}/redeliver`)
      .set('authorization', `Bearer ${partner.accessToken}`);
    expectFailsWith(response, 403, 'insufficient_role');
  });
});

describe("an organization's webhooks through the admin routes", () => {
  it('lists the webhooks without secrets and their deliveries, and redelivers one', async () => {
    const { partner, webhookId, deliveryId } = await deadDelivery();
    const base = `/identity/organizations/${partner.orgId}/webhooks`;

    const listed = await request(partner.t.app).get(base).set('authorization', admin);
    expect(listed.status).toBe(200);
    expect(listed.body).toEqual({
      webhooks: [
        {
          id: webhookId,
          url: expect.stringMatching(/^http:\/\/127\.0\.0\.1:\d+\/hooks$/),
          description: null,
          eventTypes: ['*'],
          disabled: false,
          created_at: expect.any(String),
        },
      ],
    });
    expect(JSON.stringify(listed.body)).not.toContain('whsec_');

    const deliveries = await request(partner.t.app)
      .get(`${base}/${webhookId}/deliveries`)
      .set('authorization', admin);
    expect(deliveries.status).toBe(200);
    expect(deliveries.body.deliveries).toEqual([
      expect.objectContaining({ id: deliveryId, status: 'failed' }),
    ]);

    const redelivered = await request(partner.t.app)
      .post(`${base}/${webhookId}/deliveries/${deliveryId}/redeliver`)
      .set('authorization', admin);
    expect(redelivered.status).toBe(200);
    expect(redelivered.body).toMatchObject({
      id: deliveryId,
      status: 'pending',
      attempts: [expect.anything()],
    });
  });

  it('answers 404 not_found for an unknown organization, webhook or delivery', async () => {
    const { partner, webhookId } = await deadDelivery();
    const call = (method: 'get' | 'post', path: string) =>
      request(partner.t.app)[method](path).set('authorization', admin);
    expectFailsWith(
      await call('get', `/identity/organizations/${randomUUID()}/webhooks`),
      404,
      'not_found',
      'No such organization.',
    );
    expectFailsWith(
      await call('get', `/identity/organizations/${partner.orgId}/webhooks/${randomUUID()}/deliveries`),
      404,
      'not_found',
      'No such webhook in your organization.',
    );
    expectFailsWith(
      await call(
        'post',
        `/identity/organizations/${partner.orgId}/webhooks/${webhookId}/deliveries/${randomUUID()}/redeliver`,
      ),
      404,
      'not_found',
      'No such delivery of this webhook.',
    );
  });
});
