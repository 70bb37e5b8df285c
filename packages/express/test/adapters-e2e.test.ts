import { decodeJwt } from 'jose';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type DisposableStore,
  disposableStore,
  SERVICE_OF,
  type StoreKind,
} from '../../storage-adapters/test/disposable-stores.js';
import { isServiceUp } from '../../storage-adapters/test/services.js';
import {
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

  it.skipIf(kind === 'keyv')('creates one user for 20 simultaneous first exchanges', async () => {
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

  it('serves the user to its own organization only', async () => {
    const { body } = await signIn(apiKey, idp, { sub: 'ada', email: 'ada@example.com' });
    const userId = decodeJwt(body.access_token).user_id as string;
    const response = await request(t.app)
      .get(`/identity/users/${userId}`)
      .set('authorization', `Bearer ${body.access_token}`);
    expect(response.body).toMatchObject({ user_id: userId, email: 'ada@example.com' });
  });
});
