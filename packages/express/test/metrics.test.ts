import { type DevIdp, startDevIdp } from '@rialto-exchange/dev-idp';
import { memoryStore } from '@rialto-exchange/storage-adapters';
import express from 'express';
import { decodeJwt } from 'jose';
import { Registry } from 'prom-client';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LOCAL_WEBHOOKS, type Receiver, startReceiver } from '../../core/test/webhook-fixtures.js';
import { rialtoExchange, rialtoMetricsHandler } from '../src/index.js';
import { ADMIN_TOKEN, createTestApp, exchange, registerOrganization, type TestApp } from './helpers.js';

/** The value of one sample in Prometheus text, or 0 when the series does not exist yet. */
function sample(text: string, series: string): number {
  const line = text.split('\n').find((candidate) => candidate.startsWith(`${series} `));
  return line === undefined ? 0 : Number(line.slice(series.length + 1));
}

describe('Prometheus metrics after real exchanges', () => {
  let idp: DevIdp;
  let receiver: Receiver;
  let t: TestApp;
  let scraper: express.Express;
  let apiKey: string;
  let orgId: string;

  beforeAll(async () => {
    [idp, receiver] = await Promise.all([startDevIdp(), startReceiver(204)]);
    const registry = new Registry();
    t = createTestApp({
      metrics: { registry },
      webhooks: LOCAL_WEBHOOKS,
      rateLimit: { perIp: false, perOrganization: { limit: 4, windowSeconds: 3600 } },
      // A second use of a refresh token is reuse at once, not a retry within the grace window.
      refreshTokenRetryGraceSeconds: 0,
    });
    // Metrics are served on their own app, as a host would on an internal port.
    scraper = express();
    scraper.get('/metrics', rialtoMetricsHandler(t.router));
    ({ apiKey, orgId } = await registerOrganization(t.app, {
      name: 'Acme Capital',
      issuer: idp.issuer,
      client_ids: [idp.clientId],
    }));
  });
  afterAll(async () => {
    await Promise.all([idp.close(), receiver.close()]);
  });

  async function scrape(): Promise<string> {
    const response = await request(scraper).get('/metrics');
    expect(response.status).toBe(200);
    expect(response.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/);
    return response.text;
  }

  it('counts exchanges by result, requests per route template, IdP fetches and cache hits, refresh reuse, webhook deliveries and refusals', async () => {
    const before = await scrape();
    expect(sample(before, 'rialto_exchanges_total{result="success"}')).toBe(0);

    const ada = await exchange(t.app, apiKey, { token: await idp.getIdToken({ email: 'ada@example.com' }) });
    expect(ada.status).toBe(200);
    const adaId = decodeJwt(ada.body.access_token).user_id as string;
    const subscribed = await request(t.app)
      .post('/notifications/webhooks')
      .set('x-api-key', apiKey)
      .send({ url: receiver.url, eventTypes: ['user.created'] });
    expect(subscribed.status).toBe(201);
    const grace = await exchange(t.app, apiKey, {
      token: await idp.getIdToken({ email: 'grace@example.com' }),
    });
    expect(grace.status).toBe(200);
    expect((await exchange(t.app, apiKey, { token: 'not-a-jwt' })).status).toBe(400);
    expect((await exchange(t.app, 'rialto_ak_not-a-real-key', { token: 'x' })).status).toBe(401);
    // Four authenticated exchanges spend the org's budget of 4 (the bad key spent none): the fifth is refused.
    expect((await exchange(t.app, apiKey, { token: 'still-not-a-jwt' })).status).toBe(400);
    expect((await exchange(t.app, apiKey, { token: 'refused-before-parsing' })).status).toBe(429);

    const user = await request(t.app)
      .get(`/identity/users/${adaId}`)
      .set('authorization', `Bearer ${ada.body.access_token}`);
    expect(user.status).toBe(200);

    const refreshed = await request(t.app)
      .post('/identity/auth/refresh')
      .send({ refresh_token: ada.body.refresh_token });
    expect(refreshed.status).toBe(200);
    const reused = await request(t.app)
      .post('/identity/auth/refresh')
      .send({ refresh_token: ada.body.refresh_token });
    expect(reused.status).toBe(400);

    const summary = await t.router.exchange.webhooks.runDueDeliveries();
    expect(summary).toMatchObject({ attempted: 1, succeeded: 1 });

    const text = await scrape();
    expect(sample(text, 'rialto_exchanges_total{result="success"}')).toBe(2);
    expect(sample(text, 'rialto_exchanges_total{result="invalid_token"}')).toBe(2);
    expect(sample(text, 'rialto_exchanges_total{result="invalid_api_key"}')).toBe(1);
    expect(sample(text, 'rialto_exchanges_total{result="rate_limited"}')).toBe(1);
    expect(sample(text, 'rialto_rate_limit_refusals_total{scope="organization"}')).toBe(1);
    expect(sample(text, 'rialto_refresh_reuse_detected_total')).toBe(1);
    expect(
      sample(
        text,
        'rialto_http_request_duration_seconds_count{route="/identity/auth/exchange",method="POST",status="200"}',
      ),
    ).toBe(2);
    expect(
      sample(
        text,
        'rialto_http_request_duration_seconds_count{route="/identity/users/:id",method="GET",status="200"}',
      ),
    ).toBe(1);
    expect(
      sample(
        text,
        'rialto_http_request_duration_seconds_count{route="/identity/auth/refresh",method="POST",status="400"}',
      ),
    ).toBe(1);
    expect(sample(text, 'rialto_idp_fetches_total{document="discovery",outcome="success"}')).toBe(1);
    expect(sample(text, 'rialto_idp_fetches_total{document="jwks",outcome="success"}')).toBe(1);
    expect(sample(text, 'rialto_idp_fetch_duration_seconds_count{document="jwks"}')).toBe(1);
    expect(sample(text, 'rialto_idp_cache_hits_total{document="discovery"}')).toBeGreaterThanOrEqual(1);
    expect(sample(text, 'rialto_idp_cache_hits_total{document="jwks"}')).toBeGreaterThanOrEqual(1);
    expect(sample(text, 'rialto_signing_key_reloads_total{outcome="success"}')).toBeGreaterThanOrEqual(1);
    expect(sample(text, 'rialto_webhook_deliveries_total{outcome="succeeded"}')).toBe(1);

    // No label value names a user, an organization, an email, a key or a token.
    for (const secret of [
      apiKey,
      orgId,
      adaId,
      'ada@example.com',
      'grace@example.com',
      idp.issuer,
      ada.body.access_token,
      ada.body.refresh_token,
    ]) {
      expect(text).not.toContain(secret);
    }
  });

  it('names the OAuth revocation and introspection routes by their templates', async () => {
    const wrongSecret = await request(t.app)
      .post('/oauth/revoke')
      .auth(orgId, 'rialto_ak_wrong')
      .type('form')
      .send({ token: 'anything' });
    expect(wrongSecret.status).toBe(401);
    const asAdmin = await request(t.app)
      .post('/oauth/introspect')
      .set('authorization', `Bearer ${ADMIN_TOKEN}`)
      .type('form')
      .send({ token: 'anything' });
    expect(asAdmin.body).toEqual({ active: false });
    const text = await scrape();
    expect(
      sample(
        text,
        'rialto_http_request_duration_seconds_count{route="/oauth/revoke",method="POST",status="401"}',
      ),
    ).toBe(1);
    expect(
      sample(
        text,
        'rialto_http_request_duration_seconds_count{route="/oauth/introspect",method="POST",status="200"}',
      ),
    ).toBe(1);
  });
});

