import type { Logger, Store } from '@rialto-exchange/core';
import { Registry } from 'prom-client';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  type DisposableStore,
  disposableStore,
  SERVICE_OF,
} from '../../storage-adapters/test/disposable-stores.js';
import { isServiceUp, POSTGRES_URL, REDIS_URL } from '../../storage-adapters/test/services.js';
import { startTcpProxy, type TcpProxy } from '../../storage-adapters/test/tcp-proxy.js';
import {
  createTestApp,
  exchange,
  expectFailsWith,
  idTokenClaims,
  type LocalIssuer,
  recordingStore,
  registerOrganization,
  startLocalIssuer,
} from './helpers.js';

const TIMEOUT_MS = 500;
const ORG_LIMIT = { limit: 3, windowSeconds: 60 };
// Lookups of the org, its key and its issuer stay cached through the outage, so the limiter is reached.
const LOOKUP_CACHE_TTL_SECONDS = 60;

function recordingLogger(warnings: string[]): Logger {
  return {
    debug() {},
    info() {},
    warn: (_fields, message) => void warnings.push(String(message)),
    error() {},
  };
}

describe.each(['redis', 'postgres'] as const)('the organization limit on a %s store', async (kind) => {
  if (!(await isServiceUp(...(SERVICE_OF[kind] as [string, string])))) return;

  let idp: LocalIssuer;
  let proxy: TcpProxy;
  let healthy: DisposableStore;
  let behindProxy: DisposableStore;
  const disposeAfterTest: DisposableStore[] = [];

  beforeAll(async () => {
    idp = await startLocalIssuer();
    proxy = await startTcpProxy(kind === 'redis' ? REDIS_URL : POSTGRES_URL);
    healthy = disposableStore(kind);
    behindProxy = disposableStore(kind, { via: proxy.url, timeoutMs: TIMEOUT_MS });
  });
  afterEach(async () => {
    for (const store of disposeAfterTest.splice(0)) await store.dispose();
  });
  afterAll(async () => {
    proxy.restore();
    await behindProxy.dispose();
    await healthy.dispose();
    await proxy.close();
    await idp.close();
  });
  const token = () => idp.sign(idTokenClaims(idp.issuer));

  it("shares one organization's budget between two instances on the store", async () => {
    const options = {
      rateLimit: { perIp: false as const, perOrganization: ORG_LIMIT },
      webhooks: { worker: false as const },
    };
    const registry = new Registry();
    const a = createTestApp({ ...options, store: recordingStore(healthy.store), metrics: { registry } });
    const b = createTestApp({ ...options, store: recordingStore(healthy.store) });
    const { apiKey } = await registerOrganization(a.app, { name: 'Acme', issuer: idp.issuer });

    const statuses: number[] = [];
    for (let i = 0; i < 8; i++) {
      if (i === 3) {
        a.store.resetWrites();
        b.store.resetWrites();
      }
      const response = await exchange((i % 2 === 0 ? a : b).app, apiKey, { token: await token() });
      statuses.push(response.status);
      if (response.status === 429) {
        expectFailsWith(response, 429, 'rate_limited', /organization/);
        expect(Number(response.headers['retry-after'])).toBeGreaterThanOrEqual(1);
        expect(Number(response.headers['retry-after'])).toBeLessThanOrEqual(ORG_LIMIT.windowSeconds);
      }
    }
    expect(statuses).toEqual([200, 200, 200, 429, 429, 429, 429, 429]);
    expect([...a.store.writes, ...b.store.writes]).toEqual([]);
    // Of the five refusals, the two answered by `a` (requests 4 and 6) are counted by its metrics.
    expect(await registry.getSingleMetricAsString('rialto_rate_limit_refusals_total')).toContain(
      'rialto_rate_limit_refusals_total{scope="organization"} 2',
    );
  });

  it('buys a large limit in leases and still admits exactly the limit across two instances', async () => {
    // 100 an hour: leases of 2 requests, so about one store round trip per two exchanges, and no
    // budget comes back while the test runs.
    const limit = { limit: 100, windowSeconds: 3600 };
    const own = disposableStore(kind);
    disposeAfterTest.push(own);
    let hits = 0;
    const counted: Store = {
      ...own.store,
      hitRateLimit: (hit) => {
        hits++;
        return (own.store.hitRateLimit as NonNullable<Store['hitRateLimit']>)(hit);
      },
    };
    const options = {
      rateLimit: { perIp: false as const, perOrganization: limit },
      webhooks: { worker: false as const },
    };
    const a = createTestApp({ ...options, store: recordingStore(counted) });
    const b = createTestApp({ ...options, store: recordingStore(counted) });
    const { apiKey } = await registerOrganization(a.app, { name: 'Umbrella', issuer: idp.issuer });

    let admitted = 0;
    const refused = new Set<string>();
    while (refused.size < 2) {
      for (const [name, instance] of [
        ['a', a],
        ['b', b],
      ] as const) {
        const response = await exchange(instance.app, apiKey, { token: await token() });
        if (response.status === 200) admitted++;
        else {
          expectFailsWith(response, 429, 'rate_limited', /organization/);
          refused.add(name);
        }
      }
    }

    expect(admitted).toBe(limit.limit);
    expect(hits).toBeLessThanOrEqual(limit.limit / 2 + 6);
  });

  it('counts against the per-instance limit while the store cannot answer it, never answering 503 for the limit alone', async () => {
    // Everything but the limit goes to the reachable store: only the limiter meets the stall.
    const reachable = disposableStore(kind);
    disposeAfterTest.push(reachable);
    const store: Store = {
      ...reachable.store,
      hitRateLimit: (hit) => (behindProxy.store.hitRateLimit as NonNullable<Store['hitRateLimit']>)(hit),
    };
    const warnings: string[] = [];
    const t = createTestApp({
      store: recordingStore(store),
      rateLimit: { perIp: false, perOrganization: ORG_LIMIT },
      webhooks: { worker: false },
      logger: recordingLogger(warnings),
    });
    const { apiKey } = await registerOrganization(t.app, { name: 'Globex', issuer: idp.issuer });

    proxy.stall();
    try {
      const statuses: number[] = [];
      for (let i = 0; i < 5; i++)
        statuses.push((await exchange(t.app, apiKey, { token: await token() })).status);
      expect(statuses).toEqual([200, 200, 200, 429, 429]);
      expect(warnings).toEqual([
        'the store could not check a rate limit; this instance counts it alone for a while',
      ]);
    } finally {
      proxy.restore();
    }
  });

  it('keeps counting through a full outage: the exchange fails 503 at its first write until the per-instance budget is spent, then 429', async () => {
    const t = createTestApp({
      store: recordingStore(behindProxy.store),
      rateLimit: { perIp: false, perOrganization: ORG_LIMIT },
      lookupCacheTtlSeconds: LOOKUP_CACHE_TTL_SECONDS,
      webhooks: { worker: false },
      logger: recordingLogger([]),
    });
    const { apiKey } = await registerOrganization(t.app, { name: 'Initech', issuer: idp.issuer });
    expect((await exchange(t.app, apiKey, { token: await token() })).status).toBe(200);

    proxy.stall();
    try {
      const responses = [];
      for (let i = 0; i < 4; i++) responses.push(await exchange(t.app, apiKey, { token: await token() }));
      for (const during of responses.slice(0, 3)) expectFailsWith(during, 503, 'temporarily_unavailable');
      expectFailsWith(responses[3] as (typeof responses)[number], 429, 'rate_limited', /organization/);
    } finally {
      proxy.restore();
    }
  });
});
