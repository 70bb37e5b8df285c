import { decodeJwt } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request } from './client.js';
import {
  ADMIN_TOKEN,
  createTestApp,
  exchange,
  expectFailsWith,
  idTokenClaims,
  type LocalIssuer,
  registerOrganization,
  startLocalIssuer,
  type TestApp,
} from './helpers.js';

/**
 * The per-address limit counts every failed authentication, whatever the route and credential, and
 * once the address has spent it the right credential is refused too: guessing is no faster than the
 * limit. Exchanges (the token routes) count every request; they are tested in rate-limit.test.ts.
 */

const LIMIT = 3;
let idp: LocalIssuer;
beforeAll(async () => {
  idp = await startLocalIssuer();
});
afterAll(() => idp.close());

/** An app whose per-address limit is LIMIT, with an org and a user's access token (made before the limit matters). */
async function limitedApp() {
  const t: TestApp = createTestApp({
    rateLimit: { perIp: { limit: 100, windowSeconds: 60 }, perOrganization: false },
  });
  const { orgId, apiKey } = await registerOrganization(t.app, { name: 'Acme', issuer: idp.issuer });
  const signedIn = await exchange(t.app, apiKey, { token: await idp.sign(idTokenClaims(idp.issuer)) });
  expect(signedIn.status).toBe(200);
  const accessToken = signedIn.body.access_token as string;
  const userId = decodeJwt(accessToken).user_id as string;
  // A fresh app on the same store: its per-address budget is whole and LIMIT.
  const fresh = createTestApp({
    store: t.store,
    rateLimit: { perIp: { limit: LIMIT, windowSeconds: 60 }, perOrganization: false },
  });
  return { t: fresh, orgId, apiKey, accessToken, userId };
}

describe('failed authentication on every route spends the per-address limit', () => {
  it('admin token guesses: 401 up to the limit, then 429 even for the right token', async () => {
    const { t, orgId } = await limitedApp();
    const listIssuers = (token: string) =>
      request(t.app).get(`/identity/organizations/${orgId}/issuers`).set('authorization', `Bearer ${token}`);
    for (let guess = 0; guess < LIMIT; guess++) {
      expectFailsWith(
        await listIssuers(`guess-${guess}`),
        401,
        'unauthorized',
        'Admin credentials are not valid.',
      );
    }
    const limited = await listIssuers(ADMIN_TOKEN);
    expectFailsWith(
      limited,
      429,
      'rate_limited',
      /^Too many requests from this client address\. Retry in \d+ s\.$/,
    );
    expect(Number(limited.headers['retry-after'])).toBeGreaterThanOrEqual(1);
  });

  it('API key guesses: 401 invalid_api_key up to the limit, then 429 even for the right key', async () => {
    const { t, apiKey, userId } = await limitedApp();
    const readUser = (key: string) => request(t.app).get(`/identity/users/${userId}`).set('x-api-key', key);
    for (let guess = 0; guess < LIMIT; guess++) {
      expectFailsWith(await readUser(`rk_guess_${guess}`), 401, 'invalid_api_key');
    }
    expectFailsWith(await readUser(apiKey), 429, 'rate_limited', /client address/);
  });

  it('access token guesses: 401 invalid_access_token up to the limit, then 429 even for the right token', async () => {
    const { t, accessToken, userId } = await limitedApp();
    const readUser = (token: string) =>
      request(t.app).get(`/identity/users/${userId}`).set('authorization', `Bearer ${token}`);
    // A well-formed token with a forged signature, and plain garbage.
    const [header, payload] = accessToken.split('.');
    const guesses = [`${header}.${payload}.AAAA`, 'not-a-jwt', `${header}.${payload}.BBBB`];
    for (const guess of guesses) expectFailsWith(await readUser(guess), 401, 'invalid_access_token');
    expectFailsWith(await readUser(accessToken), 429, 'rate_limited', /client address/);
  });

  it('does not count successful requests, nor requests presenting no credential', async () => {
    const { t, orgId } = await limitedApp();
    for (let i = 0; i < LIMIT + 2; i++) {
      const anonymous = await request(t.app).get(`/identity/organizations/${orgId}/issuers`);
      expectFailsWith(anonymous, 401, 'unauthorized', 'Admin credentials are required.');
      const admin = await request(t.app)
        .get(`/identity/organizations/${orgId}/issuers`)
        .set('authorization', `Bearer ${ADMIN_TOKEN}`);
      expect(admin.status).toBe(200);
    }
  });

  it('the readiness probe still answers anonymous callers after failed admin tokens spent the budget, and stops judging admin tokens', async () => {
    const { t } = await limitedApp();
    const probe = (token?: string) => {
      const call = request(t.app).get('/health/ready');
      return token === undefined ? call : call.set('authorization', `Bearer ${token}`);
    };
    // Admins get figures (`data`) in each check; anonymous callers do not.
    const hasFigures = (body: unknown) =>
      (body as { checks: Array<{ data?: unknown }> }).checks.some((check) => check.data !== undefined);
    expect(hasFigures((await probe(ADMIN_TOKEN)).body)).toBe(true);
    for (let guess = 0; guess < LIMIT; guess++) {
      const guessed = await probe(`guess-${guess}`);
      expect(guessed.status).toBe(200);
      expect(hasFigures(guessed.body)).toBe(false);
    }
    const afterGuesses = await probe(ADMIN_TOKEN);
    expect(afterGuesses.status).toBe(200);
    expect(hasFigures(afterGuesses.body)).toBe(false);
    expect(hasFigures((await probe()).body)).toBe(false);
  });
});