describe('metrics options', () => {
  it('are off by default: no metrics, and the handler refuses to mount', () => {
    const router = rialtoExchange({ issuer: 'http://localhost:3000', store: memoryStore() });
    expect(router.exchange.metrics).toBeUndefined();
    expect(() => rialtoMetricsHandler(router)).toThrow(
      new TypeError(
        'rialtoMetricsHandler: the exchange has no metrics; create it with `metrics: true` or `metrics: { registry }`',
      ),
    );
  });

  it('lets two exchanges share one registry under different prefixes', async () => {
    const registry = new Registry();
    const first = rialtoExchange({
      issuer: 'http://localhost:3000',
      store: memoryStore(),
      metrics: { registry },
    });
    rialtoExchange({
      issuer: 'http://localhost:3000',
      store: memoryStore(),
      metrics: { registry, prefix: 'b_' },
    });
    const text = await first.exchange.metrics?.scrape();
    expect(text).toContain('# TYPE rialto_exchanges_total counter');
    expect(text).toContain('# TYPE b_exchanges_total counter');
  });

  it.each([
    [{ registry: {} }, /`metrics.registry` must be a prom-client Registry/],
    [{ prefix: 'bad prefix' }, /`metrics.prefix` must be a valid Prometheus metric name prefix/],
    ['yes', /`metrics` must be true, false or/],
  ])('refuses metrics: %j at start-up', (metrics, message) => {
    expect(() =>
      rialtoExchange({ issuer: 'http://localhost:3000', store: memoryStore(), metrics: metrics as never }),
    ).toThrow(message);
  });
});
