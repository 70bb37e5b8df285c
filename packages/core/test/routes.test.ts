import { decodeJwt, exportJWK, generateKeyPair, SignJWT } from 'jose';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
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

let idp: LocalIssuer;
let otherIdp: LocalIssuer;
beforeAll(async () => {
  [idp, otherIdp] = await Promise.all([startLocalIssuer(), startLocalIssuer({ trailingSlash: true })]);
});
afterAll(async () => {
  await Promise.all([idp.close(), otherIdp.close()]);
});

describe('POST /identity/organizations', () => {
  let t: TestApp;
  beforeEach(() => {
    t = createTestApp();
  });
  const register = (body: unknown, token = ADMIN_TOKEN) =>
    request(t.app)
      .post('/identity/organizations')
      .set('authorization', `Bearer ${token}`)
      .send(body as object);

  it('registers an organization and shows its API key once', async () => {
    const response = await register({
      name: 'Acme',
      issuer: idp.issuer,
      audience: ['primary-issuance', 'identity'],
    });
    expect(response.status).toBe(201);
    expect(response.headers['cache-control']).toBe('no-store');
    expect(response.body).toMatchObject({
      name: 'Acme',
      issuer: idp.issuer,
      audience: ['identity', 'primary-issuance'],
      client_ids: [],
      email_linking: 'verified',
    });
    expect(response.body.api_key).toBe(
      `rialto_ak_${response.body.org_id}_${response.body.api_key.slice(-43)}`,
    );
    expect(response.body.api_key).toMatch(/^rialto_ak_[0-9a-f-]{36}_[A-Za-z0-9_-]{43}$/);
    const [stored] = await t.store.listActiveApiKeys(response.body.org_id);
    expect(stored?.hash).toMatch(/^[0-9a-f]{64}$/);
    expect(JSON.stringify(stored)).not.toContain(response.body.api_key.slice(-43));
  });

  it('stores an issuer without its trailing slash and matches tokens either way', async () => {
    const response = await register({ name: 'Auth0 style', issuer: otherIdp.issuer });
    expect(response.body.issuer).toBe(otherIdp.issuer.slice(0, -1));
    const token = await otherIdp.sign(idTokenClaims(otherIdp.issuer));
    expect((await exchange(t.app, response.body.api_key, { token })).status).toBe(200);
  });

  it('answers unauthorized 401 without admin credentials', async () => {
    const response = await request(t.app)
      .post('/identity/organizations')
      .send({ name: 'Acme', issuer: idp.issuer });
    expectFailsWith(response, 401, 'unauthorized');
    expect(response.headers['www-authenticate']).toMatch(/^Bearer realm="rialto"/);
  });

  it('answers unauthorized 401 for a wrong admin token and writes nothing', async () => {
    const response = await register({ name: 'Acme', issuer: idp.issuer }, 'wrong-admin-token-000000');
    expectFailsWith(response, 401, 'unauthorized');
    expect(t.store.writes).toEqual([]);
  });

  it('answers not_found 404 when no admin authentication is configured', async () => {
    const { app } = createTestApp({ store: t.store, adminToken: undefined });
    const response = await request(app)
      .post('/identity/organizations')
      .set('authorization', `Bearer ${ADMIN_TOKEN}`)
      .send({ name: 'Acme', issuer: idp.issuer });
    expectFailsWith(response, 404, 'not_found');
  });

  it('admits requests the authorizeAdmin hook approves', async () => {
    const { app } = createTestApp({
      store: t.store,
      adminToken: undefined,
      authorizeAdmin: (req) => req.headers['x-internal-admin'] === 'yes',
    });
    const response = await request(app)
      .post('/identity/organizations')
      .set('x-internal-admin', 'yes')
      .send({ name: 'Acme', issuer: idp.issuer });
    expect(response.status).toBe(201);
  });

  it.each([
    ['a missing name', { issuer: 'https://idp.example.com' }, /^name: /],
    ['an unknown field', { name: 'A', issuer: 'https://idp.example.com', color: 'red' }, /color/],
    ['a relative issuer', { name: 'A', issuer: 'idp.example.com' }, /absolute/],
    [
      'an audience with spaces',
      { name: 'A', issuer: 'https://idp.example.com', audience: ['a b'] },
      /^audience\.0: /,
    ],
    [
      'a symmetric algorithm',
      { name: 'A', issuer: 'https://idp.example.com', allowed_algorithms: ['HS256'] },
      /allowed_algorithms/,
    ],
  ])('answers invalid_request 400 for %s', async (_, body, description) => {
    expectFailsWith(await register(body), 400, 'invalid_request', description);
    expect(t.store.writes).toEqual([]);
  });

  it('refuses an http issuer unless insecure issuers are allowed', async () => {
    const strict = createTestApp({ allowInsecureIssuers: false });
    const response = await request(strict.app)
      .post('/identity/organizations')
      .set('authorization', `Bearer ${ADMIN_TOKEN}`)
      .send({ name: 'Acme', issuer: 'http://idp.example.com' });
    expectFailsWith(response, 400, 'invalid_request', /absolute https URL/);
  });

  it('answers conflict 409 for an issuer another organization has', async () => {
    await register({ name: 'Acme', issuer: idp.issuer });
    t.store.resetWrites();
    expectFailsWith(await register({ name: 'Copycat', issuer: `${idp.issuer}/` }), 409, 'conflict');
  });
});

