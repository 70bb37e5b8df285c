import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request } from './client.js';
import { expectFailsWith, type LocalIssuer, startLocalIssuer } from './helpers.js';
import { createWebhook, type Partner, partnerApp, type Receiver, startReceiver } from './webhook-fixtures.js';

let idp: LocalIssuer;
let receiver: Receiver;
beforeAll(async () => {
  [idp, receiver] = await Promise.all([startLocalIssuer(), startReceiver()]);
});
afterAll(async () => {
  await Promise.all([idp.close(), receiver.close()]);
});

const NOT_FOUND = 'No such webhook in your organization.';
const bearer = (partner: Partner) => `Bearer ${partner.accessToken}`;

describe('POST /notifications/webhooks', () => {
  it('creates a subscription and shows its signing secret once', async () => {
    const partner = await partnerApp(idp);
    const response = await request(partner.t.app)
      .post('/notifications/webhooks')
      .set('authorization', bearer(partner))
      .send({ url: receiver.url, description: 'KYC', eventTypes: ['kyc.session.approved', 'user.created'] });

    expect(response.status).toBe(201);
    expect(response.headers['cache-control']).toBe('no-store');
    expect(response.body).toEqual({
      id: expect.stringMatching(/^[0-9a-f-]{36}$/),
      url: receiver.url,
      description: 'KYC',
      eventTypes: ['kyc.session.approved', 'user.created'],
      signing_secret: expect.stringMatching(/^whsec_[A-Za-z0-9+/]{43}=$/),
      created_at: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
    });
    const listed = await request(partner.t.app)
      .get('/notifications/webhooks')
      .set('authorization', bearer(partner));
    expect(listed.status).toBe(200);
    expect(listed.body).toEqual({
      webhooks: [
        {
          id: response.body.id,
          url: receiver.url,
          description: 'KYC',
          eventTypes: ['kyc.session.approved', 'user.created'],
          disabled: false,
          created_at: response.body.created_at,
        },
      ],
    });
    expect(JSON.stringify(listed.body)).not.toContain('whsec_');
  });

  it('answers unauthorized 401 without a credential and invalid_access_token 401 for a bad one, writing nothing', async () => {
    const partner = await partnerApp(idp);
    partner.t.store.resetWrites();
    const body = { url: receiver.url, eventTypes: ['user.created'] };

    expectFailsWith(
      await request(partner.t.app).post('/notifications/webhooks').send(body),
      401,
      'unauthorized',
    );
    expectFailsWith(
      await request(partner.t.app)
        .post('/notifications/webhooks')
        .set('authorization', 'Bearer not.a.token')
        .send(body),
      401,
      'invalid_access_token',
    );
    expect(partner.t.store.writes).toEqual([]);
  });

  describe('with the default destination policy (https, public addresses only)', () => {
    let strict: Partner;
    beforeAll(async () => {
      strict = await partnerApp(idp, {
        webhooks: { allowInsecureUrls: false, allowPrivateAddresses: false, allowLoopbackUrls: false },
      });
    });

    it.each([
      [
        'an unknown event type',
        { url: 'https://hooks.example.com/x', eventTypes: ['kyc.unknown'] },
        'eventTypes: unknown event type "kyc.unknown".',
      ],
      [
        'no event types',
        { url: 'https://hooks.example.com/x', eventTypes: [] },
        'eventTypes: Too small: expected array to have >=1 items',
      ],
      [
        'an unknown field',
        { url: 'https://hooks.example.com/x', eventTypes: ['*'], secret: 'x' },
        'Unrecognized key: "secret"',
      ],
      [
        'an http URL',
        { url: 'http://hooks.example.com/x', eventTypes: ['*'] },
        'url: The URL must use https.',
      ],
      [
        'a relative URL',
        { url: '/hooks', eventTypes: ['*'] },
        'url: The URL must be an absolute URL of at most 2048 characters.',
      ],
      [
        'a loopback literal',
        { url: 'https://127.0.0.1/x', eventTypes: ['*'] },
        'url: The URL must point to a public address.',
      ],
      [
        'a private literal',
        { url: 'https://10.1.2.3/x', eventTypes: ['*'] },
        'url: The URL must point to a public address.',
      ],
      [
        'a link-local literal',
        { url: 'https://169.254.169.254/latest', eventTypes: ['*'] },
        'url: The URL must point to a public address.',
      ],
      [
        'an IPv6 loopback literal',
        { url: 'https://[::1]/x', eventTypes: ['*'] },
        'url: The URL must point to a public address.',
      ],
      [
        'a hostname resolving to 127.0.0.1',
        { url: 'https://localhost/x', eventTypes: ['*'] },
        'url: The URL must point to a public address.',
      ],
    ])('refuses %s with invalid_request 400, writing nothing', async (_, body, description) => {
      strict.t.store.resetWrites();
      const response = await request(strict.t.app)
        .post('/notifications/webhooks')
        .set('authorization', bearer(strict))
        .send(body);
      expectFailsWith(response, 400, 'invalid_request');
      expect(response.body.error_description).toBe(description);
      expect(strict.t.store.writes).toEqual([]);
    });
  });
});

