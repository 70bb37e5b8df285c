import type { Store } from '@rialto-exchange/core';
import { sqlStore } from '@rialto-exchange/storage-adapters';
import { decodeJwt } from 'jose';
import pg from 'pg';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { subscription } from '../../storage-adapters/src/conformance/fixtures.js';
import {
  FIND_OR_CREATE_USER,
  ROTATE_REFRESH_TOKEN,
  SAVE_REFRESH_TOKENS,
} from '../../storage-adapters/src/redis/scripts.js';
import { disposableStore, SERVICE_OF } from '../../storage-adapters/test/disposable-stores.js';
import { isServiceUp, POSTGRES_URL, REDIS_URL } from '../../storage-adapters/test/services.js';
import { tablesOf, uniqueTablePrefix } from '../../storage-adapters/test/sql-tables.js';
import { startTcpProxy, type TcpProxy } from '../../storage-adapters/test/tcp-proxy.js';
import { request } from './client.js';
import {
  createTestApp,
  exchange,
  expectFailsWith,
  idTokenClaims,
  type LocalIssuer,
  registerOrganization,
  startLocalIssuer,
  type TestApp,
} from './helpers.js';

/*
 * A write that outlives the store deadline: the proxy holds exactly one command until the client
 * has answered 503, then lets it through, so the write really happens after the client was told
 * it failed (issue 13, failure 1). What the retry then finds is the point of these tests.
 */

const TIMEOUT_MS = 500;
const SETTLE_MS = 5_000;

/** A store behind the proxy, plus direct reads of what it wrote, past the proxy. */
interface Backing {
  store: Store;
  /** What the client sends for each held command. */
  markers: { rotate: string; saveRefreshToken: string; createUser?: string };
  /** The jti of the successor stored for a used token, or undefined while it is unused. */
  successorOf(jti: string): Promise<string | undefined>;
  countUsers(): Promise<number>;
  dispose(): Promise<void>;
}

async function redisBacking(via: string): Promise<Backing> {
  const { createClient } = await import('redis');
  const disposable = disposableStore('redis', { via, timeoutMs: TIMEOUT_MS });
  const keyPrefix = disposable.prefix?.keyPrefix as string;
  const admin = await createClient({ url: REDIS_URL }).connect();
  return {
    store: disposable.store,
    markers: {
      rotate: ROTATE_REFRESH_TOKEN.sha1,
      saveRefreshToken: SAVE_REFRESH_TOKENS.sha1,
      createUser: FIND_OR_CREATE_USER.sha1,
    },
    // A token lives in its family's hash, a user in its org's (redis/key-layout.ts).
    async successorOf(jti) {
      for (const family of await admin.keys(`${keyPrefix}{f:*}:tokens`)) {
        const stored = await admin.hGet(family, jti);
        if (stored) return JSON.parse(stored).successorJti as string | undefined;
      }
      return undefined;
    },
    async countUsers() {
      let users = 0;
      for (const org of await admin.keys(`${keyPrefix}{o:*}:users`)) users += await admin.hLen(org);
      return users;
    },
    async dispose() {
      await admin.close();
      await disposable.dispose();
    },
  };
}

// sqlStore has no query deadline of its own yet: pg's client-side `query_timeout` gives one, and
// like any deadline it cannot recall a statement already sent.
async function postgresBacking(via: string): Promise<Backing> {
  const tablePrefix = uniqueTablePrefix();
  const pool = new pg.Pool({
    connectionString: via,
    query_timeout: TIMEOUT_MS,
    connectionTimeoutMillis: TIMEOUT_MS,
  });
  pool.on('error', () => {});
  pool.on('connect', (client) => client.on('error', () => {}));
  const store = sqlStore({ dialect: 'postgres', pool, tablePrefix });
  const admin = new pg.Client({ connectionString: POSTGRES_URL });
  await admin.connect();
  return {
    store,
    markers: {
      rotate: 'parent_jti") select',
      saveRefreshToken: `insert into "${tablePrefix}refresh_tokens"`,
    },
    async successorOf(jti) {
      const { rows } = await admin.query(
        `select jti from ${tablePrefix}refresh_tokens where parent_jti = $1`,
        [jti],
      );
      return rows[0]?.jti;
    },
    async countUsers() {
      const { rows } = await admin.query(`select count(*)::int as count from ${tablePrefix}users`);
      return rows[0].count;
    },
    async dispose() {
      await store.close();
      await pool.end();
      await admin.query(`drop table if exists ${tablesOf(tablePrefix).join(', ')}`);
      await admin.end();
    },
  };
}

