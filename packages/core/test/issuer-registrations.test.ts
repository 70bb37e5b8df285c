import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type DevIdp, startDevIdp } from '@rialto-exchange/dev-idp';
import { memoryStore, sqlStore } from '@rialto-exchange/storage-adapters';
import { decodeJwt } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  legacyOrganizations,
  writeVersion2SqliteOrganization,
} from '../../storage-adapters/test/legacy-issuer-data.js';
// The API key format of version 2 databases is the current one; only core makes keys, so the test borrows its generator.
import { generateApiKey } from '../src/organizations/api-keys.js';
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

const admin = { authorization: `Bearer ${ADMIN_TOKEN}` };

function addIssuer(t: TestApp, orgId: string, body: Record<string, unknown>) {
  return request(t.app).post(`/identity/organizations/${orgId}/issuers`).set(admin).send(body);
}

function listIssuers(t: TestApp, orgId: string) {
  return request(t.app).get(`/identity/organizations/${orgId}/issuers`).set(admin);
}

function removeIssuer(t: TestApp, orgId: string, issuerId: string) {
  return request(t.app).delete(`/identity/organizations/${orgId}/issuers/${issuerId}`).set(admin);
}

function claimsOf(response: request.Response) {
  expect(response.status).toBe(200);
  return decodeJwt(response.body.access_token as string);
}

describe('two organizations sharing one real OpenID provider', () => {
  let idp: DevIdp;
  let t: TestApp;
  let acme: { orgId: string; apiKey: string };
  let globex: { orgId: string; apiKey: string };

  beforeAll(async () => {
    idp = await startDevIdp({ clientId: 'acme-app', additionalClientIds: ['globex-app', 'stray-app'] });
    t = createTestApp();
    acme = await registerOrganization(t.app, { name: 'Acme', issuer: idp.issuer, client_ids: ['acme-app'] });
    globex = await registerOrganization(t.app, {
      name: 'Globex',
      issuer: idp.issuer,
      client_ids: ['globex-app'],
    });
  });
  afterAll(() => idp.close());

  it('gives each organization its own user for the same person, through its own client', async () => {
    const person = { email: 'ada@example.com', sub: 'ada-1' };

    const atAcme = claimsOf(await exchange(t.app, acme.apiKey, { token: await idp.getIdToken(person) }));
    const atGlobex = claimsOf(
      await exchange(t.app, globex.apiKey, {
        token: await idp.getIdToken(person, { clientId: 'globex-app' }),
      }),
    );

    expect(atAcme.org_id).toBe(acme.orgId);
    expect(atGlobex.org_id).toBe(globex.orgId);
    expect(atAcme.user_id).not.toBe(atGlobex.user_id);
    expect([atAcme.email, atGlobex.email]).toEqual(['ada@example.com', 'ada@example.com']);
  });

  it("refuses a token issued to one organization's client with the other organization's key (org_mismatch), writing nothing", async () => {
    const token = await idp.getIdToken({ email: 'mallory@example.com' });
    t.store.resetWrites();

    expectFailsWith(
      await exchange(t.app, globex.apiKey, { token }),
      403,
      'org_mismatch',
      "The token's issuer and client are registered to a different organization than the API key's.",
    );
    expect(t.store.writes).toEqual([]);
  });

  it('answers issuer_not_registered for a client of the shared issuer that no organization registered, fetching nothing', async () => {
    const token = await idp.getIdToken({ email: 'stray@example.com' }, { clientId: 'stray-app' });
    const other = await registerOrganization(t.app, {
      name: 'Initech',
      issuer: `${idp.issuer}/tenant-without-exchanges`,
    });
    idp.resetRequestCounts();
    t.store.resetWrites();

    expectFailsWith(
      await exchange(t.app, other.apiKey, { token }),
      403,
      'issuer_not_registered',
      "No organization registers the token's issuer for a client in its audience.",
    );
    expect(idp.requestCounts.total).toBe(0);
    expect(t.store.writes).toEqual([]);
  });

  it('refuses with 409 conflict a third organization claiming a taken client id, or the shared issuer without client ids', async () => {
    for (const body of [
      { name: 'Copycat', issuer: idp.issuer, client_ids: ['other-app', 'acme-app'] },
      { name: 'Greedy', issuer: idp.issuer },
      { name: 'Trailing slash', issuer: `${idp.issuer}/`, client_ids: ['globex-app'] },
    ]) {
      const response = await request(t.app).post('/identity/organizations').set(admin).send(body);
      expectFailsWith(response, 409, 'conflict');
    }
    expect((await t.store.findIssuerRegistrations(idp.issuer)).map((found) => found.orgId).sort()).toEqual(
      [acme.orgId, globex.orgId].sort(),
    );
  });

  it('refuses a second organization on an issuer registered without client ids until that one names them', async () => {
    const issuer = await startLocalIssuer();
    try {
      const owner = await registerOrganization(t.app, { name: 'Owner', issuer: issuer.issuer });
      const newcomer = await registerOrganization(t.app, {
        name: 'Newcomer',
        issuer: `${issuer.issuer}/other`,
      });

      expectFailsWith(
        await addIssuer(t, newcomer.orgId, { issuer: issuer.issuer, client_ids: ['newcomer-app'] }),
        409,
        'conflict',
        /without client_ids/,
      );

      const [registration] = (await listIssuers(t, owner.orgId)).body.issuers;
      expect((await removeIssuer(t, owner.orgId, registration.issuer_id)).status).toBe(200);
      expect(
        (await addIssuer(t, owner.orgId, { issuer: issuer.issuer, client_ids: ['owner-app'] })).status,
      ).toBe(201);
      expect(
        (await addIssuer(t, newcomer.orgId, { issuer: issuer.issuer, client_ids: ['newcomer-app'] })).status,
      ).toBe(201);
    } finally {
      await issuer.close();
    }
  });
});

