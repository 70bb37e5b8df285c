import { randomUUID } from 'node:crypto';
import { exportJWK, generateKeyPair } from 'jose';
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
 * The admin routes operators and the console read: organizations and users a page at a time with
 * search, an organization's overview and keys, the signing keys and their rotation. Webhook
 * deliveries and their redelivery are in webhook-redelivery.test.ts.
 */

let idps: LocalIssuer[];
beforeAll(async () => {
  idps = await Promise.all(Array.from({ length: 3 }, () => startLocalIssuer()));
});
afterAll(async () => {
  await Promise.all(idps.map((idp) => idp.close()));
});

const admin = `Bearer ${ADMIN_TOKEN}`;
const get = (t: TestApp, path: string) => request(t.app).get(path).set('authorization', admin);

async function registerThree(t: TestApp) {
  const names = ['Acme Capital', 'Globex Bonds', 'ACME Europe'];
  const registered = [];
  // One per second would make the order certain anyway; ties are broken by id, which the
  // listing promises too, so the expected order is read back from the overview dates below.
  for (const [index, name] of names.entries()) {
    registered.push({ name, ...(await registerOrganization(t.app, { name, issuer: idps[index]?.issuer })) });
  }
  return registered;
}

describe('GET /identity/organizations', () => {
  it('lists organizations newest first a page at a time, the cursor leading through every one exactly once', async () => {
    const t = createTestApp();
    const registered = await registerThree(t);

    const all = await get(t, '/identity/organizations');
    expect(all.status).toBe(200);
    expect(all.headers['cache-control']).toBe('no-store');
    expect(all.body.next_cursor).toBeNull();
    expect(all.body.organizations).toHaveLength(3);
    expect(new Set(all.body.organizations.map((org: { org_id: string }) => org.org_id))).toEqual(
      new Set(registered.map((org) => org.orgId)),
    );
    const acme = registered[0] as { orgId: string };
    expect(all.body.organizations.find((org: { org_id: string }) => org.org_id === acme.orgId)).toEqual({
      org_id: acme.orgId,
      name: 'Acme Capital',
      audience: ['identity'],
      provisioning: 'create',
      suspended: false,
      suspended_at: null,
      created_at: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
      updated_at: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
    });
    const createdAt = all.body.organizations.map((org: { created_at: string }) => Date.parse(org.created_at));
    expect(createdAt).toEqual([...createdAt].sort((a, b) => b - a));

    const first = await get(t, '/identity/organizations?limit=2');
    expect(first.status).toBe(200);
    expect(first.body.organizations).toEqual(all.body.organizations.slice(0, 2));
    expect(first.body.next_cursor).toEqual(expect.any(String));
    const second = await get(t, `/identity/organizations?limit=2&cursor=${first.body.next_cursor}`);
    expect(second.status).toBe(200);
    expect(second.body).toEqual({ organizations: all.body.organizations.slice(2), next_cursor: null });
  });

  it('finds organizations by a piece of their name in any case, or by their exact id', async () => {
    const t = createTestApp();
    const registered = await registerThree(t);
    const names = async (query: string) => {
      const response = await get(t, `/identity/organizations?query=${encodeURIComponent(query)}`);
      expect(response.status).toBe(200);
      return response.body.organizations.map((org: { name: string }) => org.name).sort();
    };
    expect(await names('acme')).toEqual(['ACME Europe', 'Acme Capital']);
    expect(await names('  BONDS ')).toEqual(['Globex Bonds']);
    expect(await names((registered[2] as { orgId: string }).orgId)).toEqual(['ACME Europe']);
    expect(await names('initech')).toEqual([]);
    expect(await names('')).toEqual(['ACME Europe', 'Acme Capital', 'Globex Bonds']);
  });

  it('answers 400 invalid_request naming the parameter for a bad limit, cursor, repeated or unknown parameter', async () => {
    const t = createTestApp();
    await registerThree(t);
    t.store.resetWrites();
    expectFailsWith(
      await get(t, '/identity/organizations?limit=0'),
      400,
      'invalid_request',
      'limit: must be at least 1',
    );
    expectFailsWith(
      await get(t, '/identity/organizations?limit=201'),
      400,
      'invalid_request',
      'limit: must be at most 200',
    );
    expectFailsWith(await get(t, '/identity/organizations?limit=ten'), 400, 'invalid_request', /^limit: /);
    expectFailsWith(
      await get(t, '/identity/organizations?cursor=not-a-cursor'),
      400,
      'invalid_request',
      'cursor: is not a cursor this service issued',
    );
    expectFailsWith(
      await get(t, `/identity/organizations?cursor=${Buffer.from('{"a":1}').toString('base64url')}`),
      400,
      'invalid_request',
      'cursor: is not a cursor this service issued',
    );
    expectFailsWith(
      await get(t, '/identity/organizations?limit=1&limit=2'),
      400,
      'invalid_request',
      'limit: may be given once only',
    );
    expectFailsWith(await get(t, '/identity/organizations?page=2'), 400, 'invalid_request', /page/);
    expect(t.store.writes).toEqual([]);
  });

  it('answers 401 unauthorized for an API key: only the service admin lists organizations', async () => {
    const t = createTestApp();
    const { apiKey } = await registerOrganization(t.app, { name: 'Acme', issuer: idps[0]?.issuer });
    const response = await request(t.app).get('/identity/organizations').set('x-api-key', apiKey);
    expectFailsWith(response, 401, 'unauthorized');
  });
});