describe('PATCH /identity/auth/idp/:org_id', () => {
  let t: TestApp;
  let acme: { orgId: string; apiKey: string };
  let other: { orgId: string; apiKey: string };
  beforeEach(async () => {
    t = createTestApp();
    acme = await registerOrganization(t.app, { name: 'Acme', issuer: idp.issuer });
    other = await registerOrganization(t.app, { name: 'Other', issuer: otherIdp.issuer });
    t.store.resetWrites();
  });
  const patch = (orgId: string) => request(t.app).patch(`/identity/auth/idp/${orgId}`);

  it("replaces the audience with the org's own key, keeping identity, and later tokens carry it", async () => {
    const response = await patch(acme.orgId)
      .set('x-api-key', acme.apiKey)
      .send({ audience: ['primary-issuance', 'custom-scope'] });
    expect(response.status).toBe(200);
    expect(response.body).toEqual({
      org_id: acme.orgId,
      audience: ['identity', 'primary-issuance', 'custom-scope'],
    });

    const tokens = await exchange(t.app, acme.apiKey, { token: await idp.sign(idTokenClaims(idp.issuer)) });
    expect(tokens.body.scope).toBe('openid email profile aud:identity aud:primary-issuance aud:custom-scope');
    expect(decodeJwt(tokens.body.access_token).aud).toEqual(['identity', 'primary-issuance', 'custom-scope']);
  });

  it('accepts admin credentials', async () => {
    const response = await patch(acme.orgId)
      .set('authorization', `Bearer ${ADMIN_TOKEN}`)
      .send({ audience: [] });
    expect(response.body).toEqual({ org_id: acme.orgId, audience: ['identity'] });
  });

  it("answers org_mismatch 403 for another org's key and changes nothing", async () => {
    const response = await patch(acme.orgId)
      .set('x-api-key', other.apiKey)
      .send({ audience: ['stolen'] });
    expectFailsWith(response, 403, 'org_mismatch');
    expect(t.store.writes).toEqual([]);
    expect((await t.store.getOrganization(acme.orgId))?.audience).toEqual(['identity']);
  });

  it('answers missing_api_key 401 without credentials', async () => {
    expectFailsWith(await patch(acme.orgId).send({ audience: ['x'] }), 401, 'missing_api_key');
  });

  it('answers unauthorized 401 for a wrong admin token', async () => {
    const response = await patch(acme.orgId)
      .set('authorization', 'Bearer not-the-admin-token')
      .send({ audience: [] });
    expectFailsWith(response, 401, 'unauthorized');
  });

  it('answers invalid_api_key 401 for an invalid key', async () => {
    expectFailsWith(
      await patch(acme.orgId).set('x-api-key', 'nope').send({ audience: [] }),
      401,
      'invalid_api_key',
    );
  });

  it.each([
    ['no audience', {}],
    ['an audience that is a string', { audience: 'primary-issuance' }],
    ['an audience entry that is too long', { audience: ['a'.repeat(65)] }],
  ])('answers invalid_request 400 for %s', async (_, body) => {
    const response = await patch(acme.orgId).set('x-api-key', acme.apiKey).send(body);
    expectFailsWith(response, 400, 'invalid_request', /^audience/);
    expect(t.store.writes).toEqual([]);
  });

  it('answers not_found 404 for an unknown org with admin credentials', async () => {
    const response = await patch('00000000-0000-4000-8000-000000000000')
      .set('authorization', `Bearer ${ADMIN_TOKEN}`)
      .send({ audience: [] });
    expectFailsWith(response, 404, 'not_found');
  });
});

