import { StoreUnavailableError } from '@rialto-exchange/core';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { request } from './client.js';
import {
  ADMIN_TOKEN,
  createTestApp,
  exchange,
  idTokenClaims,
  type LocalIssuer,
  recordingStore,
  registerOrganization,
  startLocalIssuer,
  type TestApp,
} from './helpers.js';
import { basic, expectOAuthError } from './oauth-helpers.js';

describe('POST /oauth/revoke (RFC 7009)', () => {
  let idp: LocalIssuer;
  let otherIdp: LocalIssuer;
  let t: TestApp;
  let org: { orgId: string; apiKey: string };
  let other: { orgId: string; apiKey: string };
  const revoked: unknown[] = [];

  beforeAll(async () => {
    [idp, otherIdp] = await Promise.all([startLocalIssuer(), startLocalIssuer()]);
  });
  afterAll(() => Promise.all([idp.close(), otherIdp.close()]));

  beforeEach(async () => {
    t = createTestApp();
    revoked.length = 0;
    t.router.exchange.audit.on('refresh.revoked', (event) => {
      revoked.push(event);
    });
    org = await registerOrganization(t.app, { name: 'Acme', issuer: idp.issuer, audience: [] });
    other = await registerOrganization(t.app, { name: 'Other', issuer: otherIdp.issuer, audience: [] });
  });

  async function signIn(apiKey = org.apiKey) {
    const issuer = apiKey === org.apiKey ? idp : otherIdp;
    const response = await exchange(t.app, apiKey, {
      token: await issuer.sign(idTokenClaims(issuer.issuer)),
    });
    expect(response.status).toBe(200);
    return response.body as { access_token: string; refresh_token: string };
  }
  const revoke = (form: string, headers: Record<string, string> = {}) =>
    request(t.app).post('/oauth/revoke').set(headers).send(form);
  const refresh = (refreshToken: string) =>
    request(t.app).post('/identity/auth/refresh').send({ refresh_token: refreshToken });

  it('revokes a refresh token of the authenticating organization by client_secret_basic: its whole family ends', async () => {
    const first = await signIn();
    const second = (await refresh(first.refresh_token)).body as { refresh_token: string };
    const response = await revoke(`token=${first.refresh_token}&token_type_hint=refresh_token`, {
      authorization: basic(org.orgId, org.apiKey),
    });
    expect(response.status).toBe(200);
    expect(response.body).toEqual({});
    expect(response.headers['cache-control']).toBe('no-store');
    expect((await refresh(second.refresh_token)).status).toBe(400);
    expect(revoked).toEqual([expect.objectContaining({ orgId: org.orgId })]);
  });

  it('accepts client_secret_post and the X-API-Key header', async () => {
    const viaPost = await signIn();
    const response = await revoke(
      `token=${viaPost.refresh_token}&client_id=${org.orgId}&client_secret=${encodeURIComponent(org.apiKey)}`,
    );
    expect(response.status).toBe(200);
    expect((await refresh(viaPost.refresh_token)).status).toBe(400);

    const viaHeader = await signIn();
    expect((await revoke(`token=${viaHeader.refresh_token}`, { 'x-api-key': org.apiKey })).status).toBe(200);
    expect((await refresh(viaHeader.refresh_token)).status).toBe(400);
  });

  it("answers 200 for another organization's refresh token and leaves it usable (stated deviation from RFC 7009 §2.1)", async () => {
    const theirs = await signIn(other.apiKey);
    t.store.resetWrites();
    const response = await revoke(`token=${theirs.refresh_token}`, {
      authorization: basic(org.orgId, org.apiKey),
    });
    expect(response.status).toBe(200);
    expect(response.body).toEqual({});
    expect(t.store.writes).toEqual([]);
    expect(revoked).toEqual([]);
    expect((await refresh(theirs.refresh_token)).status).toBe(200);
  });

  it('answers 200 for unknown, malformed and already revoked tokens, changing nothing', async () => {
    const mine = await signIn();
    const auth = { authorization: basic(org.orgId, org.apiKey) };
    expect((await revoke(`token=${mine.refresh_token}`, auth)).status).toBe(200);
    revoked.length = 0;
    t.store.resetWrites();
    for (const token of ['not-a-token', 'eyJhbGciOiJIUzI1NiJ9.e30.c2ln', `${mine.refresh_token}x`]) {
      const response = await revoke(`token=${encodeURIComponent(token)}`, auth);
      expect({ status: response.status, body: response.body }).toEqual({ status: 200, body: {} });
    }
    expect(t.store.writes).toEqual([]);
    expect(revoked).toEqual([]);
  });

  it('refuses access tokens with 400 unsupported_token_type: there is no deny-list', async () => {
    const mine = await signIn();
    const response = await revoke(`token=${mine.access_token}&token_type_hint=access_token`, {
      authorization: basic(org.orgId, org.apiKey),
    });
    expectOAuthError(response, 400, 'unsupported_token_type');
    // The refresh family is untouched.
    expect((await refresh(mine.refresh_token)).status).toBe(200);
  });

  it('refuses a wrong secret with 401 invalid_client and a Basic challenge when Basic was used', async () => {
    const mine = await signIn();
    t.store.resetWrites();
    const response = await revoke(`token=${mine.refresh_token}`, {
      authorization: basic(org.orgId, `${org.apiKey}x`),
    });
    expectOAuthError(response, 401, 'invalid_client', 'invalid_api_key');
    expect(response.headers['www-authenticate']).toMatch(/^Basic realm="rialto", error="invalid_client"/);
    expect(t.store.writes).toEqual([]);
    expect((await refresh(mine.refresh_token)).status).toBe(200);
  });

  it("refuses a client_id that is not the secret's organization with 401 invalid_client", async () => {
    const response = await revoke(
      `token=x&client_id=${other.orgId}&client_secret=${encodeURIComponent(org.apiKey)}`,
    );
    expectOAuthError(response, 401, 'invalid_client', 'invalid_api_key');
    expect(response.headers['www-authenticate']).toBeUndefined();
  });

  it('refuses a request without client authentication with 401 invalid_client', async () => {
    expectOAuthError(await revoke('token=x'), 401, 'invalid_client', 'missing_api_key');
    // The admin token is not client authentication here.
    expectOAuthError(
      await revoke('token=x', { authorization: `Bearer ${ADMIN_TOKEN}` }),
      401,
      'invalid_client',
      'missing_api_key',
    );
  });

  it('refuses two client authentication methods, a missing token and a JSON body with 400 invalid_request', async () => {
    expectOAuthError(
      await revoke(`token=x&client_id=${org.orgId}&client_secret=${encodeURIComponent(org.apiKey)}`, {
        'x-api-key': org.apiKey,
      }),
      400,
      'invalid_request',
      'invalid_request',
    );
    expectOAuthError(
      await revoke('token_type_hint=refresh_token', { 'x-api-key': org.apiKey }),
      400,
      'invalid_request',
      'invalid_request',
    );
    const json = await request(t.app).post('/oauth/revoke').set('x-api-key', org.apiKey).send({ token: 'x' });
    expectOAuthError(json, 400, 'invalid_request', 'unsupported_media_type');
    expectOAuthError(
      await revoke('token=a&token=b', { 'x-api-key': org.apiKey }),
      400,
      'invalid_request',
      'invalid_request',
    );
  });

  it('refuses a suspended organization with 400 unauthorized_client', async () => {
    const mine = await signIn();
    await request(t.app)
      .post(`/identity/organizations/${org.orgId}/suspend`)
      .set('authorization', `Bearer ${ADMIN_TOKEN}`)
      .send({});
    const response = await revoke(`token=${mine.refresh_token}`, { 'x-api-key': org.apiKey });
    expectOAuthError(response, 400, 'unauthorized_client', 'organization_suspended');
  });
});