describe('GET /identity/organizations/{org_id} and its api-keys', () => {
  it('shows the organization with its active API keys (ids and dates, never a key or hash) and issuers', async () => {
    const t = createTestApp();
    const { orgId, apiKey } = await registerOrganization(t.app, { name: 'Acme', issuer: idps[0]?.issuer });
    const issued = await request(t.app)
      .post(`/identity/organizations/${orgId}/api-keys`)
      .set('authorization', admin);
    expect(issued.status).toBe(201);
    const listed = (await get(t, `/identity/organizations/${orgId}/api-keys`)).body.api_keys;
    expect(listed).toHaveLength(2);
    const firstKeyId = listed.find(
      (key: { api_key_id: string }) => key.api_key_id !== issued.body.api_key_id,
    ).api_key_id;
    const revoked = await request(t.app)
      .delete(`/identity/organizations/${orgId}/api-keys/${firstKeyId}`)
      .set('authorization', admin);
    expect(revoked.status).toBe(200);

    const response = await get(t, `/identity/organizations/${orgId}`);
    expect(response.status).toBe(200);
    expect(response.body).toEqual({
      org_id: orgId,
      name: 'Acme',
      audience: ['identity'],
      provisioning: 'create',
      suspended: false,
      suspended_at: null,
      created_at: expect.any(String),
      updated_at: expect.any(String),
      api_keys: [{ api_key_id: issued.body.api_key_id, created_at: issued.body.created_at }],
      issuers: [
        {
          issuer_id: expect.any(String),
          org_id: orgId,
          issuer: idps[0]?.issuer,
          client_ids: [],
          allowed_algorithms: expect.any(Array),
          email_linking: expect.any(String),
          subject_claim: 'sub',
          trust_username_claims: false,
          link_scope: 'issuer',
          condition: null,
          claim_mappings: {},
          policy_version: 1,
          created_at: expect.any(String),
          // Registered without client ids: the same warning as at registration.
          warnings: [expect.stringContaining('No client_ids were given')],
        },
      ],
    });
    const text = JSON.stringify(response.body);
    expect(text).not.toContain(apiKey);
    expect(text).not.toContain(issued.body.api_key);

    const keys = await get(t, `/identity/organizations/${orgId}/api-keys`);
    expect(keys.status).toBe(200);
    expect(keys.body).toEqual({
      org_id: orgId,
      api_keys: [{ api_key_id: issued.body.api_key_id, created_at: issued.body.created_at }],
    });
  });

  it('answers 404 not_found for an unknown organization or an id that is not one', async () => {
    const t = createTestApp();
    for (const path of [
      `/identity/organizations/${randomUUID()}`,
      '/identity/organizations/not-an-id',
      `/identity/organizations/${randomUUID()}/api-keys`,
    ]) {
      expectFailsWith(await get(t, path), 404, 'not_found', 'No such organization.');
    }
  });
});