describe('GET /identity/users/:user_id', () => {
  let t: TestApp;
  let acme: { orgId: string; apiKey: string };
  let accessToken: string;
  let userId: string;
  beforeAll(async () => {
    t = createTestApp();
    acme = await registerOrganization(t.app, { name: 'Acme', issuer: idp.issuer });
    const tokens = await exchange(t.app, acme.apiKey, { token: await idp.sign(idTokenClaims(idp.issuer)) });
    accessToken = tokens.body.access_token;
    userId = decodeJwt(accessToken).user_id as string;
  });
  const getUser = (id: string, authorization?: string) => {
    const call = request(t.app).get(`/identity/users/${id}`);
    return authorization ? call.set('authorization', authorization) : call;
  };

  it("returns the user of the token's organization", async () => {
    const response = await getUser(userId, `Bearer ${accessToken}`);
    expect(response.status).toBe(200);
    expect(response.body).toEqual({
      user_id: userId,
      org_id: acme.orgId,
      email: 'ada@example.com',
      role: 'member',
      onboarding_completed: false,
      kyc_completed: false,
      accredited: false,
      accreditation_verified: false,
      kyc_status: 'not_started',
      accreditation_status: 'not_submitted',
      created_at: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
      updated_at: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
    });
  });

  it('answers unauthorized 401 without a bearer token or API key', async () => {
    const response = await getUser(userId);
    expectFailsWith(response, 401, 'unauthorized');
    expect(response.headers['www-authenticate']).toBe(
      'Bearer realm="rialto", error_description="The organization\'s X-API-Key header or a Bearer access token is required."',
    );
  });

  it.each([
    ['a garbage token', 'Bearer abc.def.ghi'],
    ['the refresh token', 'REFRESH'],
    ['a token from another signer', 'FOREIGN'],
  ])('answers invalid_access_token 401 for %s', async (_, authorization) => {
    let header = authorization;
    if (authorization === 'REFRESH') {
      const tokens = await exchange(t.app, acme.apiKey, { token: await idp.sign(idTokenClaims(idp.issuer)) });
      header = `Bearer ${tokens.body.refresh_token}`;
    } else if (authorization === 'FOREIGN') {
      const { privateKey } = await generateKeyPair('RS256');
      const forged = await new SignJWT({ ...decodeJwt(accessToken) })
        .setProtectedHeader({ alg: 'RS256', typ: 'at+jwt', kid: 'whatever' })
        .sign(privateKey);
      header = `Bearer ${forged}`;
    }
    const response = await getUser(userId, header);
    expectFailsWith(response, 401, 'invalid_access_token');
    expect(response.headers['www-authenticate']).toMatch(/error="invalid_token"/);
  });

  it.each([
    ['an unknown user', '00000000-0000-4000-8000-000000000000'],
    ['a malformed id', 'not-a-uuid'],
  ])('answers not_found 404 for %s', async (_, id) => {
    expectFailsWith(await getUser(id, `Bearer ${accessToken}`), 404, 'not_found');
  });
});

describe('well-known documents', () => {
  it('publishes only public key material in the JWKS', async () => {
    const t = createTestApp();
    const response = await request(t.app).get('/.well-known/jwks.json');
    expect(response.status).toBe(200);
    expect(response.headers['cache-control']).toBe('public, max-age=300');
    expect(response.body.keys).toHaveLength(1);
    const [key] = response.body.keys;
    expect(key).toMatchObject({ kty: 'RSA', alg: 'RS256', use: 'sig', kid: expect.any(String) });
    for (const privateMember of ['d', 'p', 'q', 'dp', 'dq', 'qi', 'k'])
      expect(key).not.toHaveProperty(privateMember);
  });

  it('signs with a host-supplied key and publishes its public half', async () => {
    const { privateKey } = await generateKeyPair('ES256', { extractable: true });
    const jwk = { ...(await exportJWK(privateKey)), kid: 'host-key-1' };
    const t = createTestApp({ accessTokenKey: jwk, accessTokenAlgorithm: 'ES256' });
    const response = await request(t.app).get('/.well-known/jwks.json');
    expect(response.body.keys).toEqual([
      { kty: 'EC', crv: 'P-256', x: jwk.x, y: jwk.y, kid: 'host-key-1', alg: 'ES256', use: 'sig' },
    ]);
  });

  it('describes the issuer for standard JWT libraries', async () => {
    const t = createTestApp({ issuer: 'https://api.example.com/auth' });
    const response = await request(t.app).get('/.well-known/openid-configuration');
    expect(response.body).toMatchObject({
      issuer: 'https://api.example.com/auth',
      jwks_uri: 'https://api.example.com/auth/.well-known/jwks.json',
      access_token_signing_alg_values_supported: ['RS256'],
    });
  });
});