describe('relaxed destination policies', () => {
  const create = (partner: Partner, url: string) =>
    request(partner.t.app)
      .post('/notifications/webhooks')
      .set('authorization', bearer(partner))
      .send({ url, eventTypes: ['*'] });

  it('allowLoopbackUrls accepts a receiver on loopback but no private network', async () => {
    const partner = await partnerApp(idp, {
      webhooks: { allowInsecureUrls: true, allowLoopbackUrls: true, allowPrivateAddresses: false },
    });
    expect((await create(partner, 'http://localhost:4000/hooks')).status).toBe(201);
    expect((await create(partner, 'http://[::1]:4000/hooks')).status).toBe(201);
    partner.t.store.resetWrites();
    for (const url of ['https://10.1.2.3/x', 'https://[fd00::1]/x', 'https://[::ffff:192.168.0.1]/x']) {
      const response = await create(partner, url);
      expectFailsWith(response, 400, 'invalid_request');
      expect(response.body.error_description).toBe('url: The URL must point to a public address.');
    }
    expect(partner.t.store.writes).toEqual([]);
  });

  it.each([
    'https://169.254.169.254/latest/meta-data/',
    'https://[fd00:ec2::254]/latest/meta-data/',
    'https://[::ffff:169.254.169.254]/x',
    'https://[64:ff9b::a9fe:a9fe]/x',
    'https://[2002:a9fe:a9fe::1]/x',
    'https://100.100.100.200/x',
  ])('refuses the metadata address %s even with every switch on', async (url) => {
    const partner = await partnerApp(idp, {
      webhooks: { allowInsecureUrls: true, allowLoopbackUrls: true, allowPrivateAddresses: true },
    });
    partner.t.store.resetWrites();
    const response = await create(partner, url);
    expectFailsWith(response, 400, 'invalid_request');
    expect(response.body.error_description).toBe('url: The URL must point to a public address.');
    expect(partner.t.store.writes).toEqual([]);
  });
});

describe('managing subscriptions', () => {
  it('replaces event types with PUT …/subscriptions; "*" subscribes to every type', async () => {
    const partner = await partnerApp(idp);
    const { id } = await createWebhook(partner, { url: receiver.url, eventTypes: ['user.created'] });

    const response = await request(partner.t.app)
      .put(`/notifications/webhooks/${id}/subscriptions`)
      .set('authorization', bearer(partner))
      .send({ eventTypes: ['*', 'accreditation.verified', '*'] });

    expect(response.status).toBe(200);
    expect(response.body).toMatchObject({ id, eventTypes: ['*', 'accreditation.verified'], disabled: false });
    const refused = await request(partner.t.app)
      .put(`/notifications/webhooks/${id}/subscriptions`)
      .set('authorization', bearer(partner))
      .send({ eventTypes: ['nope.nope'] });
    expectFailsWith(refused, 400, 'invalid_request', /^eventTypes: unknown event type "nope\.nope"\.$/);
  });

  it('rotates the secret: deliveries verify with the new secret, and with the old one only for a day', async () => {
    const partner = await partnerApp(idp);
    const { id, secret: oldSecret } = await createWebhook(partner, { url: receiver.url, eventTypes: ['*'] });
    const ping = async () => {
      const before = receiver.received.length;
      const response = await request(partner.t.app)
        .post(`/notifications/webhooks/${id}/test`)
        .set('authorization', bearer(partner));
      expect(response.status).toBe(200);
      const delivery = receiver.received[before] ?? expect.unreachable();
      return { body: delivery.body, headers: delivery.headers as Record<string, string> };
    };

    const rotated = await request(partner.t.app)
      .post(`/notifications/webhooks/${id}/rotate-secret`)
      .set('authorization', bearer(partner));
    expect(rotated.status).toBe(200);
    expect(rotated.body).toEqual({ id, signing_secret: expect.stringMatching(/^whsec_/) });
    const newSecret: string = rotated.body.signing_secret;
    expect(newSecret).not.toBe(oldSecret);

    const during = await ping();
    expect(during.headers['webhook-signature']?.split(' ')).toHaveLength(2);
    expect(() => new Webhook(newSecret).verify(during.body, during.headers)).not.toThrow();
    expect(() => new Webhook(oldSecret).verify(during.body, during.headers)).not.toThrow();

    const { previousSecretExpiresAt } =
      (await partner.t.store.getWebhookSubscription(partner.orgId, id)) ?? {};
    expect((previousSecretExpiresAt ?? 0) - Math.floor(Date.now() / 1000)).toBeGreaterThan(86_000);
    // A day later the old secret no longer signs.
    await partner.t.store.updateWebhookSubscription(partner.orgId, id, { previousSecretExpiresAt: 1 }, 1);
    const after = await ping();
    expect(() => new Webhook(newSecret).verify(after.body, after.headers)).not.toThrow();
    expect(() => new Webhook(oldSecret).verify(after.body, after.headers)).toThrow();
  });

  it('deletes a subscription; deleting it again is not_found 404', async () => {
    const partner = await partnerApp(idp);
    const { id } = await createWebhook(partner, { url: receiver.url, eventTypes: ['*'] });
    const remove = () =>
      request(partner.t.app).delete(`/notifications/webhooks/${id}`).set('authorization', bearer(partner));

    const response = await remove();
    expect(response.status).toBe(200);
    expect(response.body).toEqual({ id, deleted: true });
    expectFailsWith(await remove(), 404, 'not_found', NOT_FOUND);
    expect(
      (await request(partner.t.app).get('/notifications/webhooks').set('authorization', bearer(partner)))
        .body,
    ).toEqual({
      webhooks: [],
    });
  });

  it("isolates organizations: org B cannot see, test, change or delete org A's webhook", async () => {
    const orgA = await partnerApp(idp);
    const { id } = await createWebhook(orgA, { url: receiver.url, eventTypes: ['*'] });
    // Org B is another organization on the same exchange (same app and store).
    const otherIdp = await startLocalIssuer();
    try {
      const orgB = await partnerApp(otherIdp, { store: orgA.t.store });
      const asB = (call: request.Test) => call.set('authorization', bearer(orgB));
      const app = orgB.t.app;

      expect((await asB(request(app).get('/notifications/webhooks'))).body).toEqual({ webhooks: [] });
      for (const call of [
        request(app).delete(`/notifications/webhooks/${id}`),
        request(app).post(`/notifications/webhooks/${id}/test`),
        request(app).post(`/notifications/webhooks/${id}/rotate-secret`),
        request(app).get(`/notifications/webhooks/${id}/deliveries`),
        request(app)
          .put(`/notifications/webhooks/${id}/subscriptions`)
          .send({ eventTypes: ['*'] }),
      ]) {
        expectFailsWith(await asB(call), 404, 'not_found', NOT_FOUND);
      }
      expectFailsWith(
        await asB(request(app).delete('/notifications/webhooks/not-a-uuid')),
        404,
        'not_found',
        NOT_FOUND,
      );
      expect(await orgA.t.store.getWebhookSubscription(orgA.orgId, id)).toMatchObject({ subscriptionId: id });
    } finally {
      await otherIdp.close();
    }
  });
});