describe('several issuers per organization', () => {
  let customers: LocalIssuer;
  let staff: LocalIssuer;
  let t: TestApp;
  let org: { orgId: string; apiKey: string };

  beforeAll(async () => {
    [customers, staff] = await Promise.all([startLocalIssuer(), startLocalIssuer()]);
    t = createTestApp();
    org = await registerOrganization(t.app, {
      name: 'Acme',
      issuer: customers.issuer,
      client_ids: ['partner-app'],
    });
  });
  afterAll(async () => {
    await Promise.all([customers.close(), staff.close()]);
  });

  it('adds an issuer with its own settings, lists both, and exchanges tokens of each', async () => {
    const added = await addIssuer(t, org.orgId, {
      issuer: staff.issuer,
      client_ids: ['staff-portal'],
      allowed_algorithms: ['RS256'],
      email_linking: 'never',
      subject_claim: 'oid',
      trust_username_claims: true,
    });

    expect(added.status).toBe(201);
    expect(added.body).toEqual({
      issuer_id: expect.any(String),
      org_id: org.orgId,
      issuer: staff.issuer,
      client_ids: ['staff-portal'],
      allowed_algorithms: ['RS256'],
      email_linking: 'never',
      subject_claim: 'oid',
      trust_username_claims: true,
      link_scope: 'issuer',
      condition: null,
      claim_mappings: {},
      policy_version: 1,
      created_at: expect.any(String),
    });
    const listed = await listIssuers(t, org.orgId);
    expect(listed.status).toBe(200);
    // Oldest first; both were created within the same second here, so their order is not asserted.
    expect(listed.body.issuers).toHaveLength(2);
    expect(listed.body.issuers).toContainEqual(added.body);
    expect(listed.body.issuers).toContainEqual(
      expect.objectContaining({
        issuer: customers.issuer,
        subject_claim: 'sub',
        trust_username_claims: false,
      }),
    );

    const customer = claimsOf(
      await exchange(t.app, org.apiKey, { token: await customers.sign(idTokenClaims(customers.issuer)) }),
    );
    const employee = claimsOf(
      await exchange(t.app, org.apiKey, {
        token: await staff.sign(
          idTokenClaims(staff.issuer, { aud: 'staff-portal', oid: 'oid-1', email: 'emp@example.com' }),
        ),
      }),
    );
    expect(customer.org_id).toBe(org.orgId);
    expect(employee.org_id).toBe(org.orgId);
    expect(employee.user_id).not.toBe(customer.user_id);
  });

  it('keys users by the subject claim: two clients of one tenant with one oid and different subs are one user, without email linking', async () => {
    const tenant = await startLocalIssuer();
    try {
      await addIssuer(t, org.orgId, {
        issuer: tenant.issuer,
        client_ids: ['web-app', 'mobile-app'],
        email_linking: 'never',
        subject_claim: 'oid',
      }).expect(201);
      const person = { oid: 'stable-oid', email: 'kate@corp.example' };

      const viaWeb = claimsOf(
        await exchange(t.app, org.apiKey, {
          token: await tenant.sign(
            idTokenClaims(tenant.issuer, { ...person, aud: 'web-app', sub: 'pairwise-web' }),
          ),
        }),
      );
      const viaMobile = claimsOf(
        await exchange(t.app, org.apiKey, {
          token: await tenant.sign(
            idTokenClaims(tenant.issuer, { ...person, aud: 'mobile-app', sub: 'pairwise-mobile' }),
          ),
        }),
      );
      expect(viaMobile.user_id).toBe(viaWeb.user_id);

      // Another oid with the same email is another identity; `never` refuses to link it.
      t.store.resetWrites();
      const impostor = await exchange(t.app, org.apiKey, {
        token: await tenant.sign(
          idTokenClaims(tenant.issuer, { ...person, aud: 'web-app', oid: 'other-oid' }),
        ),
      });
      expectFailsWith(impostor, 409, 'account_conflict');

      const withoutOid = await exchange(t.app, org.apiKey, {
        token: await tenant.sign(idTokenClaims(tenant.issuer, { aud: 'web-app' })),
      });
      expectFailsWith(withoutOid, 400, 'invalid_token', 'The token must contain a oid claim.');
      expect(t.store.writes).toEqual(['findOrCreateUser']);
    } finally {
      await tenant.close();
    }
  });

  it('refuses a token of a client the organization did not register for that issuer with invalid_audience', async () => {
    t.store.resetWrites();
    const response = await exchange(t.app, org.apiKey, {
      token: await staff.sign(idTokenClaims(staff.issuer, { aud: 'partner-app', oid: 'x' })),
    });

    expectFailsWith(response, 401, 'invalid_audience');
    expect(t.store.writes).toEqual([]);
  });

  it('removing an issuer stops its exchanges at once and keeps the others', async () => {
    const listed = await listIssuers(t, org.orgId);
    const staffRegistration = listed.body.issuers.find(
      (found: { issuer: string }) => found.issuer === staff.issuer,
    );
    // Its own address: with link_scope "issuer", a staff identity does not link to a customer's user.
    const token = await staff.sign(
      idTokenClaims(staff.issuer, { aud: 'staff-portal', oid: 'oid-1', email: 'emp@example.com' }),
    );
    expect((await exchange(t.app, org.apiKey, { token })).status).toBe(200);

    const removed = await removeIssuer(t, org.orgId, staffRegistration.issuer_id);
    expect(removed.status).toBe(200);
    expect(removed.body).toEqual({
      org_id: org.orgId,
      issuer_id: staffRegistration.issuer_id,
      removed: true,
    });

    staff.counts.discovery = 0;
    staff.counts.jwks = 0;
    expectFailsWith(await exchange(t.app, org.apiKey, { token }), 403, 'issuer_not_registered');
    expect(staff.counts).toMatchObject({ discovery: 0, jwks: 0 });
    expect(
      (await exchange(t.app, org.apiKey, { token: await customers.sign(idTokenClaims(customers.issuer)) }))
        .status,
    ).toBe(200);
    expectFailsWith(await removeIssuer(t, org.orgId, staffRegistration.issuer_id), 404, 'not_found');
  });

  it('answers the documented errors on the issuer routes and writes nothing', async () => {
    const other = await registerOrganization(t.app, { name: 'Other', issuer: `${customers.issuer}/other` });
    const before = (await listIssuers(t, org.orgId)).body.issuers;
    const ownRegistration = before[0];
    t.store.resetWrites();

    expectFailsWith(
      await request(t.app)
        .post(`/identity/organizations/${org.orgId}/issuers`)
        .send({ issuer: staff.issuer }),
      401,
      'unauthorized',
    );
    expectFailsWith(await addIssuer(t, org.orgId, { issuer: 'not a url' }), 400, 'invalid_request');
    expectFailsWith(
      await addIssuer(t, org.orgId, { issuer: staff.issuer, subject_claim: 'email' }),
      400,
      'invalid_request',
      /subject_claim/,
    );
    expectFailsWith(
      await addIssuer(t, org.orgId, { issuer: staff.issuer, trust_username_claims: 'yes' }),
      400,
      'invalid_request',
      /trust_username_claims/,
    );
    expectFailsWith(
      await addIssuer(t, org.orgId, { issuer: staff.issuer, extra: 1 }),
      400,
      'invalid_request',
    );
    expectFailsWith(
      await addIssuer(t, '00000000-0000-4000-8000-000000000000', { issuer: staff.issuer }),
      404,
      'not_found',
    );
    expectFailsWith(
      await addIssuer(t, org.orgId, { issuer: `${customers.issuer}/`, client_ids: ['another-app'] }),
      409,
      'conflict',
      'The organization already registers this issuer; remove that registration to change it.',
    );
    expectFailsWith(await listIssuers(t, 'not-a-uuid'), 404, 'not_found');
    expectFailsWith(await removeIssuer(t, other.orgId, ownRegistration.issuer_id), 404, 'not_found');
    expect(t.store.writes.filter((write) => write !== 'addIssuerRegistration')).toEqual([]);
    expect((await listIssuers(t, org.orgId)).body.issuers).toEqual(before);
  });
});

