import { decodeJwt } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type DisposableStore,
  disposableStore,
  SERVICE_OF,
  type StoreKind,
} from '../../storage-adapters/test/disposable-stores.js';
import { isServiceUp } from '../../storage-adapters/test/services.js';
import { request } from './client.js';
import {
  ADMIN_TOKEN,
  createTestApp,
  exchange,
  expectFailsWith,
  idTokenClaims,
  type LocalIssuer,
  recordingStore,
  registerOrganization,
  startLocalIssuer,
  type TestApp,
} from './helpers.js';

const now = () => Math.floor(Date.now() / 1000);

const kinds: StoreKind[] = ['memory', 'sqlite', 'redis', 'postgres', 'mysql', 'keyv'];

describe.each(kinds)('the whole exchange on the %s store', async (kind) => {
  const service = SERVICE_OF[kind];
  if (service && !(await isServiceUp(...service))) return;

  let idp: LocalIssuer;
  let otherIdp: LocalIssuer;
  let backing: DisposableStore;
  let t: TestApp;
  let apiKey: string;

  beforeAll(async () => {
    [idp, otherIdp] = await Promise.all([startLocalIssuer(), startLocalIssuer()]);
    backing = disposableStore(kind);
    t = createTestApp({ store: recordingStore(backing.store), rateLimit: false });
    ({ apiKey } = await registerOrganization(t.app, { name: 'Acme', issuer: idp.issuer }));
  });
  afterAll(async () => {
    await Promise.all([idp.close(), otherIdp.close()]);
    await backing.dispose();
  });

  const signIn = async (key: string, issuer: LocalIssuer, claims: Record<string, unknown>) =>
    exchange(t.app, key, { token: await issuer.sign(idTokenClaims(issuer.issuer, claims)) });

  it('creates a user on the first exchange and reuses it after', async () => {
    const first = await signIn(apiKey, idp, { sub: 'ada', email: 'ada@example.com' });
    const second = await signIn(apiKey, idp, { sub: 'ada', email: 'ada@example.com' });
    expect([first.status, second.status]).toEqual([200, 200]);
    expect(decodeJwt(second.body.access_token).user_id).toBe(decodeJwt(first.body.access_token).user_id);
  });

  it('keeps organizations apart for the same email', async () => {
    const other = await registerOrganization(t.app, { name: 'Other', issuer: otherIdp.issuer });
    const mine = await signIn(apiKey, idp, { sub: 'grace', email: 'grace@example.com' });
    const theirs = await signIn(other.apiKey, otherIdp, { sub: 'grace', email: 'grace@example.com' });
    expect(decodeJwt(theirs.body.access_token).user_id).not.toBe(decodeJwt(mine.body.access_token).user_id);
  });

  it('creates one user for 20 simultaneous first exchanges', async () => {
    const token = await idp.sign(idTokenClaims(idp.issuer, { sub: 'burst', email: 'burst@example.com' }));
    const responses = await Promise.all(Array.from({ length: 20 }, () => exchange(t.app, apiKey, { token })));
    expect(responses.map((response) => response.status)).toEqual(Array(20).fill(200));
    expect(new Set(responses.map((response) => decodeJwt(response.body.access_token).user_id)).size).toBe(1);
  });

  it('rotates refresh tokens, answers a retry with the same successor, and detects reuse', async () => {
    const { body } = await signIn(apiKey, idp, { sub: 'linus', email: 'linus@example.com' });
    const refresh = (refreshToken: string) =>
      request(t.app).post('/identity/auth/refresh').send({ refresh_token: refreshToken });
    const refreshed = await refresh(body.refresh_token);
    expect(refreshed.status).toBe(200);
    const retried = await refresh(body.refresh_token);
    expect(retried.status).toBe(200);
    expect(retried.body.refresh_token).toBe(refreshed.body.refresh_token);
    const next = await refresh(refreshed.body.refresh_token);
    expect(next.status).toBe(200);
    expectFailsWith(await refresh(body.refresh_token), 400, 'invalid_grant');
    expectFailsWith(await refresh(next.body.refresh_token), 400, 'invalid_grant');
  });

  it.each<[string, Record<string, unknown>]>([
    ['sub', { sub: 'nul\u0000sub', email: 'nul-sub@example.com' }],
    ['email', { sub: 'nul-email', email: 'nul\u0000@example.com' }],
  ])('refuses a NUL in the %s claim with invalid_token 400 before any write', async (claim, claims) => {
    t.store.resetWrites();
    expectFailsWith(
      await signIn(apiKey, idp, claims),
      400,
      'invalid_token',
      `The token's ${claim} claim must not contain control characters.`,
    );
    expect(t.store.writes).toEqual([]);
  });

  it('refuses a NUL in an organization name or a webhook description with invalid_request 400', async () => {
    t.store.resetWrites();
    const admin = (path: string) => request(t.app).post(path).set('authorization', `Bearer ${ADMIN_TOKEN}`);
    expectFailsWith(
      await admin('/identity/organizations').send({ name: 'Nul\u0000Corp', issuer: 'https://nul.example' }),
      400,
      'invalid_request',
      'name: must not contain control characters',
    );
    const webhook = await request(t.app)
      .post('/notifications/webhooks')
      .set('x-api-key', apiKey)
      .send({ url: 'https://hooks.example.com/in', eventTypes: ['user.created'], description: 'a\u0000b' });
    expectFailsWith(webhook, 400, 'invalid_request', 'description: must not contain control characters');
    expect(t.store.writes).toEqual([]);
  });

  describe('with singleUseIdTokens', () => {
    let once: TestApp;
    beforeAll(() => {
      once = createTestApp({
        store: recordingStore(backing.store),
        rateLimit: false,
        singleUseIdTokens: true,
      });
    });
    const tokenFor = (claims: Record<string, unknown>) => idp.sign(idTokenClaims(idp.issuer, claims));

    it('exchanges an ID token once, then answers invalid_token 400 and writes no user', async () => {
      const token = await tokenFor({ sub: 'once', email: 'once@example.com', jti: `jti-${Math.random()}` });
      expect((await exchange(once.app, apiKey, { token })).status).toBe(200);
      once.store.resetWrites();
      expectFailsWith(
        await exchange(once.app, apiKey, { token }),
        400,
        'invalid_token',
        /^The ID token was already exchanged; each ID token can be exchanged once\./,
      );
      expect(once.store.writes).toEqual(['consumeOnce']);
    });

    it('refuses another token carrying the same issuer and jti', async () => {
      const jti = `jti-${Math.random()}`;
      const first = await tokenFor({ sub: 'jti-twin', email: 'twin@example.com', jti });
      const twin = await tokenFor({ sub: 'jti-twin', email: 'twin@example.com', jti, iat: now() - 5 });
      expect(twin).not.toBe(first);
      expect((await exchange(once.app, apiKey, { token: first })).status).toBe(200);
      expectFailsWith(
        await exchange(once.app, apiKey, { token: twin }),
        400,
        'invalid_token',
        /already exchanged/,
      );
    });

    it('names a token without jti by its hash', async () => {
      const token = await tokenFor({ sub: 'no-jti', email: 'no-jti@example.com', jti: undefined });
      const other = await tokenFor({
        sub: 'no-jti',
        email: 'no-jti@example.com',
        jti: undefined,
        iat: now() - 5,
      });
      expect((await exchange(once.app, apiKey, { token })).status).toBe(200);
      expectFailsWith(await exchange(once.app, apiKey, { token }), 400, 'invalid_token', /already exchanged/);
      expect((await exchange(once.app, apiKey, { token: other })).status).toBe(200);
    });

    it('does not use a token up on a refused request', async () => {
      const token = await tokenFor({ sub: 'refused-first', email: 'refused@example.com' });
      once.store.resetWrites();
      expectFailsWith(await exchange(once.app, 'rialto_ak_wrong', { token }), 401, 'invalid_api_key');
      const expired = await tokenFor({
        sub: 'refused-first',
        email: 'refused@example.com',
        exp: now() - 120,
      });
      expectFailsWith(await exchange(once.app, apiKey, { token: expired }), 401, 'token_expired');
      expect(once.store.writes).toEqual([]);
      expect((await exchange(once.app, apiKey, { token })).status).toBe(200);
    });

    it('lets exactly one of 10 simultaneous exchanges of one token through', async () => {
      const token = await tokenFor({
        sub: 'racer',
        email: 'racer@example.com',
        jti: `jti-${Math.random()}`,
      });
      const responses = await Promise.all(
        Array.from({ length: 10 }, () => exchange(once.app, apiKey, { token })),
      );
      expect(responses.map((response) => response.status).sort()).toEqual([200, ...Array(9).fill(400)]);
    });

    it('is off by default: the same token exchanges twice', async () => {
      const token = await tokenFor({ sub: 'retry', email: 'retry@example.com', jti: `jti-${Math.random()}` });
      expect((await exchange(t.app, apiKey, { token })).status).toBe(200);
      expect((await exchange(t.app, apiKey, { token })).status).toBe(200);
    });
  });

  it('serves the user to its own organization only', async () => {
    const { body } = await signIn(apiKey, idp, { sub: 'ada', email: 'ada@example.com' });
    const userId = decodeJwt(body.access_token).user_id as string;
    const response = await request(t.app)
      .get(`/identity/users/${userId}`)
      .set('authorization', `Bearer ${body.access_token}`);
    expect(response.body).toMatchObject({ user_id: userId, email: 'ada@example.com' });
  });
});