describe('GET /identity/organizations/{org_id}/users', () => {
  it("pages through the organization's users newest first and finds them by email prefix or id", async () => {
    const t = createTestApp();
    const idp = idps[0] as LocalIssuer;
    const { orgId, apiKey } = await registerOrganization(t.app, { name: 'Acme', issuer: idp.issuer });
    const other = await registerOrganization(t.app, {
      name: 'Other',
      issuer: (idps[1] as LocalIssuer).issuer,
    });
    for (const [sub, email] of [
      ['u1', 'ada@example.com'],
      ['u2', 'adam@example.com'],
      ['u3', 'Grace@Example.com'],
    ]) {
      const token = await idp.sign(idTokenClaims(idp.issuer, { sub, email }));
      expect((await exchange(t.app, apiKey, { token })).status).toBe(200);
    }
    const stranger = await (idps[1] as LocalIssuer).sign(
      idTokenClaims((idps[1] as LocalIssuer).issuer, { sub: 's', email: 'ada@example.com' }),
    );
    expect((await exchange(t.app, other.apiKey, { token: stranger })).status).toBe(200);

    const all = await get(t, `/identity/organizations/${orgId}/users`);
    expect(all.status).toBe(200);
    expect(all.body.next_cursor).toBeNull();
    expect(all.body.users.map((user: { email: string }) => user.email).sort()).toEqual([
      'ada@example.com',
      'adam@example.com',
      'grace@example.com',
    ]);
    expect(all.body.users[0]).toEqual({
      user_id: expect.any(String),
      org_id: orgId,
      email: expect.any(String),
      role: 'member',
      onboarding_completed: false,
      kyc_completed: false,
      accredited: false,
      accreditation_verified: false,
      kyc_status: 'not_started',
      accreditation_status: 'not_submitted',
      created_at: expect.any(String),
      updated_at: expect.any(String),
    });

    const first = await get(t, `/identity/organizations/${orgId}/users?limit=2`);
    const rest = await get(
      t,
      `/identity/organizations/${orgId}/users?limit=2&cursor=${first.body.next_cursor}`,
    );
    expect([...first.body.users, ...rest.body.users]).toEqual(all.body.users);
    expect(rest.body.next_cursor).toBeNull();

    const emails = async (query: string) =>
      (await get(t, `/identity/organizations/${orgId}/users?query=${encodeURIComponent(query)}`)).body.users
        .map((user: { email: string }) => user.email)
        .sort();
    expect(await emails('ada')).toEqual(['ada@example.com', 'adam@example.com']);
    // Searched as stored emails are normalized: ASCII letters lower-cased.
    expect(await emails('GRACE@')).toEqual(['grace@example.com']);
    const grace = all.body.users.find((user: { email: string }) => user.email === 'grace@example.com');
    expect(await emails(grace.user_id)).toEqual(['grace@example.com']);
    expect(await emails('example.com')).toEqual([]);
  });

  it('answers 404 not_found for an unknown organization and 400 invalid_request for a bad limit', async () => {
    const t = createTestApp();
    const { orgId } = await registerOrganization(t.app, { name: 'Acme', issuer: idps[0]?.issuer });
    expectFailsWith(
      await get(t, `/identity/organizations/${randomUUID()}/users`),
      404,
      'not_found',
      'No such organization.',
    );
    expectFailsWith(
      await get(t, `/identity/organizations/${orgId}/users?limit=-1`),
      400,
      'invalid_request',
      'limit: must be at least 1',
    );
  });
});

