import { decodeJwt } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type DisposableStore,
  disposableStore,
  SERVICE_OF,
} from '../../storage-adapters/test/disposable-stores.js';
import { isServiceUp, MYSQL_URL, POSTGRES_URL, REDIS_URL } from '../../storage-adapters/test/services.js';
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

const TIMEOUT_MS = 1000;

const SERVICE_URL = { redis: REDIS_URL, postgres: POSTGRES_URL, mysql: MYSQL_URL } as const;

/** A local IdP and a store of `kind` reached through a loopback proxy the test can break, for the enclosing describe. */
function storeBehindProxy(kind: keyof typeof SERVICE_URL) {
  const setup = {} as { idp: LocalIssuer; proxy: TcpProxy; backing: DisposableStore };
  beforeAll(async () => {
    setup.idp = await startLocalIssuer();
    setup.proxy = await startTcpProxy(SERVICE_URL[kind]);
    setup.backing = disposableStore(kind, { via: setup.proxy.url, timeoutMs: TIMEOUT_MS });
  });
  afterAll(async () => {
    setup.proxy.restore();
    await setup.backing.dispose();
    await setup.proxy.close();
    await setup.idp.close();
  });
  return setup;
}

describe.each(['redis', 'postgres'] as const)('an exchange when %s goes away mid-run', async (kind) => {
  if (!(await isServiceUp(...(SERVICE_OF[kind] as [string, string])))) return;
  const setup = storeBehindProxy(kind);

  it('answers 503 fast while the backend is unreachable, writes no user, and recovers by itself', async () => {
    const { idp, proxy, backing } = setup;
    const t = createTestApp({ store: recordingStore(backing.store), rateLimit: false });
    const { apiKey } = await registerOrganization(t.app, { name: 'Acme', issuer: idp.issuer });
    const outcomes: Array<{ userId: string; userCreated: boolean }> = [];
    t.router.exchange.audit.on(
      'exchange.succeeded',
      ({ userId, userCreated }) => void outcomes.push({ userId, userCreated }),
    );
    const tokenFor = (sub: string) =>
      idp.sign(idTokenClaims(idp.issuer, { sub, email: `${sub}@example.com` }));
    expect((await exchange(t.app, apiKey, { token: await tokenFor('before') })).status).toBe(200);

    proxy.refuse();
    const started = Date.now();
    const during = await exchange(t.app, apiKey, { token: await tokenFor('during') });
    expectFailsWith(during, 503, 'temporarily_unavailable');
    expect(Date.now() - started).toBeLessThan(TIMEOUT_MS * 5);

    proxy.restore();
    let after = await exchange(t.app, apiKey, { token: await tokenFor('during') });
    for (let attempt = 0; after.status !== 200 && attempt < 20; attempt++) {
      await new Promise((resolve) => setTimeout(resolve, 250));
      after = await exchange(t.app, apiKey, { token: await tokenFor('during') });
    }
    expect(after.status).toBe(200);
    // The failed attempt left nothing behind: the first success is the exchange that created the user.
    const userId = decodeJwt(after.body.access_token).user_id as string;
    expect(outcomes.filter((outcome) => outcome.userId === userId)).toEqual([{ userId, userCreated: true }]);
  });
});

describe.each(['postgres', 'mysql'] as const)('an exchange when %s stalls mid-run', async (kind) => {
  if (!(await isServiceUp(...(SERVICE_OF[kind] as [string, string])))) return;
  const setup = storeBehindProxy(kind);

  it('answers 503 with Retry-After within the command deadline instead of waiting out the stall', async () => {
    const { idp, proxy, backing } = setup;
    const t = createTestApp({ store: recordingStore(backing.store), rateLimit: false });
    const { apiKey } = await registerOrganization(t.app, { name: 'Acme', issuer: idp.issuer });
    const token = await idp.sign(idTokenClaims(idp.issuer, { sub: 'stalled', email: 'stalled@example.com' }));

    proxy.stall();
    const started = Date.now();
    const during = await exchange(t.app, apiKey, { token });
    const elapsedMs = Date.now() - started;
    proxy.restore();

    expectFailsWith(during, 503, 'temporarily_unavailable');
    expect(during.headers['retry-after']).toBe('1');
    // The stall itself lasts until restore(); a store without deadlines would still be waiting.
    expect(elapsedMs).toBeLessThan(TIMEOUT_MS * 3);
    let after = await exchange(t.app, apiKey, { token });
    for (let attempt = 0; after.status !== 200 && attempt < 20; attempt++) {
      await new Promise((resolve) => setTimeout(resolve, 250));
      after = await exchange(t.app, apiKey, { token });
    }
    expect(after.status).toBe(200);
  });
});
