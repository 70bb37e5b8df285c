import { type DevIdp, startDevIdp } from '@rialto-exchange/dev-idp';
import express from 'express';
import { Registry } from 'prom-client';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LOCAL_WEBHOOKS, type Receiver, startReceiver } from '../../core/test/webhook-fixtures.js';
import {
  type DisposableStore,
  disposableStore,
  SERVICE_OF,
} from '../../storage-adapters/test/disposable-stores.js';
import { isServiceUp, REDIS_URL } from '../../storage-adapters/test/services.js';
import { startTcpProxy, type TcpProxy } from '../../storage-adapters/test/tcp-proxy.js';
import { rialtoMetricsHandler } from '../src/index.js';
import { createTestApp, exchange, recordingStore, registerOrganization, type TestApp } from './helpers.js';

const BACKLOG = 'rialto_webhook_outbox_backlog';

/** The value of one sample in Prometheus text; `undefined` when the series is absent. */
function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((candidate) => candidate.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

function scraperOf(t: TestApp) {
  const scraper = express();
  scraper.get('/metrics', rialtoMetricsHandler(t.router));
  return async () => {
    const response = await request(scraper).get('/metrics');
    expect(response.status).toBe(200);
    return response.text;
  };
}

describe('the outbox backlog gauge', () => {
  let idp: DevIdp;
  let accepting: Receiver;
  let failing: Receiver;

  beforeAll(async () => {
    [idp, accepting, failing] = await Promise.all([startDevIdp(), startReceiver(204), startReceiver(500)]);
  });
  afterAll(async () => {
    await Promise.all([idp.close(), accepting.close(), failing.close()]);
  });

  it('counts the deliveries waiting for a worker on each scrape: up with real events, down once delivered or rescheduled', async () => {
    const t = createTestApp({ metrics: { registry: new Registry() }, webhooks: LOCAL_WEBHOOKS });
    const scrape = scraperOf(t);
    const { apiKey } = await registerOrganization(t.app, {
      name: 'Acme Capital',
      issuer: idp.issuer,
      client_ids: [idp.clientId],
    });
    for (const receiver of [accepting, failing]) {
      const subscribed = await request(t.app)
        .post('/notifications/webhooks')
        .set('x-api-key', apiKey)
        .send({ url: receiver.url, eventTypes: ['user.created'] });
      expect(subscribed.status).toBe(201);
    }
    expect(sample(await scrape(), BACKLOG)).toBe(0);

    for (const email of ['ada@example.com', 'grace@example.com']) {
      const exchanged = await exchange(t.app, apiKey, { token: await idp.getIdToken({ email }) });
      expect(exchanged.status).toBe(200);
    }
    // Two new users, each fanned out to both subscriptions.
    expect(sample(await scrape(), BACKLOG)).toBe(4);

    expect(await t.router.exchange.webhooks.runDueDeliveries()).toMatchObject({ attempted: 4, succeeded: 2 });
    const after = await scrape();
    // The failed attempts are due again only after the retry delay: nothing waits right now.
    expect(sample(after, BACKLOG)).toBe(0);
    expect(sample(after, 'rialto_webhook_deliveries_total{outcome="succeeded"}')).toBe(2);
    expect(sample(after, 'rialto_webhook_deliveries_total{outcome="retrying"}')).toBe(2);
  });
});

describe('the outbox backlog gauge when the store stalls or refuses', async () => {
  if (!(await isServiceUp(...(SERVICE_OF.redis as [string, string])))) return;

  let proxy: TcpProxy;
  let backing: DisposableStore;

  beforeAll(async () => {
    proxy = await startTcpProxy(REDIS_URL);
    // The store's own timeouts are far longer than the gauge's deadline, so a quick scrape proves the deadline.
    backing = disposableStore('redis', { via: proxy.url, timeoutMs: 10_000 });
  });
  afterAll(async () => {
    proxy.restore();
    await backing.dispose();
    await proxy.close();
  });

  it('reports NaN within its deadline and leaves the rest of the scrape whole, then counts again', async () => {
    const t = createTestApp({
      store: recordingStore(backing.store),
      metrics: { registry: new Registry() },
      webhooks: { worker: false },
    });
    const scrape = scraperOf(t);
    expect(sample(await scrape(), BACKLOG)).toBe(0);

    for (const fault of ['stall', 'refuse'] as const) {
      proxy[fault]();
      const started = Date.now();
      const during = await scrape();
      const elapsedMs = Date.now() - started;

      expect(sample(during, BACKLOG)).toBeNaN();
      expect(during).toContain('# TYPE rialto_exchanges_total counter');
      // Bounded by the 1 s deadline (plus slack), not by the store's 10 s timeouts.
      expect(elapsedMs).toBeLessThan(5_000);

      proxy.restore();
      let recovered = sample(await scrape(), BACKLOG);
      for (let attempt = 0; recovered !== 0 && attempt < 50; attempt++) {
        await new Promise((resolve) => setTimeout(resolve, 100));
        recovered = sample(await scrape(), BACKLOG);
      }
      expect(recovered).toBe(0);
    }
  });
});