describe('GET /identity/keys and POST /identity/keys/rotate', () => {
  it('lists the active keys, then a rotation adds a next key that is published but not yet signing', async () => {
    const t = createTestApp({ signingKeyPrepublishSeconds: 3600 });
    // The first exchange-free call creates the keys, as the JWKS does on a fresh store.
    expect((await request(t.app).get('/.well-known/jwks.json')).status).toBe(200);

    const before = await get(t, '/identity/keys');
    expect(before.status).toBe(200);
    expect(before.body.keys).toEqual([
      {
        kid: expect.any(String),
        use: 'access_token',
        alg: 'RS256',
        source: 'store',
        state: 'active',
        created_at: expect.any(String),
        activates_at: expect.any(String),
        retired_at: null,
        verifies_until: null,
      },
      expect.objectContaining({ use: 'refresh_token', alg: 'HS256', source: 'store', state: 'active' }),
    ]);

    const rotated = await request(t.app).post('/identity/keys/rotate').set('authorization', admin).send({});
    expect(rotated.status).toBe(200);
    expect(rotated.body).toEqual({
      use: 'access_token',
      kid: expect.any(String),
      activates_at: expect.any(String),
    });

    const after = await get(t, '/identity/keys');
    const access = after.body.keys.filter((key: { use: string }) => key.use === 'access_token');
    expect(access.map((key: { kid: string; state: string }) => [key.kid, key.state])).toEqual([
      [rotated.body.kid, 'next'],
      [before.body.keys[0].kid, 'active'],
    ]);
    expect(access[0].activates_at).toBe(rotated.body.activates_at);
    const jwks = await request(t.app).get('/.well-known/jwks.json');
    expect(jwks.body.keys.map((key: { kid: string }) => key.kid)).toContain(rotated.body.kid);
    expect(JSON.stringify(after.body)).not.toMatch(/"(d|k|p|q)":/);

    const refresh = await request(t.app)
      .post('/identity/keys/rotate')
      .set('authorization', admin)
      .send({ use: 'refresh_token' });
    expect(refresh.status).toBe(200);
    expect(refresh.body.use).toBe('refresh_token');
  });

  it('answers 400 invalid_request for an unknown use and 409 conflict for keys the host supplies', async () => {
    const bad = createTestApp();
    expectFailsWith(
      await request(bad.app)
        .post('/identity/keys/rotate')
        .set('authorization', admin)
        .send({ use: 'id_token' }),
      400,
      'invalid_request',
      'use: must be access_token or refresh_token',
    );

    const { privateKey } = await generateKeyPair('ES256', { extractable: true });
    const hosted = createTestApp({
      accessTokenKey: { ...(await exportJWK(privateKey)), kid: 'host-key-1' },
      accessTokenAlgorithm: 'ES256',
    });
    hosted.store.resetWrites();
    expectFailsWith(
      await request(hosted.app).post('/identity/keys/rotate').set('authorization', admin).send({}),
      409,
      'conflict',
      /supplied by the host/,
    );
    expect(hosted.store.writes).toEqual([]);
    const listed = await get(hosted, '/identity/keys');
    expect(listed.body.keys[0]).toEqual({
      kid: 'host-key-1',
      use: 'access_token',
      alg: 'ES256',
      source: 'host',
      state: 'active',
      created_at: expect.any(String),
      activates_at: null,
      retired_at: null,
      verifies_until: null,
    });
  });
});

describe('GET /health/ready for admins', () => {
  it('adds the webhook outbox backlog to the store and key-set figures', async () => {
    const t = createTestApp();
    const response = await get(t, '/health/ready');
    expect(response.status).toBe(200);
    expect(response.body.checks).toEqual([
      { name: 'store', status: 'UP', data: { latency_ms: expect.any(Number) } },
      { name: 'idp_key_sets', status: 'UP', data: { cached: 0 } },
      { name: 'webhook_outbox', status: 'UP', data: { backlog: 0 } },
    ]);
    const anonymous = await request(t.app).get('/health/ready');
    expect(anonymous.body).toEqual({ status: 'UP', checks: [{ name: 'store', status: 'UP' }] });
  });
});
