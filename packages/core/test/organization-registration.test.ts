import { createRialtoExchange, RialtoError } from '@rialto-exchange/core';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { request } from './client.js';
import {
  ADMIN_TOKEN,
  createTestApp,
  exchange,
  expectFailsWith,
  idTokenClaims,
  type LocalIssuer,
  recordingStore,
  SERVICE_ISSUER,
  startLocalIssuer,
  type TestApp,
} from './helpers.js';

let idp: LocalIssuer;
beforeAll(async () => {
  idp = await startLocalIssuer();
});
afterAll(() => idp.close());

const register = (t: TestApp, body: Record<string, unknown>) =>
  request(t.app).post('/identity/organizations').set('authorization', `Bearer ${ADMIN_TOKEN}`).send(body);

describe('registration without client_ids', () => {
  it('succeeds with a warning that any client of the IdP will be accepted', async () => {
    const t = createTestApp();
    const response = await register(t, { name: 'Acme', issuer: idp.issuer });
    expect(response.status).toBe(201);
    expect(response.body.client_ids).toEqual([]);
    expect(response.body.warnings).toEqual([
      expect.stringMatching(/any client of this issuer will be accepted/),
    ]);
  });

  it('carries no warnings when client_ids are given', async () => {
    const t = createTestApp();
    const response = await register(t, { name: 'Acme', issuer: idp.issuer, client_ids: ['web'] });
    expect(response.status).toBe(201);
    expect(response.body).not.toHaveProperty('warnings');
  });

  it('answers invalid_request 400 and writes nothing when the host sets requireClientIds', async () => {
    const t = createTestApp({ requireClientIds: true });
    for (const body of [
      { name: 'Acme', issuer: idp.issuer },
      { name: 'Acme', issuer: idp.issuer, client_ids: [] },
    ]) {
      expectFailsWith(await register(t, body), 400, 'invalid_request', /^client_ids: this service requires/);
    }
    expect(t.store.writes).toEqual([]);
    expect((await register(t, { name: 'Acme', issuer: idp.issuer, client_ids: ['web'] })).status).toBe(201);
  });

  it('refuses registerOrganization() from host code the same way', async () => {
    const store = recordingStore();
    const host = createRialtoExchange({
      issuer: SERVICE_ISSUER,
      store,
      allowInsecureIssuers: true,
      requireClientIds: true,
    });
    const refused = await host.registerOrganization({ name: 'Acme', issuer: idp.issuer }).catch((e) => e);
    expect(refused).toBeInstanceOf(RialtoError);
    expect((refused as RialtoError).code).toBe('invalid_request');
    expect(store.writes).toEqual([]);
    const loose = createRialtoExchange({ issuer: SERVICE_ISSUER, store, allowInsecureIssuers: true });
    const registered = await loose.registerOrganization({ name: 'Acme', issuer: idp.issuer });
    expect(registered.warnings).toHaveLength(1);
  });
});

describe('issuer normalization before uniqueness', () => {
  let t: TestApp;
  beforeEach(() => {
    t = createTestApp();
  });

  it.each([
    ['HTTP://Idp.Example', 'http://idp.example/'],
    ['https://idp.example:443/tenant/', 'https://IDP.example/tenant'],
    ['http://idp.example:80', 'http://idp.example//'],
  ])('answers conflict 409 for %s after %s, keeping the first organization', async (first, second) => {
    // The first registers the issuer for every client, so no spelling of it can be shared.
    const created = await register(t, { name: 'First', issuer: first });
    expect(created.status).toBe(201);
    expectFailsWith(
      await register(t, { name: 'Second', issuer: second, client_ids: ['b'] }),
      409,
      'conflict',
    );
    const stored = await t.store.findIssuerRegistrations(created.body.issuer);
    expect(stored.map((registration) => registration.orgId)).toEqual([created.body.org_id]);
    expect(await t.store.listActiveApiKeys(created.body.org_id)).toHaveLength(1);
  });

  it('stores the normalized spelling: lower-case scheme and host, no default port, no trailing slash', async () => {
    const response = await register(t, {
      name: 'Acme',
      issuer: 'HTTPS://Login.Example.COM:443/Tenant-A/v2.0/',
    });
    expect(response.body.issuer).toBe('https://login.example.com/Tenant-A/v2.0');
  });

  it('keeps paths that differ in case apart: paths are case-sensitive', async () => {
    expect((await register(t, { name: 'A', issuer: 'https://idp.example/Tenant' })).status).toBe(201);
    expect((await register(t, { name: 'B', issuer: 'https://idp.example/tenant' })).status).toBe(201);
  });

  it.each(['https://idp.example/?tenant=a', 'https://idp.example/#a', 'https://user:pass@idp.example'])(
    'refuses %s with invalid_request 400',
    async (issuer) => {
      expectFailsWith(
        await register(t, { name: 'Acme', issuer }),
        400,
        'invalid_request',
        /must not contain credentials, a query or a fragment/,
      );
      expect(t.store.writes).toEqual([]);
    },
  );

  it('still finds an organization stored with the spelling used before normalization', async () => {
    const spelled = idp.issuer.replace('http://127.0.0.1', 'HTTP://127.0.0.1');
    // As a store written by an earlier version holds it: registered verbatim, one slash stripped.
    const store = recordingStore();
    const seeded = createTestApp({ store });
    const now = Math.floor(Date.now() / 1000);
    const orgId = '6f1d0c8e-7d0e-4f0a-9a53-2b9f4b8a1c01';
    await store.createOrganization(
      {
        orgId,
        name: 'Legacy',
        audience: ['identity'],
        provisioning: 'create',
        suspendedAt: null,
        createdAt: now,
        updatedAt: now,
      },
      {
        keyId: '6f1d0c8e-7d0e-4f0a-9a53-2b9f4b8a1c02',
        orgId,
        hash: '0'.repeat(64),
        createdAt: now,
        revokedAt: null,
      },
      {
        registrationId: orgId,
        orgId,
        issuer: spelled,
        clientIds: [],
        allowedAlgorithms: ['RS256'],
        emailLinking: 'unless_unverified',
        subjectClaim: 'sub',
        trustUsernameClaims: false,
        createdAt: now,
        updatedAt: now,
      },
    );
    const issued = await request(seeded.app)
      .post('/identity/organizations/6f1d0c8e-7d0e-4f0a-9a53-2b9f4b8a1c01/api-keys')
      .set('authorization', `Bearer ${ADMIN_TOKEN}`);
    expect(issued.status).toBe(201);
    // The legacy IdP announces the spelling it was registered with; its tokens carry it too.
    const token = await idp.sign(idTokenClaims(spelled));
    const response = await exchange(seeded.app, issued.body.api_key, { token });
    // Found (not issuer_not_registered); the discovery document's exact issuer is still enforced.
    expectFailsWith(response, 401, 'invalid_issuer');
  });
});

describe('control characters in request bodies', () => {
  it.each([
    ['name', { name: 'Acme\u0000', issuer: 'https://idp.example' }],
    ['name', { name: 'Acme\u001b[31m', issuer: 'https://idp.example' }],
    ['issuer', { name: 'Acme', issuer: 'https://idp.exa\nmple' }],
    ['client_ids.0', { name: 'Acme', issuer: 'https://idp.example', client_ids: ['web\u007f'] }],
  ])('refuses a control character in the organization %s with invalid_request 400', async (field, body) => {
    const t = createTestApp();
    expectFailsWith(
      await register(t, body),
      400,
      'invalid_request',
      new RegExp(`^${field.replace('.', '\\.')}: must not contain control characters$`),
    );
    expect(t.store.writes).toEqual([]);
  });
});