describe('POST /oauth/revoke limits and outages', () => {
  it('counts refused client authentication against the per-address limit: 429 temporarily_unavailable with Retry-After', async () => {
    const t = createTestApp({
      rateLimit: { perIp: { limit: 2, windowSeconds: 60 }, perOrganization: false },
    });
    const wrong = { authorization: basic('org', 'rialto_ak_wrong') };
    for (let attempt = 0; attempt < 2; attempt++) {
      const response = await request(t.app).post('/oauth/revoke').set(wrong).send('token=x');
      expect(response.status).toBe(401);
    }
    const limited = await request(t.app).post('/oauth/revoke').set(wrong).send('token=x');
    expectOAuthError(limited, 429, 'temporarily_unavailable', 'rate_limited');
    expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);
  });

  it('answers 503 temporarily_unavailable with Retry-After when the store fails, rather than 200', async () => {
    const idp = await startLocalIssuer();
    const store = recordingStore();
    const t = createTestApp({ store });
    const org = await registerOrganization(t.app, { name: 'Acme', issuer: idp.issuer, audience: [] });
    const signedIn = await exchange(t.app, org.apiKey, { token: await idp.sign(idTokenClaims(idp.issuer)) });
    store.revokeRefreshTokenFamily = async () => {
      throw new StoreUnavailableError('store down');
    };
    const response = await request(t.app)
      .post('/oauth/revoke')
      .set('x-api-key', org.apiKey)
      .send(`token=${signedIn.body.refresh_token}`);
    expectOAuthError(response, 503, 'temporarily_unavailable', 'temporarily_unavailable');
    expect(response.headers['retry-after']).toBe('1');
    await idp.close();
  });
});
