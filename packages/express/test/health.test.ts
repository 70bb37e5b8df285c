import type { Store } from '@rialto-exchange/core';
import { memoryStore } from '@rialto-exchange/storage-adapters';
import express from 'express';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type DisposableStore,
  disposableStore,
  SERVICE_OF,
} from '../../storage-adapters/test/disposable-stores.js';
import { isServiceUp, POSTGRES_URL, REDIS_URL } from '../../storage-adapters/test/services.js';
import { startTcpProxy, type TcpProxy } from '../../storage-adapters/test/tcp-proxy.js';
import { rialtoExchange } from '../src/index.js';
import {
  ADMIN_TOKEN,
  createTestApp,
  exchange,
  idTokenClaims,
  recordingStore,
  registerOrganization,
  startLocalIssuer,
} from './helpers.js';

/** A memory store that records the name of every method called on it. */
function spyingStore(): { store: Store; calls: string[] } {
  const calls: string[] = [];
  const inner = memoryStore();
  const store = new Proxy(inner, {
    get(target, property, receiver) {
      const value = Reflect.get(target, property, receiver);
      if (typeof value !== 'function') return value;
      return (...args: unknown[]) => {
        calls.push(String(property));
        return value.apply(target, args);
      };
    },
  });
  return { store, calls };
}

describe('liveness', () => {
  it('answers 200 UP without touching the store', async () => {
    const { store, calls } = spyingStore();
    const t = createTestApp({ store: recordingStore(store), webhooks: { worker: false } });
    calls.length = 0;
    const response = await request(t.app).get('/health/live');
    expect(response.status).toBe(200);
    expect(response.headers['cache-control']).toBe('no-store');
    expect(response.body).toEqual({ status: 'UP', checks: [] });
    expect(calls).toEqual([]);
  });

  it('answers other methods with 405 and Allow: GET', async () => {
    const t = createTestApp();
    const response = await request(t.app).post('/health/live');
    expect(response.status).toBe(405);
    expect(response.headers.allow).toBe('GET');
  });
});

describe('readiness', () => {
  it('answers 200 UP with a store check naming no issuer, organization or secret', async () => {
    const idp = await startLocalIssuer();
    try {
      const t = createTestApp({ rateLimit: false });
      const { apiKey } = await registerOrganization(t.app, { name: 'Acme Secret Org', issuer: idp.issuer });
      const token = await idp.sign(idTokenClaims(idp.issuer));
      expect((await exchange(t.app, apiKey, { token })).status).toBe(200);

      const response = await request(t.app).get('/health/ready');
      expect(response.status).toBe(200);
      expect(response.body).toEqual({ status: 'UP', checks: [{ name: 'store', status: 'UP' }] });
      expect(response.text).not.toContain(idp.issuer);
      expect(response.text).not.toContain('Acme');
    } finally {
      await idp.close();
    }
  });

  it('adds figures, key-set cache ages included, for admin credentials only', async () => {
    const idp = await startLocalIssuer();
    try {
      const t = createTestApp({ rateLimit: false });
      const { apiKey } = await registerOrganization(t.app, { name: 'Acme', issuer: idp.issuer });
      expect(
        (await exchange(t.app, apiKey, { token: await idp.sign(idTokenClaims(idp.issuer)) })).status,
      ).toBe(200);

      const admin = await request(t.app).get('/health/ready').set('authorization', `Bearer ${ADMIN_TOKEN}`);
      expect(admin.status).toBe(200);
      expect(admin.body).toEqual({
        status: 'UP',
        checks: [
          { name: 'store', status: 'UP', data: { latency_ms: expect.any(Number) } },
          {
            name: 'idp_key_sets',
            status: 'UP',
            data: { cached: 1, oldest_age_seconds: expect.any(Number) },
          },
          { name: 'webhook_outbox', status: 'UP', data: { backlog: 0 } },
        ],
      });
      expect(admin.text).not.toContain(idp.issuer);

      const wrong = await request(t.app)
        .get('/health/ready')
        .set('authorization', 'Bearer not-the-admin-token');
      expect(wrong.status).toBe(200);
      expect(wrong.body).toEqual({ status: 'UP', checks: [{ name: 'store', status: 'UP' }] });
    } finally {
      await idp.close();
    }
  });

  it('answers 503 DOWN when the store fails', async () => {
    const store = memoryStore();
    store.getOrganization = async () => {
      throw new Error('backend gone');
    };
    const t = createTestApp({ store: recordingStore(store) });
    const response = await request(t.app).get('/health/ready').set('authorization', `Bearer ${ADMIN_TOKEN}`);
    expect(response.status).toBe(503);
    expect(response.body).toEqual({
      status: 'DOWN',
      checks: [
        { name: 'store', status: 'DOWN', data: { reason: 'unavailable' } },
        { name: 'idp_key_sets', status: 'UP', data: { cached: 0 } },
      ],
    });
    expect(response.text).not.toContain('backend gone');
  });
});