describe('issuer registration from host code', () => {
  it('addIssuer, listIssuers and removeIssuer validate and behave as the admin routes do', async () => {
    const issuer = await startLocalIssuer();
    try {
      const t = createTestApp();
      const { exchange: host } = t.router;
      const { organization, apiKey } = await host.registerOrganization({
        name: 'Acme',
        issuer: `${issuer.issuer}/customers`,
      });
      t.store.resetWrites();

      expect(() =>
        host.addIssuer(organization.orgId, { issuer: issuer.issuer, subject_claim: 'upn' }),
      ).toThrow(/subject_claim/);
      expect(t.store.writes).toEqual([]);
      const added = await host.addIssuer(organization.orgId, {
        issuer: issuer.issuer,
        client_ids: ['partner-app'],
      });

      expect(await host.listIssuers(organization.orgId)).toContainEqual(added);
      const token = await issuer.sign(idTokenClaims(issuer.issuer));
      expect((await exchange(t.app, apiKey, { token })).status).toBe(200);
      expect(await host.removeIssuer(organization.orgId, added.registrationId)).toBe(true);
      expectFailsWith(await exchange(t.app, apiKey, { token }), 403, 'issuer_not_registered');
    } finally {
      await issuer.close();
    }
  });
});

describe('issuer removal across instances', () => {
  it('stops exchanges on another instance within lookupCacheTtlSeconds', async () => {
    const issuer = await startLocalIssuer();
    try {
      const shared = memoryStore();
      const options = { lookupCacheTtlSeconds: 1 };
      const first = createTestApp({ ...options, store: recordingStore(shared) });
      const second = createTestApp({ ...options, store: recordingStore(shared) });
      const org = await registerOrganization(first.app, { name: 'Acme', issuer: issuer.issuer });
      const token = await issuer.sign(idTokenClaims(issuer.issuer));
      expect((await exchange(second.app, org.apiKey, { token })).status).toBe(200);
      const [registration] = (await listIssuers(first, org.orgId)).body.issuers;

      expect((await removeIssuer(first, org.orgId, registration.issuer_id)).status).toBe(200);

      expectFailsWith(await exchange(first.app, org.apiKey, { token }), 403, 'issuer_not_registered');
      await new Promise((resolve) => setTimeout(resolve, 1_100));
      expectFailsWith(await exchange(second.app, org.apiKey, { token }), 403, 'issuer_not_registered');
    } finally {
      await issuer.close();
    }
  });
});

