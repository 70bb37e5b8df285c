import { StoreUnavailableError } from '@rialto-exchange/core';
import { decodeJwt } from 'jose';
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
  SERVICE_ISSUER,
  startLocalIssuer,
  type TestApp,
} from './helpers.js';
import { basic, bindAccessToken, expectOAuthError, resignAccessToken } from './oauth-helpers.js';

describe('POST /oauth/introspect (RFC 7662)', () => {
  let idp: LocalIssuer;
  let otherIdp: LocalIssuer;
  let t: TestApp;
  let org: { orgId: string; apiKey: string };
  let other: { orgId: string; apiKey: string };

  beforeAll(async () => {
    [idp, otherIdp] = await Promise.all([startLocalIssuer(), startLocalIssuer()]);
  });
  afterAll(() => Promise.all([idp.close(), otherIdp.close()]));

  beforeEach(async () => {
    t = createTestApp();
    org = await registerOrganization(t.app, {
      name: 'Acme',
      issuer: idp.issuer,
      audience: ['primary-issuance'],
    });
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
  const introspect = (token: string, headers: Record<string, string> = { 'x-api-key': org.apiKey }) =>
    request(t.app)
      .post('/oauth/introspect')
      .set(headers)
      .send(`token=${encodeURIComponent(token)}`);
  async function expectInactive(token: string, headers?: Record<string, string>) {
    const response = await introspect(token, headers);
    expect({ status: response.status, body: response.body }).toEqual({
      status: 200,
      body: { active: false },
    });
    expect(response.headers['cache-control']).toBe('no-store');
  }

  it("describes an active access token of the caller's organization with every member, uncached", async () => {
    const { access_token } = await signIn();
    const claims = decodeJwt(access_token);
    const response = await introspect(access_token, { authorization: basic(org.orgId, org.apiKey) });
    expect(response.status).toBe(200);
    expect(response.headers['cache-control']).toBe('no-store');
    expect(response.body).toEqual({
      active: true,
      token_type: 'Bearer',
      scope: 'openid email profile aud:identity aud:primary-issuance',
      client_id: org.orgId,
      sub: claims.sub,
      exp: claims.exp,
      iat: claims.iat,
      iss: SERVICE_ISSUER,
      aud: ['identity', 'primary-issuance'],
      org_id: org.orgId,
      user_id: claims.user_id,
    });
  });

  it('describes an active refresh token', async () => {
    const { refresh_token, access_token } = await signIn();
    const claims = decodeJwt(refresh_token);
    const response = await introspect(refresh_token);
    expect(response.body).toEqual({
      active: true,
      token_type: 'refresh_token',
      scope: 'openid email profile aud:identity aud:primary-issuance',
      client_id: org.orgId,
      sub: claims.sub,
      exp: claims.exp,
      iat: claims.iat,
      iss: SERVICE_ISSUER,
      aud: SERVICE_ISSUER,
      org_id: org.orgId,
      user_id: decodeJwt(access_token).user_id,
    });
  });

  it('describes a DPoP-bound access token with token_type DPoP and its cnf', async () => {
    const { access_token } = await signIn();
    const bound = await bindAccessToken(t.store, access_token, 'thumbprint-of-the-client-key');
    const response = await introspect(bound);
    expect(response.body).toMatchObject({
      active: true,
      token_type: 'DPoP',
      cnf: { jkt: 'thumbprint-of-the-client-key' },
    });
  });

  it("answers exactly { active: false } for another organization's tokens, and the admin token sees them", async () => {
    const theirs = await signIn(other.apiKey);
    await expectInactive(theirs.access_token);
    await expectInactive(theirs.refresh_token);
    const asAdmin = await introspect(theirs.access_token, { authorization: `Bearer ${ADMIN_TOKEN}` });
    expect(asAdmin.body).toMatchObject({ active: true, org_id: other.orgId, client_id: other.orgId });
    const refreshAsAdmin = await introspect(theirs.refresh_token, { authorization: `Bearer ${ADMIN_TOKEN}` });
    expect(refreshAsAdmin.body).toMatchObject({ active: true, token_type: 'refresh_token' });
  });

  it('answers exactly { active: false } for expired, tampered and foreign tokens, and for anything else', async () => {
    const { access_token, refresh_token } = await signIn();
    const now = Math.floor(Date.now() / 1000);
    await expectInactive(
      await resignAccessToken(t.store, access_token, { iat: now - 7200, exp: now - 3600 }),
    );
    const [header, payload, signature] = access_token.split('.');
    const tampered = JSON.parse(Buffer.from(payload as string, 'base64url').toString());
    tampered.org_role = 'org_admin';
    await expectInactive(
      `${header}.${Buffer.from(JSON.stringify(tampered)).toString('base64url')}.${signature}`,
    );
    await expectInactive(`${refresh_token.slice(0, -2)}AA`);
    await expectInactive(await idp.sign(idTokenClaims(idp.issuer)));
    await expectInactive('not-a-token');
  });

  it('answers { active: false } for a used refresh token and for every token of a revoked family; access tokens live until exp', async () => {
    const first = await signIn();
    const refreshed = await request(t.app)
      .post('/identity/auth/refresh')
      .send({ refresh_token: first.refresh_token });
    expect(refreshed.status).toBe(200);
    await expectInactive(first.refresh_token);
    expect((await introspect(refreshed.body.refresh_token)).body).toMatchObject({ active: true });

    const revoked = await request(t.app)
      .post('/oauth/revoke')
      .set('x-api-key', org.apiKey)
      .send(`token=${refreshed.body.refresh_token}`);
    expect(revoked.status).toBe(200);
    await expectInactive(refreshed.body.refresh_token);
    // The documented choice: no deny-list, so the family's access tokens stay active until they expire.
    expect((await introspect(refreshed.body.access_token)).body).toMatchObject({ active: true });
  });

  it("answers { active: false } for a deleted user's tokens", async () => {
    const { access_token, refresh_token } = await signIn();
    const deleted = await request(t.app)
      .delete(`/identity/users/${decodeJwt(access_token).user_id}`)
      .set('x-api-key', org.apiKey);
    expect(deleted.status).toBe(200);
    await expectInactive(access_token);
    await expectInactive(refresh_token);
  });

  it("answers { active: false } for a suspended organization's tokens (to the admin: the org itself is refused)", async () => {
    const { access_token, refresh_token } = await signIn();
    const suspended = await request(t.app)
      .post(`/identity/organizations/${org.orgId}/suspend`)
      .set('authorization', `Bearer ${ADMIN_TOKEN}`)
      .send({});
    expect(suspended.status).toBe(200);
    const admin = { authorization: `Bearer ${ADMIN_TOKEN}` };
    await expectInactive(access_token, admin);
    await expectInactive(refresh_token, admin);
    expectOAuthError(await introspect(access_token), 400, 'unauthorized_client', 'organization_suspended');
  });

  it('refuses callers without credentials, with a wrong admin token or a wrong secret: 401 invalid_client', async () => {
    const { access_token } = await signIn();
    expectOAuthError(await introspect(access_token, {}), 401, 'invalid_client', 'missing_api_key');
    expectOAuthError(
      await introspect(access_token, { authorization: 'Bearer not-the-admin-token' }),
      401,
      'invalid_client',
      'unauthorized',
    );
    const wrongBasic = await introspect(access_token, { authorization: basic(org.orgId, 'rialto_ak_nope') });
    expectOAuthError(wrongBasic, 401, 'invalid_client', 'invalid_api_key');
    expect(wrongBasic.headers['www-authenticate']).toMatch(/^Basic realm="rialto"/);
  });

  it('refuses a request without token with 400 invalid_request', async () => {
    const response = await request(t.app)
      .post('/oauth/introspect')
      .set('x-api-key', org.apiKey)
      .send('token_type_hint=access_token');
    expectOAuthError(response, 400, 'invalid_request', 'invalid_request');
  });
});

describe('POST /oauth/introspect limits', () => {
  it('counts every request, refused ones too, against the per-address limit: 429 temporarily_unavailable', async () => {
    const t = createTestApp({
      rateLimit: { perIp: { limit: 2, windowSeconds: 60 }, perOrganization: false },
    });
    const introspect = () =>
      request(t.app)
        .post('/oauth/introspect')
        .set('authorization', 'Bearer wrong-admin-token')
        .send('token=x');
    for (let attempt = 0; attempt < 2; attempt++) expect((await introspect()).status).toBe(401);
    const limited = await introspect();
    expectOAuthError(limited, 429, 'temporarily_unavailable', 'rate_limited');
    expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);
  });

  it("counts an organization's introspections against its per-organization limit", async () => {
    const idp = await startLocalIssuer();
    const t = createTestApp({
      rateLimit: { perIp: false, perOrganization: { limit: 2, windowSeconds: 60 } },
    });
    const org = await registerOrganization(t.app, { name: 'Acme', issuer: idp.issuer, audience: [] });
    const introspect = () =>
      request(t.app).post('/oauth/introspect').set('x-api-key', org.apiKey).send('token=x');
    for (let attempt = 0; attempt < 2; attempt++)
      expect((await introspect()).body).toEqual({ active: false });
    expectOAuthError(await introspect(), 429, 'temporarily_unavailable', 'rate_limited');
    // The admin is no organization: its introspections are not counted there.
    const asAdmin = await request(t.app)
      .post('/oauth/introspect')
      .set('authorization', `Bearer ${ADMIN_TOKEN}`)
      .send('token=x');
    expect(asAdmin.body).toEqual({ active: false });
    await idp.close();
  });
});

describe('POST /oauth/introspect when the store fails', () => {
  it('answers 503 temporarily_unavailable with Retry-After, never { active: false }', async () => {
    const idp = await startLocalIssuer();
    const store = recordingStore();
    const t = createTestApp({ store });
    const org = await registerOrganization(t.app, { name: 'Acme', issuer: idp.issuer, audience: [] });
    const signedIn = await exchange(t.app, org.apiKey, { token: await idp.sign(idTokenClaims(idp.issuer)) });
    store.isRefreshTokenLive = async () => {
      throw new StoreUnavailableError('store down');
    };
    const response = await request(t.app)
      .post('/oauth/introspect')
      .set('x-api-key', org.apiKey)
      .send(`token=${signedIn.body.refresh_token}`);
    expectOAuthError(response, 503, 'temporarily_unavailable', 'temporarily_unavailable');
    expect(response.headers['retry-after']).toBe('1');
    await idp.close();
  });
});