describe('POST /notifications/webhooks/:id/test and GET …/deliveries', () => {
  it('sends a signed test.ping at once, which the standardwebhooks library verifies, and logs the attempt', async () => {
    const partner = await partnerApp(idp);
    const { id, secret } = await createWebhook(partner, { url: receiver.url, eventTypes: ['user.created'] });
    const before = receiver.received.length;

    const response = await request(partner.t.app)
      .post(`/notifications/webhooks/${id}/test`)
      .set('authorization', bearer(partner));

    expect(response.status).toBe(200);
    expect(response.body).toEqual({
      id: expect.any(String),
      event_id: expect.any(String),
      event_type: 'test.ping',
      status: 'succeeded',
      next_attempt_at: null,
      attempts: [
        {
          attempted_at: expect.any(String),
          response_status: 204,
          duration_ms: expect.any(Number),
          error: null,
          response_excerpt: null,
        },
      ],
      created_at: expect.any(String),
    });
    const delivery = receiver.received[before] ?? expect.unreachable();
    const payload = new Webhook(secret).verify(delivery.body, delivery.headers as Record<string, string>);
    expect(payload).toEqual({
      id: response.body.event_id,
      type: 'test.ping',
      timestamp: expect.stringMatching(/^\d{4}-\d\d-\d\dT[\d:.]+Z$/),
      org_id: partner.orgId,
      data: { webhook_id: id },
    });
    expect(delivery.headers['webhook-id']).toBe(response.body.event_id);
    expect(delivery.headers['content-type']).toBe('application/json');

    const log = await request(partner.t.app)
      .get(`/notifications/webhooks/${id}/deliveries`)
      .set('authorization', bearer(partner));
    expect(log.status).toBe(200);
    expect(log.body).toEqual({ deliveries: [response.body] });
  });

  it('reports a failing receiver without retrying a test ping, keeping at most 256 bytes of its answer', async () => {
    const failing = await startReceiver(500);
    try {
      const partner = await partnerApp(idp);
      const { id } = await createWebhook(partner, { url: failing.url, eventTypes: ['*'] });

      const response = await request(partner.t.app)
        .post(`/notifications/webhooks/${id}/test`)
        .set('authorization', bearer(partner));

      expect(response.status).toBe(200);
      expect(response.body).toMatchObject({ status: 'failed', next_attempt_at: null });
      const [attempt] = response.body.attempts;
      expect(attempt).toMatchObject({ response_status: 500, error: null });
      expect(Buffer.byteLength(attempt.response_excerpt)).toBe(256);
      expect(attempt.response_excerpt).toMatch(/^answer 500 x+$/);
      expect(
        await partner.t.router.exchange.webhooks.runDueDeliveries({
          now: Math.floor(Date.now() / 1000) + 86_400,
        }),
      ).toEqual({
        attempted: 0,
        succeeded: 0,
        retrying: 0,
        failed: 0,
      });
    } finally {
      await failing.close();
    }
  });
});