describe('organizations registered before issuer registrations existed', () => {
  it('keep exchanging after the SQL schema upgrades, with their issuer, client ids and linking policy', async () => {
    const issuer = await startLocalIssuer();
    const directory = mkdtempSync(join(tmpdir(), 'rialto-legacy-'));
    const filename = join(directory, 'rialto.db');
    try {
      await sqlStore({ dialect: 'sqlite', filename })
        .migrate()
        .then(() => undefined);
      const { shared: legacy } = legacyOrganizations();
      const org = {
        ...legacy,
        issuer: issuer.issuer,
        clientIds: ['partner-app'],
        emailLinking: 'never' as const,
      };
      const { apiKey, record } = generateApiKey(org.orgId, org.createdAt);
      writeVersion2SqliteOrganization(filename, org, record);

      const upgraded = sqlStore({ dialect: 'sqlite', filename });
      const t = createTestApp({ store: recordingStore(upgraded) });
      try {
        const claims = claimsOf(
          await exchange(t.app, apiKey, { token: await issuer.sign(idTokenClaims(issuer.issuer)) }),
        );
        expect(claims).toMatchObject({ org_id: org.orgId, org_name: org.name });
        expectFailsWith(
          await exchange(t.app, apiKey, {
            token: await issuer.sign(idTokenClaims(issuer.issuer, { aud: 'another-app' })),
          }),
          401,
          'invalid_audience',
        );
        // `never` carried over: a second identity with the same email is refused.
        expectFailsWith(
          await exchange(t.app, apiKey, {
            token: await issuer.sign(idTokenClaims(issuer.issuer, { sub: 'someone-else' })),
          }),
          409,
          'account_conflict',
        );
        expect((await listIssuers(t, org.orgId)).body.issuers).toEqual([
          expect.objectContaining({
            issuer_id: org.orgId,
            issuer: issuer.issuer,
            client_ids: ['partner-app'],
          }),
        ]);
      } finally {
        await upgraded.close();
      }
    } finally {
      await issuer.close();
      rmSync(directory, { recursive: true, force: true });
    }
  });
});
