import { SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type DisposableStore,
  disposableStore,
  SERVICE_OF,
} from '../../storage-adapters/test/disposable-stores.js';
import { isServiceUp, MYSQL_URL, POSTGRES_URL, REDIS_URL } from '../../storage-adapters/test/services.js';
import { startTcpProxy, type TcpProxy } from '../../storage-adapters/test/tcp-proxy.js';
import { request } from './client.js';
import { ADMIN_TOKEN, createTestApp, expectFailsWith, recordingStore, SERVICE_ISSUER } from './helpers.js';

const TIMEOUT_MS = 500;
const TARGET = { redis: REDIS_URL, postgres: POSTGRES_URL, mysql: MYSQL_URL } as const;

describe.each(['redis', 'postgres', 'mysql'] as const)(
  'an instance that starts while %s is unreachable',
  async (kind) => {
    if (!(await isServiceUp(...(SERVICE_OF[kind] as [string, string])))) return;

    let proxy: TcpProxy;
    let backing: DisposableStore;
    beforeAll(async () => {
      proxy = await startTcpProxy(TARGET[kind]);
      proxy.refuse();
      backing = disposableStore(kind, { via: proxy.url, timeoutMs: TIMEOUT_MS });
    });
    afterAll(async () => {
      proxy.restore();
      await backing.dispose();
      await proxy.close();
    });

    it('answers 503 temporarily_unavailable with Retry-After on every route that needs the store, keys included', async () => {
      const t = createTestApp({ store: recordingStore(backing.store), rateLimit: false });
      // Well-formed tokens under a kid the instance has never seen: only loading keys can answer them.
      const secret = new TextEncoder().encode('k'.repeat(32));
      const forged = await new SignJWT({ fid: 'f', org_id: 'o' })
        .setProtectedHeader({ alg: 'HS256', kid: 'unknown' })
        .setIssuer(SERVICE_ISSUER)
        .setAudience(SERVICE_ISSUER)
        .setSubject('u')
        .setJti('j')
        .setExpirationTime('5m')
        .sign(secret);
      const responses = {
        jwks: await request(t.app).get('/.well-known/jwks.json'),
        refresh: await request(t.app).post('/identity/auth/refresh').send({ refresh_token: forged }),
        user: await request(t.app).get('/identity/users/u').set('authorization', `Bearer ${forged}`),
        exchange: await request(t.app)
          .post('/identity/auth/exchange')
          .set('x-api-key', `rialto_ak_00000000-0000-4000-8000-000000000000_${'a'.repeat(43)}`)
          .send({ token: forged }),
        organizations: await request(t.app)
          .post('/identity/organizations')
          .set('authorization', `Bearer ${ADMIN_TOKEN}`)
          .send({ name: 'Acme', issuer: 'https://idp.example.com' }),
      };
      for (const [route, response] of Object.entries(responses)) {
        expect({ route, status: response.status }).toEqual({ route, status: 503 });
        expectFailsWith(response, 503, 'temporarily_unavailable');
        expect(response.headers['retry-after']).toBe('1');
      }
      expect(t.store.writes.filter((write) => write !== 'createOrganization')).toEqual([]);
      // Metadata needs no store and keeps answering.
      expect((await request(t.app).get('/.well-known/openid-configuration')).status).toBe(200);
    });
  },
);