describe.each(['redis', 'postgres'] as const)('a write that %s runs after the 503', async (kind) => {
  if (!(await isServiceUp(...(SERVICE_OF[kind] as [string, string])))) return;

  let idp: LocalIssuer;
  let proxy: TcpProxy;
  let backing: Backing;
  let t: TestApp;
  let apiKey: string;
  let orgId: string;
  const reuses: unknown[] = [];
  const exchanges: Array<{ userId: string; userCreated: boolean }> = [];

  beforeAll(async () => {
    idp = await startLocalIssuer();
    proxy = await startTcpProxy(kind === 'redis' ? REDIS_URL : POSTGRES_URL);
    backing = await (kind === 'redis' ? redisBacking : postgresBacking)(proxy.url);
    t = createTestApp({ store: backing.store as never, rateLimit: false });
    t.router.exchange.audit.on('refresh.reuse_detected', (payload) => void reuses.push(payload));
    t.router.exchange.audit.on(
      'exchange.succeeded',
      ({ userId, userCreated }) => void exchanges.push({ userId, userCreated }),
    );
    ({ apiKey, orgId } = await registerOrganization(t.app, { name: 'Acme', issuer: idp.issuer }));
  });
  afterAll(async () => {
    proxy.restore();
    await backing.dispose();
    await proxy.close();
    await idp.close();
  });
  beforeEach(() => {
    proxy.restore();
    reuses.length = 0;
    exchanges.length = 0;
  });

  const signIn = async (sub: string) =>
    exchange(t.app, apiKey, {
      token: await idp.sign(idTokenClaims(idp.issuer, { sub, email: `${sub}@example.com` })),
    });
  const refresh = (refreshToken: string) =>
    request(t.app).post('/identity/auth/refresh').send({ refresh_token: refreshToken });

  function expectUnavailable(response: request.Response) {
    expectFailsWith(response, 503, 'temporarily_unavailable');
    expect(response.headers['retry-after']).toBe('1');
  }

  it('a refresh answered 503 whose rotation is written afterwards: the retry gets 200 with that successor, and the session lives on', async () => {
    const signedIn = await signIn('ada');
    // One refresh first: Redis has the script cached and the pool has its connections.
    const warm = await refresh(signedIn.body.refresh_token);
    expect(warm.status).toBe(200);
    const presented = warm.body.refresh_token as string;

    const held = proxy.stallOn(backing.markers.rotate);
    const answered = await refresh(presented);
    await held;
    expectUnavailable(answered);
    proxy.restore();
    const presentedJti = decodeJwt(presented).jti as string;
    await expect.poll(() => backing.successorOf(presentedJti), { timeout: SETTLE_MS }).toBeDefined();
    const writtenAfter503 = await backing.successorOf(presentedJti);

    const retried = await refresh(presented);
    expect(retried.status).toBe(200);
    expect(decodeJwt(retried.body.refresh_token).jti).toBe(writtenAfter503);
    const next = await refresh(retried.body.refresh_token);
    expect(next.status).toBe(200);
    expect(decodeJwt(next.body.refresh_token).fid).toBe(decodeJwt(presented).fid);
    expect(reuses).toEqual([]);
  });

  it('an exchange answered 503 while its refresh token is saved afterwards leaves the user with its identity and one user.created, and the retry signs in', async () => {
    const watched = subscription(orgId, { eventTypes: ['user.created'] });
    await backing.store.createWebhookSubscription(watched);
    expect((await signIn('warm')).status).toBe(200);
    const usersBefore = await backing.countUsers();

    const held = proxy.stallOn(backing.markers.saveRefreshToken);
    const answered = await signIn('grace');
    await held;
    expectUnavailable(answered);
    proxy.restore();

    // The user was created before the stalled save: it exists, with its identity and its event.
    expect(await backing.countUsers()).toBe(usersBefore + 1);
    const retried = await signIn('grace');
    expect(retried.status).toBe(200);
    const userId = decodeJwt(retried.body.access_token).user_id as string;
    expect(exchanges.filter((entry) => entry.userId === userId)).toEqual([{ userId, userCreated: false }]);
    expect(await backing.countUsers()).toBe(usersBefore + 1);
    const created = (await backing.store.listWebhookDeliveries(orgId, watched.subscriptionId, 100)).filter(
      (delivery) => JSON.parse(delivery.payload).data.user_id === userId,
    );
    expect(created).toHaveLength(1);
    expect((await refresh(retried.body.refresh_token)).status).toBe(200);
  });

  it.runIf(kind === 'redis')(
    'an exchange answered 503 whose user is created afterwards: the retry finds that one user, with one user.created',
    async () => {
      const watched = subscription(orgId, { eventTypes: ['user.created'] });
      await backing.store.createWebhookSubscription(watched);
      expect((await signIn('warm-up')).status).toBe(200);
      const usersBefore = await backing.countUsers();

      // The first find-or-create runs without the outbox snapshot and, as it would create the user,
      // asks for a second run with it: that second run is the write to hold.
      const held = proxy.stallOn(backing.markers.createUser as string, { skip: 1 });
      const answered = await signIn('late');
      await held;
      expectUnavailable(answered);
      proxy.restore();
      await expect.poll(() => backing.countUsers(), { timeout: SETTLE_MS }).toBe(usersBefore + 1);

      const retried = await signIn('late');
      expect(retried.status).toBe(200);
      const userId = decodeJwt(retried.body.access_token).user_id as string;
      expect(exchanges.filter((entry) => entry.userId === userId)).toEqual([{ userId, userCreated: false }]);
      expect(await backing.countUsers()).toBe(usersBefore + 1);
      const created = (await backing.store.listWebhookDeliveries(orgId, watched.subscriptionId, 100)).filter(
        (delivery) => JSON.parse(delivery.payload).data.user_id === userId,
      );
      expect(created).toHaveLength(1);
    },
  );
});