describe('health options', () => {
  it('serves the routes at configured paths, under the mount prefix', async () => {
    const app = express();
    app.use(
      '/auth',
      rialtoExchange({
        issuer: 'http://localhost:3000/auth',
        store: memoryStore(),
        health: { livePath: '/probe/alive', readyPath: '/probe/ready' },
      }),
    );
    expect((await request(app).get('/auth/probe/alive')).body).toEqual({ status: 'UP', checks: [] });
    expect((await request(app).get('/auth/probe/ready')).status).toBe(200);
    expect((await request(app).get('/auth/health/live')).status).toBe(404);
  });

  it('serves neither route with health: false, so the host can use those paths', async () => {
    const app = express();
    app.use(rialtoExchange({ issuer: 'http://localhost:3000', store: memoryStore(), health: false }));
    app.get('/health/live', (_req, res) => {
      res.json({ host: true });
    });
    expect((await request(app).get('/health/live')).body).toEqual({ host: true });
    expect((await request(app).get('/health/ready')).status).toBe(404);
  });

  it.each([
    [{ livePath: 'health' }, /`health.livePath` must be a path/],
    [{ readyPath: '/health/ready?x=1' }, /`health.readyPath` must be a path/],
    [{ livePath: '/same', readyPath: '/same' }, /that differ/],
    [{ readyTimeoutMs: 0 }, /`health.readyTimeoutMs` must be a positive number/],
    ['yes', /`health` must be false or an object/],
  ])('refuses health: %j at start-up', (health, message) => {
    expect(() =>
      rialtoExchange({
        issuer: 'http://localhost:3000',
        store: memoryStore(),
        health: health as never,
      }),
    ).toThrow(message);
  });
});

const READY_TIMEOUT_MS = 300;

describe.each(['redis', 'postgres'] as const)('readiness when %s stalls', async (kind) => {
  if (!(await isServiceUp(...(SERVICE_OF[kind] as [string, string])))) return;

  let proxy: TcpProxy;
  let backing: DisposableStore;

  beforeAll(async () => {
    proxy = await startTcpProxy(kind === 'redis' ? REDIS_URL : POSTGRES_URL);
    // The store's own timeouts are far longer than the readiness deadline, so a 503 proves the deadline.
    backing = disposableStore(kind, { via: proxy.url, timeoutMs: 10_000 });
  });
  afterAll(async () => {
    proxy.restore();
    await backing.dispose();
    await proxy.close();
  });

  it('flips to 503 within its deadline while the network holds every byte, and back to 200 after', async () => {
    const t = createTestApp({
      store: recordingStore(backing.store),
      webhooks: { worker: false },
      health: { readyTimeoutMs: READY_TIMEOUT_MS },
    });
    const ready = () => request(t.app).get('/health/ready').set('authorization', `Bearer ${ADMIN_TOKEN}`);
    // Probes until the store answers in time: the first read also connects (and migrates SQL tables).
    const eventuallyReady = async () => {
      let response = await ready();
      for (let attempt = 0; response.status !== 200 && attempt < 50; attempt++) {
        await new Promise((resolve) => setTimeout(resolve, 100));
        response = await ready();
      }
      return response;
    };
    expect((await eventuallyReady()).status).toBe(200);

    proxy.stall();
    const started = Date.now();
    const during = await ready();
    const elapsedMs = Date.now() - started;
    expect(during.status).toBe(503);
    expect(during.body.checks[0]).toEqual({ name: 'store', status: 'DOWN', data: { reason: 'timeout' } });
    // Bounded by the deadline (plus scheduling slack), not by the store's 10 s timeouts.
    expect(elapsedMs).toBeGreaterThanOrEqual(READY_TIMEOUT_MS - 5);
    expect(elapsedMs).toBeLessThan(5_000);
    // A second probe while the first read is still held shares it and also answers 503.
    expect((await ready()).status).toBe(503);

    proxy.restore();
    const after = await eventuallyReady();
    expect(after.status).toBe(200);
    expect(after.body.checks[0]).toEqual({
      name: 'store',
      status: 'UP',
      data: { latency_ms: expect.any(Number) },
    });
  });

  it('answers 503 while the service refuses connections, as a stopped one does, and 200 once it is back', async () => {
    const t = createTestApp({
      store: recordingStore(backing.store),
      webhooks: { worker: false },
      health: { readyTimeoutMs: READY_TIMEOUT_MS },
    });
    const ready = () => request(t.app).get('/health/ready').set('authorization', `Bearer ${ADMIN_TOKEN}`);
    const eventually = async (status: number) => {
      let response = await ready();
      for (let attempt = 0; response.status !== status && attempt < 50; attempt++) {
        await new Promise((resolve) => setTimeout(resolve, 100));
        response = await ready();
      }
      return response;
    };
    expect((await eventually(200)).status).toBe(200);

    proxy.refuse();
    const during = await ready();
    expect(during.status).toBe(503);
    expect(during.body.status).toBe('DOWN');
    expect(['timeout', 'unavailable']).toContain(during.body.checks[0].data.reason);

    proxy.restore();
    expect((await eventually(200)).status).toBe(200);
  });
});
