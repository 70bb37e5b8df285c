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
  registerOrganization,
  startLocalIssuer,
  type TestApp,
} from './helpers.js';

describe('API key issuance and revocation', () => {
  let idp: LocalIssuer;
  let t: TestApp;
  let acme: { orgId: string; apiKey: string };
  const events: Array<[string, unknown]> = [];

  beforeAll(async () => {
    idp = await startLocalIssuer();
  });
  afterAll(() => idp.close());
  beforeEach(async () => {
    t = createTestApp();
    events.length = 0;
    t.router.exchange.audit.on(
      'api_key.created',
      (payload) => void events.push(['api_key.created', payload]),
    );
    t.router.exchange.audit.on(
      'api_key.revoked',
      (payload) => void events.push(['api_key.revoked', payload]),
    );
    acme = await registerOrganization(t.app, { name: 'Acme', issuer: idp.issuer });
  });

  const asAdmin = <T extends { set(name: string, value: string): T }>(call: T) =>
    call.set('authorization', `Bearer ${ADMIN_TOKEN}`);
  const issueKey = (orgId: string) =>
    asAdmin(request(t.app).post(`/identity/organizations/${orgId}/api-keys`));
  const revokeKey = (orgId: string, keyId: string) =>
    asAdmin(request(t.app).delete(`/identity/organizations/${orgId}/api-keys/${keyId}`));
  const exchangeWith = async (app: TestApp['app'], key: string) =>
    exchange(app, key, { token: await idp.sign(idTokenClaims(idp.issuer)) });

  it('issues a second key that works beside the first, shown once', async () => {
    const response = await issueKey(acme.orgId);
    expect(response.status).toBe(201);
    expect(response.headers['cache-control']).toBe('no-store');
    expect(response.body).toEqual({
      org_id: acme.orgId,
      api_key: expect.stringMatching(new RegExp(`^rialto_ak_${acme.orgId}_[A-Za-z0-9_-]{43}$`)),
      api_key_id: expect.any(String),
      created_at: expect.any(String),
    });
    expect((await exchangeWith(t.app, acme.apiKey)).status).toBe(200);
    expect((await exchangeWith(t.app, response.body.api_key)).status).toBe(200);
    expect(events).toContainEqual([
      'api_key.created',
      { orgId: acme.orgId, keyId: response.body.api_key_id },
    ]);
  });

  it('stops a revoked key at once on this instance while the other key keeps working', async () => {
    const second = (await issueKey(acme.orgId)).body;
    // Both keys may share a createdAt second; the list then orders them by id, not by issue order.
    const firstRecord = (await t.store.listActiveApiKeys(acme.orgId)).find(
      (record) => record.keyId !== second.api_key_id,
    );
    expect((await exchangeWith(t.app, acme.apiKey)).status).toBe(200); // warms the key cache
    const response = await revokeKey(acme.orgId, firstRecord?.keyId as string);
    expect(response.status).toBe(200);
    expect(response.body).toEqual({ org_id: acme.orgId, api_key_id: firstRecord?.keyId, revoked: true });
    expectFailsWith(await exchangeWith(t.app, acme.apiKey), 401, 'invalid_api_key');
    expect((await exchangeWith(t.app, second.api_key)).status).toBe(200);
    expect(events).toContainEqual(['api_key.revoked', { orgId: acme.orgId, keyId: firstRecord?.keyId }]);
  });

  it('stops a key revoked on another instance within the lookup cache bound', async () => {
    const store = recordingStore();
    const [a, b] = [
      createTestApp({ store, lookupCacheTtlSeconds: 1 }),
      createTestApp({ store, lookupCacheTtlSeconds: 1 }),
    ];
    const org = await registerOrganization(a.app, { name: 'Shared', issuer: idp.issuer });
    const second = (
      await request(a.app)
        .post(`/identity/organizations/${org.orgId}/api-keys`)
        .set('authorization', `Bearer ${ADMIN_TOKEN}`)
    ).body;
    expect((await exchangeWith(b.app, org.apiKey)).status).toBe(200);
    const firstRecord = (await store.listActiveApiKeys(org.orgId)).find(
      (record) => record.keyId !== second.api_key_id,
    );
    await request(a.app)
      .delete(`/identity/organizations/${org.orgId}/api-keys/${firstRecord?.keyId}`)
      .set('authorization', `Bearer ${ADMIN_TOKEN}`);
    expectFailsWith(await exchangeWith(a.app, org.apiKey), 401, 'invalid_api_key');
    await new Promise((resolve) => setTimeout(resolve, 1100));
    expectFailsWith(await exchangeWith(b.app, org.apiKey), 401, 'invalid_api_key');
    expect((await exchangeWith(b.app, second.api_key)).status).toBe(200);
  });

  it("answers not_found 404 for another org's key id, and the key keeps working", async () => {
    const other = await registerOrganization(t.app, { name: 'Other', issuer: `${idp.issuer}/tenant-b` });
    const [otherRecord] = await t.store.listActiveApiKeys(other.orgId);
    expectFailsWith(await revokeKey(acme.orgId, otherRecord?.keyId as string), 404, 'not_found');
    expect(await t.store.listActiveApiKeys(other.orgId)).toHaveLength(1);
  });

  it('answers not_found 404 for a key revoked twice, an unknown org and malformed ids', async () => {
    const [record] = await t.store.listActiveApiKeys(acme.orgId);
    expect((await revokeKey(acme.orgId, record?.keyId as string)).status).toBe(200);
    expectFailsWith(await revokeKey(acme.orgId, record?.keyId as string), 404, 'not_found');
    expectFailsWith(await issueKey('00000000-0000-4000-8000-000000000000'), 404, 'not_found');
    expectFailsWith(await revokeKey('nope', 'nope'), 404, 'not_found');
  });

  it('answers unauthorized 401 without admin credentials and changes nothing', async () => {
    t.store.resetWrites();
    expectFailsWith(
      await request(t.app).post(`/identity/organizations/${acme.orgId}/api-keys`),
      401,
      'unauthorized',
    );
    const [record] = await t.store.listActiveApiKeys(acme.orgId);
    const response = await request(t.app)
      .delete(`/identity/organizations/${acme.orgId}/api-keys/${record?.keyId}`)
      .set('x-api-key', acme.apiKey);
    expectFailsWith(response, 401, 'unauthorized');
    expect(t.store.writes).toEqual([]);
  });
});
